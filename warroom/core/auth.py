"""API tokens, scopes and the authenticated principal.

Tokens are 256-bit random strings; only their SHA-256 is stored (a fast hash is right for
high-entropy secrets; passwords use argon2). Scopes: `admin` ⊃ `responder` ⊃ `viewer`;
`ingest` only posts alerts; `scim` only provisions people and groups (`/scim/v2`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from warroom.core import audit, tables
from warroom.core.db import Database, serialise
from warroom.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

SCOPES = ("admin", "responder", "viewer", "ingest", "scim")
_IMPLIED: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "responder", "viewer", "ingest"}),
    "responder": frozenset({"responder", "viewer"}),
    "viewer": frozenset({"viewer"}),
    "ingest": frozenset({"ingest"}),
    # Provisioning by the identity provider (/scim/v2) only; not implied by admin.
    "scim": frozenset({"scim"}),
}
TOKEN_PREFIX = "wr_"
# A token belongs to a person or script ("token") or to an AI assistant ("agent").
TOKEN_KINDS = ("token", "agent")
_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Principal:
    """Who is acting: a token, a web session, the local CLI, or an agent."""

    name: str
    scopes: frozenset[str]
    token_id: int | None = None
    kind: str = "token"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_scopes(self) -> frozenset[str]:
        granted: set[str] = set()
        for scope in self.scopes:
            granted |= _IMPLIED.get(scope, frozenset())
        return frozenset(granted)

    def has(self, scope: str) -> bool:
        return scope in self.effective_scopes

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise Forbidden(
                f"this action needs the '{scope}' scope; {self.name} has "
                f"{', '.join(sorted(self.scopes)) or 'none'}"
            )

    @property
    def actor(self) -> str:
        """The name recorded on the timeline."""
        return self.name

    @property
    def is_agent(self) -> bool:
        """An AI assistant acting through an agent token (policy `agents` applies)."""
        return self.kind == "agent"


# The actor for what warroom does by itself (worker, automations).
SYSTEM = Principal(name="warroom", scopes=frozenset({"admin"}), kind="system")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(SCOPES)}",
            details={"scopes": scopes},
        )
    return sorted(set(scopes))


def create_token(
    conn: Connection,
    *,
    name: str,
    scopes: list[str],
    created_by: str,
    now: datetime,
    value: str | None = None,
    expires_at: datetime | None = None,
    kind: str = "token",
) -> tuple[int, str]:
    """Store a new token's hash; return (id, plaintext). The plaintext is never stored."""
    if not name.strip():
        raise InvalidInput("a token needs a name")
    scopes = validate_scopes(scopes)
    if kind not in TOKEN_KINDS:
        raise InvalidInput(f"unknown token kind {kind!r}; choose from {', '.join(TOKEN_KINDS)}")
    if kind == "agent":
        if not _AGENT_NAME.match(name.strip()):
            raise InvalidInput(
                "an agent's name is one word (letters, digits, . _ -), e.g. 'triage-bot'; "
                "it is shown on the timeline as agent:<name>"
            )
        if "admin" in scopes:
            # An admin agent could mint itself a person's token and leave its guardrails.
            raise InvalidInput(
                "an agent token cannot have the admin scope; give it responder or viewer",
                code="agent_scope_refused",
            )
    token = value or generate_token()
    result = conn.execute(
        insert(tables.api_tokens).values(
            name=name.strip(),
            token_hash=hash_token(token),
            prefix=token[:10],
            scopes=scopes,
            created_at=now,
            created_by=created_by,
            expires_at=expires_at,
            kind=kind,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0]), token


def authenticate(conn: Connection, token: str, now: datetime) -> Principal:
    """Resolve a bearer token to its principal or raise Unauthorized."""
    row = conn.execute(
        select(tables.api_tokens).where(tables.api_tokens.c.token_hash == hash_token(token))
    ).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("token expired")
    used = {"last_used_at": row.last_used_at}
    if row.kind == "agent":
        return Principal(
            name=f"agent:{row.name}",
            scopes=frozenset(row.scopes),
            token_id=row.id,
            kind="agent",
            extra=used,
        )
    return Principal(
        name=f"token:{row.name}", scopes=frozenset(row.scopes), token_id=row.id, extra=used
    )


