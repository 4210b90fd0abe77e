"""Signed one-click acknowledgement links and calendar-feed keys (HMAC-SHA256).

A link token is `base64url(json).base64url(hmac)`; the JSON names the subject (an incident and
its paging generation, or a manual page), the person, a random nonce and the expiry. Links are
single-use: the nonce is recorded when used. The secret lives in the database so every server
and worker shares it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.core.errors import Forbidden
from warroom.oncall import tables

_SECRET = select(tables.secrets.c.value).where(tables.secrets.c.name == bindparam("name"))


@dataclass(frozen=True)
class AckLink:
    subject: str  # "incident:INC-...:<generation>" or "page:<id>"
    person: str
    nonce: str
    expires_at: datetime


def existing_secret(conn: Connection, name: str = "links") -> bytes | None:
    """The signing secret if it was created already (a read, for pages that only show links)."""
    t = tables.secrets
    row = conn.execute(select(t.c.value).where(t.c.name == name)).first()
    return bytes.fromhex(row.value) if row is not None else None


def secret(conn: Connection, name: str = "links") -> bytes:
    """The shared signing secret, created on first use."""
    t = tables.secrets
    row = conn.execute(_SECRET, {"name": name}).first()
    if row is not None:
        return bytes.fromhex(row.value)
    value = secrets.token_hex(32)
    try:
        with conn.begin_nested():
            conn.execute(insert(t).values(name=name, value=value))
    except IntegrityError:
        row = conn.execute(select(t.c.value).where(t.c.name == name)).one()
        value = row.value
    return bytes.fromhex(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, subject: str, person: str, now: datetime, ttl: timedelta) -> str:
    body: dict[str, Any] = {
        "s": subject,
        "u": person,
        "n": secrets.token_hex(12),
        "e": int((now + ttl).timestamp()),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    mac = hmac.new(key, raw, hashlib.sha256).digest()
    return f"{_b64(raw)}.{_b64(mac)}"


def verify(key: bytes, token: str, now: datetime) -> AckLink:
    """The link's content, or Forbidden when forged, malformed or expired."""
    try:
        raw_text, mac_text = token.split(".", 1)
        raw, mac = _unb64(raw_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise Forbidden("this acknowledgement link is malformed", code="bad_link") from None
    expected = hmac.new(key, raw, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise Forbidden("this acknowledgement link is not valid", code="bad_link")
    body = json.loads(raw)
    expires = datetime.fromtimestamp(int(body["e"]), UTC)
    if now >= expires:
        raise Forbidden("this acknowledgement link has expired", code="link_expired")
    return AckLink(str(body["s"]), str(body["u"]), str(body["n"]), expires)


def feed_key(key: bytes, path: str) -> str:
    """A key for a read-only calendar feed URL (calendar apps cannot send tokens)."""
    return _b64(hmac.new(key, f"feed:{path}".encode(), hashlib.sha256).digest()[:18])


def check_feed_key(key: bytes, path: str, given: str) -> bool:
    # compare_digest refuses non-ASCII str; comparing bytes keeps it constant-time for any input.
    return hmac.compare_digest(feed_key(key, path).encode(), given.encode("utf-8", "replace"))
