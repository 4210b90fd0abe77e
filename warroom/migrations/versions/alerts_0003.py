"""alerts: the intake log and what processing each logged request did

Revision ID: alerts_0003
Revises: alerts_0002
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "alerts_0003"
down_revision = "alerts_0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("received_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("integration", sa.String(length=120), nullable=False),
        sa.Column("alerts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_log")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "intake_requests",
        sa.Column("id", _ID, autoincrement=False, nullable=False),
        sa.Column("integration", sa.String(length=120), nullable=False),
        sa.Column("received_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_requests")),
    )
    op.create_index(
        "ix_intake_requests_processed_at", "intake_requests", ["processed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_intake_requests_processed_at", table_name="intake_requests")
    op.drop_table("intake_requests")
    op.drop_table("intake_log")
