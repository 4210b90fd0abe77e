"""Identity tables: accounts known to the identity provider, OIDC links and requests, SCIM groups.

They extend the web package's users (`web_users`): a row here never exists without its user.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

# A web user as the identity provider knows them (SCIM resource or first OIDC sign-in).
accounts = Table(
    "identity_accounts",
    metadata,
    Column("user_id", PK, ForeignKey("web_users.id", ondelete="CASCADE"), primary_key=True),
    Column("scim_id", String(36), nullable=False, unique=True),
    # SCIM userName (often an email address); unique without regard to case (stored lowercase).
    Column("user_name", String(320), nullable=False, unique=True),
    Column("external_id", String(255)),
    Column("display_name", String(200)),
    Column("given_name", String(200)),
    Column("family_name", String(200)),
    # The primary email (lowercase, for matching sign-ins) and every email as SCIM sent them.
    Column("email", String(320)),
    Column("emails", JSON, nullable=False),
    # The on-call person this account pages (same name as the web user), when there is one.
    Column("person", String(80)),
    # Bumped on every change: the SCIM ETag (W/"<version>").
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_identity_accounts_email", "email"),
)

# Which OIDC subject signs in as which user.
links = Table(
    "identity_links",
    metadata,
    Column("issuer", String(500), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", PK, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=False),
)

# A sign-in in progress: what the callback must find again (state is stored hashed).
oidc_requests = Table(
    "identity_oidc_requests",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_url", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_identity_oidc_requests_expires_at", "expires_at"),
)

scim_groups = Table(
    "identity_scim_groups",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("scim_id", String(36), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, unique=True),
    Column("external_id", String(255)),
    # The on-call team kept in step with this group's members (when groups become teams).
    Column("team", String(80)),
    # Nested groups (their SCIM ids): kept and returned, not expanded into roles or teams.
    Column("member_groups", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

scim_group_members = Table(
    "identity_scim_group_members",
    metadata,
    Column(
        "group_id",
        PK,
        ForeignKey("identity_scim_groups.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", PK, ForeignKey("web_users.id", ondelete="CASCADE"), primary_key=True),
)
