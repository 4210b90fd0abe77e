"""All tables (SQLAlchemy Core). Alembic migrations in warroom/migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from warroom.core.db import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger primary keys become INTEGER (rowid) on SQLite.
PK = BigInteger().with_variant(Integer(), "sqlite")

incidents = Table(
    "incidents",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("severity", String(32), nullable=False),
    Column("severity_rank", Integer, nullable=False),
    Column("type", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("services", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("declared_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("mitigated_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", JSON, nullable=False),
    Index("ix_incidents_open_rank", "is_open", "severity_rank", "id"),
    Index("ix_incidents_status", "status", "id"),
    Index("ix_incidents_declared_at", "declared_at"),
)

incident_services = Table(
    "incident_services",
    metadata,
    Column("service", String(120), primary_key=True),
    Column(
        "incident_id",
        PK,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

events = Table(
    "events",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(60), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("data", JSON, nullable=False),
    UniqueConstraint("incident_id", "seq"),
    Index("ix_events_type_occurred", "type", "occurred_at"),
)

id_sequences = Table(
    "id_sequences",
    metadata,
    Column("scope", String(40), primary_key=True),
    Column("last_value", Integer, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    # "token" (a person or a script) or "agent" (an AI assistant, shown as agent:<name>);
    # added by the agents package's migration mcp_0001.
    Column("kind", String(16), nullable=False, server_default="token"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("kind", String(60), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="CASCADE")),
    Column("dedup_key", String(255), unique=True),
    Column("status", String(12), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(100)),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index("ix_outbox_status_due", "status", "due_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(80), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_audit_log_at", "at"),
)

# The keyring (warroom.core.keyring): random keys that sign links, by name; hex, never logged.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("key", String(128), nullable=False),
)
