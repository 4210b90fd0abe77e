"""workbench: changes

Revision ID: workbench_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "workbench_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("service", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    op.create_index(
        "ix_changes_service_occurred", "changes", ["service", "occurred_at"], unique=False
    )
    op.create_index("ix_changes_occurred", "changes", ["occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_changes_occurred", table_name="changes")
    op.drop_index("ix_changes_service_occurred", table_name="changes")
    op.drop_table("changes")
