"""oncall: people can be disabled (account deprovisioned): never paged, their shifts are gaps

Revision ID: oncall_people_disabled
Revises: oncall_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "oncall_people_disabled"
down_revision = "oncall_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oncall_people") as batch:
        batch.add_column(
            sa.Column("disabled_at", warroom.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("oncall_people") as batch:
        batch.drop_column("disabled_at")
