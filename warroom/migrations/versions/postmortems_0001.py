"""postmortems: post-mortem documents and action items

Revision ID: postmortems_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "postmortems_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _dt() -> warroom.core.db.UTCDateTime:
    return warroom.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("incident_id", _PK, nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requirement", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("root_cause_category", sa.String(length=60), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("updated_at", _dt(), nullable=False),
        sa.Column("submitted_at", _dt(), nullable=True),
        sa.Column("published_at", _dt(), nullable=True),
        sa.Column("reviewers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortems_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortems_incident_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_postmortems_public_id")),
    )
    op.create_index("ix_postmortems_status", "postmortems", ["status"])
    op.create_index("ix_postmortems_updated_at", "postmortems", ["updated_at"])
    op.create_table(
        "action_items",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("incident_id", _PK, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due_at", _dt(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=True),
        sa.Column("external", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("updated_at", _dt(), nullable=False),
        sa.Column("done_at", _dt(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_action_items_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
        sa.UniqueConstraint("source_key", name=op.f("uq_action_items_source_key")),
    )
    op.create_index("ix_action_items_incident", "action_items", ["incident_id"])
    op.create_index("ix_action_items_status_due", "action_items", ["status", "due_at"])
    op.create_index("ix_action_items_owner", "action_items", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_action_items_owner", table_name="action_items")
    op.drop_index("ix_action_items_status_due", table_name="action_items")
    op.drop_index("ix_action_items_incident", table_name="action_items")
    op.drop_table("action_items")
    op.drop_index("ix_postmortems_updated_at", table_name="postmortems")
    op.drop_index("ix_postmortems_status", table_name="postmortems")
    op.drop_table("postmortems")
