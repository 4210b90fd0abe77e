"""comms: draft components (published flag) and the history of states set by hand

Revision ID: comms_0002
Revises: comms_0001
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "comms_0002"
down_revision = "comms_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_components") as batch:
        # Components that existed before drafts were already public: they stay published.
        batch.add_column(
            sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "status_component_states",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "component_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("since", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["status_components.id"],
            name=op.f("fk_status_component_states_component_id_status_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_component_states")),
    )
    op.create_index(
        "ix_status_component_states_component_since",
        "status_component_states",
        ["component_id", "since"],
        unique=False,
    )
    # Each existing component's current state, from its last change: its best-known history.
    op.execute(
        "INSERT INTO status_component_states (component_id, status, since, actor) "
        "SELECT id, status, updated_at, 'migration' FROM status_components"
    )


def downgrade() -> None:
    op.drop_index(
        "ix_status_component_states_component_since", table_name="status_component_states"
    )
    op.drop_table("status_component_states")
    with op.batch_alter_table("status_components") as batch:
        batch.drop_column("published")
