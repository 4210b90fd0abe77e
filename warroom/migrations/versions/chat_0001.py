"""chat: incident channels, linked users, delivery log, inbound requests, cursors

Revision ID: chat_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "chat_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = warroom.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_channels",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("incident", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("channel_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("summary_message_id", sa.String(length=255), nullable=True),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("archived_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_channels")),
        sa.UniqueConstraint("incident", "platform", name="uq_chat_channels_incident_platform"),
    )
    op.create_index("ix_chat_channels_channel", "chat_channels", ["platform", "channel_id"])
    op.create_table(
        "chat_links",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_user", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.Column("linked_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_links")),
        sa.UniqueConstraint("platform", "chat_user", name="uq_chat_links_platform_user"),
    )
    op.create_table(
        "chat_deliveries",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("outbox_id", _PK, nullable=True),
        sa.Column("incident", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_deliveries")),
    )
    op.create_index("ix_chat_deliveries_platform", "chat_deliveries", ["platform", "id"])
    op.create_index("ix_chat_deliveries_incident", "chat_deliveries", ["incident", "id"])
    op.create_table(
        "chat_inbound",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("seen_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_chat_inbound")),
    )
    op.create_table(
        "chat_cursors",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_chat_cursors")),
    )
    op.create_table(
        "chat_direct_rooms",
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_user", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_user", name=op.f("pk_chat_direct_rooms")),
    )


def downgrade() -> None:
    for name in (
        "chat_direct_rooms",
        "chat_cursors",
        "chat_inbound",
        "chat_deliveries",
        "chat_links",
        "chat_channels",
    ):
        op.drop_table(name)
