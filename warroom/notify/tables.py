"""The delivery log: every attempt to deliver a notification, per channel (never the URL)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("outbox_id", PK),
    Column("incident", String(32)),
    Column("recipient", String(200), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Index("ix_notify_deliveries_incident", "incident", "id"),
)
