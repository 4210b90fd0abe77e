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
from warroom.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from warroom.core.tables import api_tokens
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


# ---- the user lifecycle: passwords, disable/enable, role, delete ------------------------
# Each function runs inside the caller's transaction and writes its audit entry there.


def _user_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(web_users).where(web_users.c.name == name.strip().lower())).first()
    if row is None:
        raise NotFound(f"no user {name.strip().lower()}")
    return row


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")


def _end_sessions(conn: Connection, user_id: int, keep: str | None = None) -> int:
    """Log the user out everywhere (but the session `keep`, the id from its cookie)."""
    query = delete(web_sessions).where(web_sessions.c.user_id == user_id)
    if keep:
        query = query.where(web_sessions.c.id_hash != _hash_id(keep))
    return int(conn.execute(query).rowcount or 0)


def _revoke_tokens(conn: Connection, name: str, now: datetime) -> int:
    """Revoke the API tokens the user created: they stop working with the user's access."""
    t = api_tokens
    result = conn.execute(
        update(t)
        .where(t.c.created_by == f"user:{name}", t.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


def _other_enabled_admins(conn: Connection, name: str) -> int:
    u = web_users
    rows = conn.execute(
        select(u.c.id).where(u.c.role == "admin", u.c.disabled_at.is_(None), u.c.name != name)
    ).all()
    return len(rows)


def _keep_an_admin(conn: Connection, row: Any, doing: str) -> None:
    if (
        row.role == "admin"
        and row.disabled_at is None
        and not _other_enabled_admins(conn, row.name)
    ):
        raise Conflict(
            f"{row.name} is the last enabled admin; {doing} would lock everyone out of "
            "user management (make another admin first)",
            code="last_admin",
        )


def _not_yourself(actor: str, row: Any, doing: str) -> None:
    if actor == f"user:{row.name}":
        raise Conflict(f"you cannot {doing} yourself; ask another admin", code="self")


def reset_password(
    conn: Connection, name: str, password: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    """An admin sets a new password; the user's sessions end (API tokens are unchanged)."""
    row = _user_row(conn, name)
    _check_password(password)
    conn.execute(
        update(web_users)
        .where(web_users.c.id == row.id)
        .values(password_hash=_hasher.hash(password))
    )
    ended = _end_sessions(conn, int(row.id))
    audit.record(conn, actor=actor, action="user.reset_password", target=f"user:{row.name}",
                 now=now, details={"sessions_ended": ended})  # fmt: skip
    return {"name": row.name, "sessions_ended": ended}


def change_own_password(
    conn: Connection,
    name: str,
    current: str,
    new: str,
    *,
    now: datetime,
    keep_session: str | None = None,
) -> dict[str, Any]:
    """A user changes their password, proving the current one; their other sessions end."""
    row = conn.execute(select(web_users).where(web_users.c.name == name.strip().lower())).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, current)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        row = None
    if row is None or row.disabled_at is not None:
        raise Unauthorized("the current password is wrong")
    _check_password(new)
    conn.execute(
        update(web_users).where(web_users.c.id == row.id).values(password_hash=_hasher.hash(new))
    )
    ended = _end_sessions(conn, int(row.id), keep=keep_session)
    audit.record(conn, actor=f"user:{row.name}", action="user.change_password",
                 target=f"user:{row.name}", now=now, details={"sessions_ended": ended})  # fmt: skip
    return {"name": row.name, "sessions_ended": ended}


def disable_user(conn: Connection, name: str, *, actor: str, now: datetime) -> dict[str, Any]:
    """Stop a user at once: no login, their sessions end, the API tokens they created are
    revoked. Idempotent; the last enabled admin cannot be disabled, nor can you disable
    yourself."""
    row = _user_row(conn, name)
    _not_yourself(actor, row, "disable")
    _keep_an_admin(conn, row, "disabling them")
    if row.disabled_at is None:
        conn.execute(update(web_users).where(web_users.c.id == row.id).values(disabled_at=now))
    ended = _end_sessions(conn, int(row.id))
    revoked = _revoke_tokens(conn, row.name, now)
    audit.record(conn, actor=actor, action="user.disable", target=f"user:{row.name}", now=now,
                 details={"sessions_ended": ended, "tokens_revoked": revoked})  # fmt: skip
    return {"name": row.name, "disabled": True, "sessions_ended": ended, "tokens_revoked": revoked}


def enable_user(conn: Connection, name: str, *, actor: str, now: datetime) -> dict[str, Any]:
    """Let a disabled user log in again (tokens revoked when they were disabled stay revoked)."""
    row = _user_row(conn, name)
    conn.execute(update(web_users).where(web_users.c.id == row.id).values(disabled_at=None))
    audit.record(conn, actor=actor, action="user.enable", target=f"user:{row.name}", now=now)
    return {"name": row.name, "disabled": False}


def change_role(
    conn: Connection, name: str, role: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    """A new role, effective on the user's next request (sessions read it each time)."""
    row = _user_row(conn, name)
    check_role(role)
    if role != "admin":
        _keep_an_admin(conn, row, "taking their admin role")
    conn.execute(update(web_users).where(web_users.c.id == row.id).values(role=role))
    audit.record(conn, actor=actor, action="user.change_role", target=f"user:{row.name}",
                 now=now, details={"from": row.role, "to": role})  # fmt: skip
    return {"name": row.name, "role": role}


def delete_user(conn: Connection, name: str, *, actor: str, now: datetime) -> dict[str, Any]:
    """Remove a user: sessions end, their tokens are revoked, the name can be reused.
    What they did stays on the timelines and in the audit log under their name."""
    row = _user_row(conn, name)
    _not_yourself(actor, row, "delete")
    _keep_an_admin(conn, row, "deleting them")
    _end_sessions(conn, int(row.id))
    revoked = _revoke_tokens(conn, row.name, now)
    conn.execute(delete(web_users).where(web_users.c.id == row.id))
    audit.record(conn, actor=actor, action="user.delete", target=f"user:{row.name}", now=now,
                 details={"role": row.role, "tokens_revoked": revoked})  # fmt: skip
    return {"name": row.name, "deleted": True, "tokens_revoked": revoked}
