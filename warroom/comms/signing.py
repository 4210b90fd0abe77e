"""Signed links for subscription confirmation and unsubscribe.

A token is `<purpose>.<subscriber id>.<nonce>.<HMAC-SHA256>`; the key is the keyring's
`subscription_links` (warroom.core.keyring). Rotating a subscriber's nonce invalidates the
links sent before.
"""

from __future__ import annotations

import secrets

from sqlalchemy.engine import Connection

from warroom.core import keyring


def secret(conn: Connection) -> bytes:
    """The signing key, created on first use."""
    return keyring.key(conn, keyring.SUBSCRIPTION_LINKS)


def _mac(key: bytes, message: str) -> str:
    return keyring.b64(keyring.mac(key, message.encode()))


def sign(key: bytes, purpose: str, subscriber_id: int, nonce: str) -> str:
    message = f"{purpose}.{subscriber_id}.{nonce}"
    return f"{message}.{_mac(key, message)}"


def verify(key: bytes, purpose: str, token: str) -> tuple[int, str] | None:
    """(subscriber id, nonce) when the token is genuine and for this purpose, else None."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != purpose or not parts[1].isdigit():
        return None
    message = ".".join(parts[:3])
    if not keyring.same(_mac(key, message), parts[3]):
        return None
    return int(parts[1]), parts[2]


def new_nonce() -> str:
    return secrets.token_hex(8)
