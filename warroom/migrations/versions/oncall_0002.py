"""oncall: service → escalation policy mappings, paging problems, iCal UIDs of imported shifts

Revision ID: oncall_0002
Revises: oncall_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "oncall_0002"
down_revision = "oncall_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_service_policies",
        sa.Column("service", sa.String(length=120), nullable=False),
        sa.Column("escalation_policy", sa.String(length=80), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_oncall_service_policies")),
    )
    op.create_table(
        "oncall_paging_problems",
        sa.Column("incident", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident", name=op.f("pk_oncall_paging_problems")),
    )
    with op.batch_alter_table("oncall_overrides") as batch:
        batch.add_column(sa.Column("ical_uid", sa.String(length=300), nullable=True))
        batch.create_index(
            "ix_oncall_overrides_schedule_uid", ["schedule_id", "ical_uid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oncall_overrides") as batch:
        batch.drop_index("ix_oncall_overrides_schedule_uid")
        batch.drop_column("ical_uid")
    op.drop_table("oncall_paging_problems")
    op.drop_table("oncall_service_policies")
