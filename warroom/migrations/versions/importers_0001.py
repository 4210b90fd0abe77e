"""importers: which warroom row each vendor object became

Revision ID: importers_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "importers_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_links",
        sa.Column("vendor", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("vendor_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("imported_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "kind", "vendor_id", name=op.f("pk_import_links")),
        sa.UniqueConstraint("vendor", "kind", "name", name="uq_import_links_name"),
    )


def downgrade() -> None:
    op.drop_table("import_links")
