"""agents: api_tokens.kind ("token" or "agent") so an agent's actions show as agent:<name>

Revision ID: mcp_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mcp_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="token")
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("kind")
