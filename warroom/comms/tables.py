"""Status page tables: components and their states over time, public incidents and their
updates, maintenance, subscribers, and the secret that signs subscription links."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    true,
)

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

status_components = Table(
    "status_components",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("slug", String(60), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("group_name", String(200)),
    Column("service", String(120), unique=True),
    Column("position", Integer, nullable=False, default=0),
    # A status set by hand; incidents and maintenance raise it further when worse.
    Column("status", String(30), nullable=False),
    Column("showcase", Boolean, nullable=False, default=True),
    Column("only_show_if_degraded", Boolean, nullable=False, default=False),
    Column("archived", Boolean, nullable=False, default=False),
    # A draft (False) is on no public page, feed or API until an admin publishes it.
    Column("published", Boolean, nullable=False, default=True, server_default=true()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Every state set by hand, from when it holds: the uptime bars replay it with the incidents.
component_states = Table(
    "status_component_states",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column(
        "component_id",
        PK,
        ForeignKey("status_components.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", String(30), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Index("ix_status_component_states_component_since", "component_id", "since"),
)

public_incidents = Table(
    "public_incidents",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),
    # The internal incident this one tells the public about (never shown publicly).
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="SET NULL"), unique=True),
    Column("name", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("impact", String(10), nullable=False),
    Column("components", JSON, nullable=False),
    Column("component_status", String(30), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("monitoring_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Index("ix_public_incidents_resolved_at", "resolved_at"),
)

public_incident_updates = Table(
    "public_incident_updates",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),
    Column(
        "public_incident_id",
        PK,
        ForeignKey("public_incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("display_at", UTCDateTime, nullable=False),
    Index("ix_public_incident_updates_created", "created_at"),
)

maintenances = Table(
    "status_maintenances",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("components", JSON, nullable=False),
    Column("scheduled_for", UTCDateTime, nullable=False),
    Column("scheduled_until", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_status_maintenances_until", "scheduled_until"),
)

subscribers = Table(
    "status_subscribers",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),  # email | webhook
    Column("target", String(500), nullable=False),
    Column("components", JSON, nullable=False),  # empty: every component
    Column("status", String(15), nullable=False),  # pending | confirmed | unsubscribed
    # Part of every signed link; rotating it invalidates links sent before.
    Column("nonce", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("unsubscribed_at", UTCDateTime),
    Index("ix_status_subscribers_kind_target", "kind", "target"),
    Index("ix_status_subscribers_status", "status"),
)
