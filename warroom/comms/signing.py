"""Signed links for subscription confirmation and unsubscribe.

A token is `<purpose>.<subscriber id>.<nonce>.<HMAC-SHA256>`; the key is a random secret kept
in the database (so every replica agrees) and never logged. Rotating a subscriber's nonce
invalidates the links sent before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.comms import tables

_NAME = "subscription_links"


def secret(conn: Connection, now: datetime) -> bytes:
    """The signing key, created on first use."""
    t = tables.comms_secrets
    row = conn.execute(select(t.c.value).where(t.c.name == _NAME)).first()
    if row is not None:
        return base64.urlsafe_b64decode(row.value)
    value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    try:
        with conn.begin_nested():
            conn.execute(insert(t).values(name=_NAME, value=value, created_at=now))
    except IntegrityError:  # another process created it first
        row = conn.execute(select(t.c.value).where(t.c.name == _NAME)).first()
        assert row is not None
        return base64.urlsafe_b64decode(row.value)
    return base64.urlsafe_b64decode(value)


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: bytes, purpose: str, subscriber_id: int, nonce: str) -> str:
    message = f"{purpose}.{subscriber_id}.{nonce}"
    return f"{message}.{_mac(key, message)}"


def verify(key: bytes, purpose: str, token: str) -> tuple[int, str] | None:
    """(subscriber id, nonce) when the token is genuine and for this purpose, else None."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != purpose or not parts[1].isdigit():
        return None
    message = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(key, message), parts[3]):
        return None
    return int(parts[1]), parts[2]


def new_nonce() -> str:
    return secrets.token_hex(8)
