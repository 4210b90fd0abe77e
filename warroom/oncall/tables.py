"""On-call tables: people, teams, schedules, overrides, escalation policies, pages, ack links."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

people = Table(
    "oncall_people",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("contact_methods", JSON, nullable=False),
    Column("preferences", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Set when the person's account is disabled (SCIM deprovisioning): never paged, and their
    # shifts show as gaps. Added by oncall_people_disabled.
    Column("disabled_at", UTCDateTime),
)

teams = Table(
    "oncall_teams",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("members", JSON, nullable=False),
    Column("manager", String(80)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

schedules = Table(
    "oncall_schedules",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("layers", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

overrides = Table(
    "oncall_overrides",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column(
        "schedule_id", PK, ForeignKey("oncall_schedules.id", ondelete="CASCADE"), nullable=False
    ),
    Column("user_name", String(80), nullable=False),
    Column("replaces", String(80)),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The calendar event an imported shift came from (UID and occurrence start): a re-import
    # replaces it instead of adding it again.
    Column("ical_uid", String(300)),
    Index("ix_oncall_overrides_schedule_end", "schedule_id", "end_at"),
    Index("ix_oncall_overrides_schedule_uid", "schedule_id", "ical_uid"),
)

escalation_policies = Table(
    "oncall_escalation_policies",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("levels", JSON, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contacts = Table(
    "oncall_contacts",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("targets", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Pages sent by hand (`warroom page`); incident pages are keyed by the incident itself.
pages = Table(
    "oncall_pages",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("target", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("severity", String(32)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("acknowledged_by", String(200)),
)

# Used one-click acknowledgement links (their nonce), so each works once.
used_links = Table(
    "oncall_used_links",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("used_at", UTCDateTime, nullable=False),
    Column("used_by", String(200), nullable=False),
)

# Escalation steps already carried out, so a step re-run after a crash does nothing twice.
fired = Table(
    "oncall_fired",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("fired_at", UTCDateTime, nullable=False),
)

# Which escalation policy pages for a service, set through the API/CLI/web (no restart); it
# takes precedence over the config file's `services[].escalation_policy`.
service_policies = Table(
    "oncall_service_policies",
    metadata,
    Column("service", String(120), primary_key=True),
    Column("escalation_policy", String(80), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Incidents whose policy says they must page but whose page reached nobody (no policy, an
# empty schedule, nobody with a contact method): the warning the dashboard shows until
# someone is paged or acknowledges.
paging_problems = Table(
    "oncall_paging_problems",
    metadata,
    Column("incident", String(32), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("problem", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
