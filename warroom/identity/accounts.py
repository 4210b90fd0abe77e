"""People as the identity provider knows them: sign-in mapping, roles from groups, disabling.

Pure helpers (role mapping, user-name slugs) and functions that work inside the caller's
transaction (`conn`); the routes and the SCIM service own the transactions.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from warroom.core import audit, tables
from warroom.core.settings import Settings
from warroom.identity import tables as it
from warroom.identity.oidc import Identity, SignInError
from warroom.web import users
from warroom.web.tables import web_sessions, web_users

ROLE_ORDER = ("admin", "responder", "viewer")
_SLUG_CHARS = re.compile(r"[^a-z0-9._-]+")


def _group_set(value: str) -> set[str]:
    return {g.strip().lower() for g in value.split(",") if g.strip()}


def role_mapping_configured(settings: Settings) -> bool:
    return bool(
        settings.admin_groups
        or settings.responder_groups
        or settings.viewer_groups
        or settings.default_role
    )


def role_for_groups(groups: Iterable[str], settings: Settings) -> str | None:
    """The highest role any of `groups` grants (case-insensitive), else the default role."""
    have = {g.strip().lower() for g in groups}
    wanted = {
        "admin": _group_set(settings.admin_groups),
        "responder": _group_set(settings.responder_groups),
        "viewer": _group_set(settings.viewer_groups),
    }
    for role in ROLE_ORDER:
        if have & wanted[role]:
            return role
    return settings.default_role


def slug_for(conn: Connection, *candidates: str | None) -> str:
    """A free web user name from the first usable candidate (an email's local part, a name)."""
    base = ""
    for candidate in candidates:
        if not candidate:
            continue
        text = candidate.strip().lower().split("@", 1)[0]
        text = _SLUG_CHARS.sub("-", text).strip("-._")[:60]
        if text and text[0].isalnum():
            base = text
            break
    base = base or "user"
    name, n = base, 1
    while conn.execute(select(web_users.c.id).where(web_users.c.name == name)).first():
        n += 1
        name = f"{base}-{n}"
    return name


def create_user(
    conn: Connection, *, name: str, role: str, created_by: str, now: datetime
) -> dict[str, Any]:
    """A web user who signs in through the identity provider: a random password nobody knows."""
    return users.create_user(
        conn,
        name=name,
        password=secrets.token_urlsafe(32),
        role=role,
        created_by=created_by,
        now=now,
    )


def ensure_account(
    conn: Connection,
    user_id: int,
    *,
    user_name: str,
    email: str | None,
    display_name: str | None,
    now: datetime,
) -> None:
    """Give a user an identity account row (the SCIM view of them) if they have none."""
    if conn.execute(select(it.accounts.c.user_id).where(it.accounts.c.user_id == user_id)).first():
        return
    taken = conn.execute(
        select(it.accounts.c.user_id).where(it.accounts.c.user_name == user_name.lower())
    ).first()
    conn.execute(
        insert(it.accounts).values(
            user_id=user_id,
            scim_id=str(uuid.uuid4()),
            user_name=(f"{user_name.lower()}#{user_id}" if taken else user_name.lower()),
            email=email,
            emails=[{"value": email, "type": "work", "primary": True}] if email else [],
            display_name=display_name,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )


def sign_in(
    conn: Connection, identity: Identity, settings: Settings, now: datetime
) -> tuple[str, users.Session]:
    """Find (or create) the user the provider vouches for, set their role, open a session."""
    link = conn.execute(
        select(it.links.c.user_id).where(
            it.links.c.issuer == identity.issuer, it.links.c.subject == identity.subject
        )
    ).first()
    user = None
    if link is not None:
        user = conn.execute(select(web_users).where(web_users.c.id == link.user_id)).first()
    if user is None and identity.email and identity.email_verified:
        # Someone provisioned by SCIM or created by an admin, signing in for the first time.
        a = it.accounts
        found = conn.execute(
            select(a.c.user_id).where(
                (a.c.email == identity.email) | (a.c.user_name == identity.email)
            )
        ).first()
        if found is not None:
            user = conn.execute(select(web_users).where(web_users.c.id == found.user_id)).first()
    mapped = role_for_groups(identity.groups, settings)
    if user is None:
        if not settings.oidc_create_users:
            raise SignInError(
                "no_account",
                "You signed in at the identity provider, but you have no warroom account yet. "
                "Ask a warroom admin to create one.",
                f"no user for {identity.subject} ({identity.email}); oidc_create_users is off",
            )
        if mapped is None:
            raise _no_role(identity)
        name = slug_for(conn, identity.preferred_username, identity.email, identity.name)
        created = create_user(conn, name=name, role=mapped, created_by="oidc", now=now)
        user = conn.execute(select(web_users).where(web_users.c.id == created["id"])).first()
        assert user is not None
        ensure_account(
            conn,
            int(user.id),
            user_name=identity.email or name,
            email=identity.email,
            display_name=identity.name,
            now=now,
        )
    if user.disabled_at is not None:
        raise SignInError(
            "disabled",
            "Your warroom account is disabled. Ask a warroom admin if this is a mistake.",
            f"disabled user {user.name} signed in as {identity.subject}",
        )
    role = user.role
    if mapped is not None and mapped != user.role:
        role = mapped
        conn.execute(update(web_users).where(web_users.c.id == user.id).values(role=role))
        audit.record(
            conn,
            actor="oidc",
            action="user.role",
            target=f"user:{user.name}",
            now=now,
            details={"from": user.role, "to": role, "groups": list(identity.groups)},
        )
    elif mapped is None and role_mapping_configured(settings):
        raise _no_role(identity)
    if link is None:
        conn.execute(
            insert(it.links).values(
                issuer=identity.issuer,
                subject=identity.subject,
                user_id=user.id,
                created_at=now,
                last_login_at=now,
            )
        )
    else:
        conn.execute(
            update(it.links)
            .where(it.links.c.issuer == identity.issuer, it.links.c.subject == identity.subject)
            .values(last_login_at=now)
        )
    return users.open_session(conn, int(user.id), user.name, role, now)


def _no_role(identity: Identity) -> SignInError:
    return SignInError(
        "no_role",
        "You are not in any group that may use warroom. Ask your identity provider's admin to "
        "add you to warroom's admin, responder or viewer group.",
        f"groups {list(identity.groups)} of {identity.subject} map to no role",
    )


def disable_user(conn: Connection, user_id: int, *, actor: str, now: datetime) -> str | None:
    """Disable a user at once: sessions deleted, their API tokens revoked, logins refused.

    The one way to disable a person (SCIM deprovisioning and the admin's disable both call
    it). Returns the user's name, or None when there is no such user. Idempotent.
    """
    row = conn.execute(select(web_users).where(web_users.c.id == user_id)).first()
    if row is None:
        return None
    if row.disabled_at is None:
        conn.execute(update(web_users).where(web_users.c.id == user_id).values(disabled_at=now))
        audit.record(conn, actor=actor, action="user.disable", target=f"user:{row.name}", now=now)
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
    t = tables.api_tokens
    conn.execute(
        update(t)
        .where(t.c.created_by == f"user:{row.name}", t.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return str(row.name)


def enable_user(conn: Connection, user_id: int, *, actor: str, now: datetime) -> str | None:
    """Let a disabled user sign in again (tokens revoked on disabling stay revoked)."""
    row = conn.execute(select(web_users).where(web_users.c.id == user_id)).first()
    if row is None:
        return None
    if row.disabled_at is not None:
        conn.execute(update(web_users).where(web_users.c.id == user_id).values(disabled_at=None))
        audit.record(conn, actor=actor, action="user.enable", target=f"user:{row.name}", now=now)
    return str(row.name)


def team_slug(display_name: str) -> str:
    """The on-call team name for a SCIM group ("SRE On-Call" -> "sre-on-call")."""
    text = _SLUG_CHARS.sub("-", display_name.strip().lower()).strip("-._")[:80]
    return text if text and text[0].isalnum() else f"group-{text}"[:80]