# "Last used" is kept to this precision: at most one write per token per interval.
LAST_USED_PRECISION = timedelta(minutes=1)


def touch_token(conn: Connection, token_id: int, now: datetime) -> None:
    conn.execute(
        update(tables.api_tokens).where(tables.api_tokens.c.id == token_id).values(last_used_at=now)
    )


def record_use(db: Database, principal: Principal, now: datetime) -> None:
    """Note that a token was used, unless that was already noted within the last minute
    (so a busy token costs one write a minute, not one per request)."""
    if principal.token_id is None:
        return
    last = principal.extra.get("last_used_at")
    if isinstance(last, datetime) and now - last < LAST_USED_PRECISION:
        return
    with db.write() as conn:
        touch_token(conn, principal.token_id, now)


def list_tokens(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(tables.api_tokens).order_by(tables.api_tokens.c.id)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "prefix": r.prefix,
            "scopes": r.scopes,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "expires_at": r.expires_at,
            "revoked_at": r.revoked_at,
            "last_used_at": r.last_used_at,
            "kind": r.kind,
        }
        for r in rows
    ]


def _active_admin(now: datetime) -> Any:
    t = tables.api_tokens
    return select(t.c.id, t.c.scopes).where(
        t.c.revoked_at.is_(None),
        t.c.kind == "token",
        (t.c.expires_at.is_(None)) | (t.c.expires_at > now),
    )


def revoke_token(conn: Connection, token_id: int, now: datetime) -> None:
    """Revoke a token; the last working admin token is refused (it is the way back in)."""
    active_admins = [r.id for r in conn.execute(_active_admin(now)) if "admin" in r.scopes]
    if active_admins == [token_id]:
        raise Conflict(
            "this is the last admin token: revoking it would leave no way to administer "
            "warroom over the API. Create another admin token first "
            "(warroom token create NAME --scope admin), or set WARROOM_ADMIN_TOKEN to a new "
            "value and restart (see docs/identity.md)",
            code="last_admin_token",
        )
    result = conn.execute(
        update(tables.api_tokens)
        .where(tables.api_tokens.c.id == token_id, tables.api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount == 0:
        exists = conn.execute(
            select(tables.api_tokens.c.id).where(tables.api_tokens.c.id == token_id)
        ).first()
        if exists is None:
            raise NotFound(f"no token with id {token_id}")


def ensure_admin_token(conn: Connection, configured: str | None, now: datetime) -> str | None:
    """Make sure an admin token exists; return a new plaintext token only when one was created.

    With `configured` (WARROOM_ADMIN_TOKEN), that value is registered if it is not yet; without
    it, a token is generated on the first start only, and printed once by the caller.
    """
    serialise(conn, "warroom.first-admin-token")
    if configured:
        existing = conn.execute(
            select(tables.api_tokens.c.id).where(
                tables.api_tokens.c.token_hash == hash_token(configured)
            )
        ).first()
        if existing is None:
            create_token(
                conn,
                name="admin (WARROOM_ADMIN_TOKEN)",
                scopes=["admin"],
                created_by="system",
                now=now,
                value=configured,
            )
        return None
    any_admin = conn.execute(
        select(tables.api_tokens.c.id, tables.api_tokens.c.scopes).where(
            tables.api_tokens.c.revoked_at.is_(None)
        )
    ).all()
    if any("admin" in row.scopes for row in any_admin):
        return None
    token_id, token = create_token(
        conn, name="admin (first start)", scopes=["admin"], created_by="system", now=now
    )
    audit.record(
        conn,
        actor=SYSTEM.actor,
        action="token.create",
        target=f"token:{token_id}",
        now=now,
        details={"name": "admin (first start)", "scopes": ["admin"]},
    )
    return token
