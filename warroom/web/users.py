"""Web users and sessions: argon2 password hashes, server-side sessions, CSRF tokens.

A session id is 256 random bits kept only in an HttpOnly cookie; the database stores its
SHA-256 (like API tokens). Each session carries its own CSRF token for the forms it renders.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from warroom.core import audit
from warroom.core.auth import Principal
from warroom.core.db import serialise
from warroom.core.errors import Conflict, InvalidInput, Unauthorized
from warroom.web.tables import web_sessions, web_users

ROLES = ("admin", "responder", "viewer")
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 8
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Session:
    user_id: int
    name: str
    role: str
    csrf_token: str
    expires_at: datetime

    def principal(self) -> Principal:
        return Principal(
            name=f"user:{self.name}",
            scopes=frozenset({self.role}),
            kind="session",
            extra={"user": self.name, "csrf": self.csrf_token},
        )


def _hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    return role


def create_user(
    conn: Connection, *, name: str, password: str, role: str, created_by: str, now: datetime
) -> dict[str, Any]:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise InvalidInput("a user name is a lowercase slug (letters, digits, . _ -)")
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    exists = conn.execute(select(web_users.c.id).where(web_users.c.name == name)).first()
    if exists is not None:
        raise Conflict(f"user {name} already exists", code="user_exists")
    result = conn.execute(
        insert(web_users).values(
            name=name,
            password_hash=_hasher.hash(password),
            role=role,
            created_at=now,
            created_by=created_by,
        )
    )
    assert result.inserted_primary_key is not None
    user_id = int(result.inserted_primary_key[0])
    audit.record(
        conn,
        actor=created_by,
        action="user.create",
        target=f"user:{name}",
        now=now,
        details={"role": role},
    )
    return {"id": user_id, "name": name, "role": role}


def ensure_first_admin(conn: Connection, now: datetime) -> str | None:
    """On an empty user table, create `admin` with a random password and return it (once)."""
    serialise(conn, "warroom.first-web-admin")
    if conn.execute(select(web_users.c.id).limit(1)).first() is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user(conn, name="admin", password=password, role="admin", created_by="warroom", now=now)
    return password


def list_users(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(web_users).order_by(web_users.c.name)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "disabled_at": r.disabled_at,
            "last_login_at": r.last_login_at,
        }
        for r in rows
    ]


def login(conn: Connection, name: str, password: str, now: datetime) -> tuple[str, Session]:
    """Check the password and open a session; return (session id for the cookie, session)."""
    row = conn.execute(select(web_users).where(web_users.c.name == name.strip().lower())).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        ok = row is not None and row.disabled_at is None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        raise Unauthorized("wrong user name or password")
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(
            update(web_users)
            .where(web_users.c.id == row.id)
            .values(password_hash=_hasher.hash(password))
        )
    return open_session(conn, int(row.id), row.name, row.role, now)


def open_session(
    conn: Connection, user_id: int, name: str, role: str, now: datetime
) -> tuple[str, Session]:
    """Open a session for a user already authenticated (by password or an identity provider)."""
    conn.execute(update(web_users).where(web_users.c.id == user_id).values(last_login_at=now))
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session = Session(
        user_id=user_id,
        name=name,
        role=role,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + SESSION_LIFETIME,
    )
    conn.execute(
        insert(web_sessions).values(
            id_hash=_hash_id(session_id),
            user_id=session.user_id,
            csrf_token=session.csrf_token,
            created_at=now,
            expires_at=session.expires_at,
        )
    )
    return session_id, session


def lookup(conn: Connection, session_id: str, now: datetime) -> Session | None:
    s, u = web_sessions, web_users
    row = conn.execute(
        select(s.c.user_id, s.c.csrf_token, s.c.expires_at, u.c.name, u.c.role, u.c.disabled_at)
        .join(u, u.c.id == s.c.user_id)
        .where(s.c.id_hash == _hash_id(session_id))
    ).first()
    if row is None or row.expires_at <= now or row.disabled_at is not None:
        return None
    return Session(
        user_id=int(row.user_id),
        name=row.name,
        role=row.role,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


def logout(conn: Connection, session_id: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == _hash_id(session_id)))
