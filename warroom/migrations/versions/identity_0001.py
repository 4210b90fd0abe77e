"""identity: OIDC links and sign-in requests, accounts and groups provisioned by SCIM

Revision ID: identity_0001
Revises: web_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "identity_0001"
down_revision = "web_0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = warroom.core.db.UTCDateTime(timezone=True)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"],
        ["web_users.id"],
        name=op.f(f"fk_{table}_user_id_web_users"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "identity_accounts",
        sa.Column("user_id", _PK, nullable=False),
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("user_name", sa.String(length=320), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _user_fk("identity_accounts"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_identity_accounts")),
        sa.UniqueConstraint("scim_id", name=op.f("uq_identity_accounts_scim_id")),
        sa.UniqueConstraint("user_name", name=op.f("uq_identity_accounts_user_name")),
    )
    op.create_index("ix_identity_accounts_email", "identity_accounts", ["email"], unique=False)
    op.create_table(
        "identity_links",
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", _PK, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_login_at", _TS, nullable=False),
        _user_fk("identity_links"),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_identity_links")),
    )
    op.create_table(
        "identity_oidc_requests",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_url", sa.Text(), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_identity_oidc_requests")),
    )
    op.create_index(
        "ix_identity_oidc_requests_expires_at",
        "identity_oidc_requests",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "identity_scim_groups",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("member_groups", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_scim_groups")),
        sa.UniqueConstraint("scim_id", name=op.f("uq_identity_scim_groups_scim_id")),
        sa.UniqueConstraint("display_name", name=op.f("uq_identity_scim_groups_display_name")),
    )
    op.create_table(
        "identity_scim_group_members",
        sa.Column("group_id", _PK, nullable=False),
        sa.Column("user_id", _PK, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["identity_scim_groups.id"],
            name=op.f("fk_identity_scim_group_members_group_id_identity_scim_groups"),
            ondelete="CASCADE",
        ),
        _user_fk("identity_scim_group_members"),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_identity_scim_group_members")),
    )


def downgrade() -> None:
    op.drop_table("identity_scim_group_members")
    op.drop_table("identity_scim_groups")
    op.drop_index("ix_identity_oidc_requests_expires_at", table_name="identity_oidc_requests")
    op.drop_table("identity_oidc_requests")
    op.drop_table("identity_links")
    op.drop_index("ix_identity_accounts_email", table_name="identity_accounts")
    op.drop_table("identity_accounts")
