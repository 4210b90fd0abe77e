"""alerts: routing rules managed through the API and CLI; starts_at in the identity index

Revision ID: alerts_0002
Revises: alerts_0001
Create Date: 2026-12-06 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "alerts_0002"
down_revision = "alerts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_route_rules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_route_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_route_rules_name")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_identity")
        batch_op.create_index(
            "ix_alerts_identity", ["integration", "identity", "starts_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_identity")
        batch_op.create_index("ix_alerts_identity", ["integration", "identity"], unique=False)
    op.drop_table("alert_route_rules")
