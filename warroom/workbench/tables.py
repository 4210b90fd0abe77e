"""The workbench's tables: recorded changes (deploys, config, flags, infrastructure)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

changes = Table(
    "changes",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("service", String(120), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("version", String(200), nullable=False, default=""),
    Column("by", String(200), nullable=False, default=""),
    Column("link", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Index("ix_changes_service_occurred", "service", "occurred_at"),
    Index("ix_changes_occurred", "occurred_at"),
)
