"""Web users (argon2 password hashes) and server-side login sessions."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

web_users = Table(
    "web_users",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("disabled_at", UTCDateTime),
    Column("last_login_at", UTCDateTime),
)

# Only the SHA-256 of the session id is stored; the cookie holds the id itself.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", PK, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_web_sessions_expires_at", "expires_at"),
)
