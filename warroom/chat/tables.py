"""Chat tables: incident channels, linked chat users, the delivery log, inbound requests seen
(replays refused), sync cursors and direct rooms for private replies."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

channels = Table(
    "chat_channels",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("incident", String(32), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("channel_id", String(255), nullable=False),
    Column("name", String(120), nullable=False),
    Column("url", Text, nullable=False),
    Column("summary_message_id", String(255)),
    # Chat user ids invited so far (invites are not repeated).
    Column("members", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("archived_at", UTCDateTime),
    UniqueConstraint("incident", "platform", name="uq_chat_channels_incident_platform"),
    Index("ix_chat_channels_channel", "platform", "channel_id"),
)

links = Table(
    "chat_links",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("platform", String(20), nullable=False),
    Column("chat_user", String(255), nullable=False),
    Column("person", String(80), nullable=False),
    Column("linked_by", String(200), nullable=False),
    Column("linked_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "chat_user", name="uq_chat_links_platform_user"),
)

deliveries = Table(
    "chat_deliveries",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("outbox_id", PK),
    Column("incident", String(32)),
    Column("platform", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Index("ix_chat_deliveries_platform", "platform", "id"),
    Index("ix_chat_deliveries_incident", "incident", "id"),
)

# Inbound requests/events already handled: a replayed one is refused.
inbound = Table(
    "chat_inbound",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)

cursors = Table(
    "chat_cursors",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Matrix has no ephemeral messages: private replies go to a direct room with the person.
direct_rooms = Table(
    "chat_direct_rooms",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("chat_user", String(255), primary_key=True),
    Column("room_id", String(255), nullable=False),
)
