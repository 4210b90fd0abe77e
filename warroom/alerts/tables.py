"""Alert intake tables: integrations, alerts, groups, silences, heartbeats, counters."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

# Integrations created by API/CLI. Integrations from the config file live only in the config
# (their key hash or env var is there); names are unique across both.
alert_integrations = Table(
    "alert_integrations",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("key_hash", String(64), unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("options", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("rotated_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

# One row per notification group (integration + grouping key) -> its current incident.
alert_groups = Table(
    "alert_groups",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("group_hash", String(64), nullable=False, unique=True),
    Column("integration", String(120), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("integration", String(120), nullable=False),
    Column("kind", String(20), nullable=False),
    # The alert's identity in its integration (Alertmanager fingerprint, PagerDuty dedup_key).
    Column("identity", String(255), nullable=False),
    # Set while the alert is open (unique), NULL once resolved: one open alert per identity.
    Column("open_key", String(64), unique=True),
    Column("group_id", PK, ForeignKey("alert_groups.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("source_severity", String(40)),
    Column("severity", String(32)),
    Column("service", String(120)),
    Column("action", String(10), nullable=False),
    Column("route", String(120), nullable=False),
    Column("silence_id", PK, ForeignKey("alert_silences.id", ondelete="SET NULL")),
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("generator_url", Text),
    # With starts_at: "was this episode already resolved?" (stale re-deliveries) is one probe,
    # not a scan of every past episode of a flapping alert.
    Index("ix_alerts_identity", "integration", "identity", "starts_at"),
    Index("ix_alerts_incident", "incident_id", "status"),
    Index("ix_alerts_group", "group_id", "status"),
    Index("ix_alerts_status", "status", "id"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("author", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expired_at", UTCDateTime),
    Index("ix_alert_silences_ends_at", "ends_at"),
)

alert_heartbeats = Table(
    "alert_heartbeats",
    metadata,
    Column("integration", String(120), primary_key=True),
    Column("state", String(12), nullable=False),
    Column("last_seen", UTCDateTime),
    Column("timeout_seconds", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Monotonic counters per integration: received, deduplicated, silenced, ... (for /metrics).
alert_counters = Table(
    "alert_counters",
    metadata,
    Column("integration", String(120), primary_key=True),
    Column("counter", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Routing rules added through the API/CLI (`warroom routes add`), tried in `position` order
# before the config file's `alert_routes`. `rule` is a `domain.RouteRule` as JSON.
alert_route_rules = Table(
    "alert_route_rules",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("rule", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
)

# The intake log: webhooks acknowledged but not yet processed, in arrival order. A request is
# answered once its row is committed; the intake processor turns rows into alerts and
# incidents. On SQLite the log lives in a file of its own beside the database (`*.intake.db`)
# so that appending never waits for the processor's transactions; on PostgreSQL it is this
# table, and processed rows are deleted in the processing transaction.
intake_log = Table(
    "intake_log",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("integration", String(120), nullable=False),
    # The parsed alerts (`domain.alerts_to_json`): validated once, when the request came in.
    Column("alerts", Text, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused: the processed mark is "id <= last"
)

# What processing each logged request did, kept for a week (`GET /api/v1/alerts/requests/ID`).
# On SQLite the highest id here is also how far the log has been processed.
intake_requests = Table(
    "intake_requests",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=False),
    Column("integration", String(120), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=False),
    Column("result", JSON, nullable=False),
    Index("ix_intake_requests_processed_at", "processed_at"),
)
