"""Signed one-click acknowledgement links and calendar-feed keys (HMAC-SHA256).

A link token is `base64url(json).base64url(hmac)`; the JSON names the subject (an incident and
its paging generation, or a manual page), the person, a random nonce and the expiry. Links are
single-use: the nonce is recorded when used. The key is the keyring's `ack_links`
(warroom.core.keyring), shared by every server and worker.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from warroom.core import keyring
from warroom.core.errors import Forbidden


@dataclass(frozen=True)
class AckLink:
    subject: str  # "incident:INC-...:<generation>" or "page:<id>"
    person: str
    nonce: str
    expires_at: datetime


def existing_secret(conn: Connection) -> bytes | None:
    """The signing key if it was created already (a read, for pages that only show links)."""
    return keyring.existing_key(conn, keyring.ACK_LINKS)


def secret(conn: Connection) -> bytes:
    """The signing key, created on first use."""
    return keyring.key(conn, keyring.ACK_LINKS)


_b64, _unb64 = keyring.b64, keyring.unb64


def sign(key: bytes, subject: str, person: str, now: datetime, ttl: timedelta) -> str:
    body: dict[str, Any] = {
        "s": subject,
        "u": person,
        "n": secrets.token_hex(12),
        "e": int((now + ttl).timestamp()),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return f"{_b64(raw)}.{_b64(keyring.mac(key, raw))}"


def verify(key: bytes, token: str, now: datetime) -> AckLink:
    """The link's content, or Forbidden when forged, malformed or expired."""
    try:
        raw_text, mac_text = token.split(".", 1)
        raw, mac = _unb64(raw_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise Forbidden("this acknowledgement link is malformed", code="bad_link") from None
    if not hmac.compare_digest(mac, keyring.mac(key, raw)):
        raise Forbidden("this acknowledgement link is not valid", code="bad_link")
    body = json.loads(raw)
    expires = datetime.fromtimestamp(int(body["e"]), UTC)
    if now >= expires:
        raise Forbidden("this acknowledgement link has expired", code="link_expired")
    return AckLink(str(body["s"]), str(body["u"]), str(body["n"]), expires)


def feed_key(key: bytes, path: str) -> str:
    """A key for a read-only calendar feed URL (calendar apps cannot send tokens)."""
    return _b64(keyring.mac(key, f"feed:{path}".encode())[:18])


def check_feed_key(key: bytes, path: str, given: str) -> bool:
    return keyring.same(feed_key(key, path), given)
