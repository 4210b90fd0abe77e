"""One keyring for every signed link: acknowledgement links and calendar feeds (on-call),
status-page subscription links (comms).

Each key is random, named for what it signs, created on first use and kept in the database
(`signing_keys`), so every server and worker agrees; it is never logged. The helpers below
are the HMAC-SHA256 and unpadded base64url every link format is built from.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.core import tables

# The keys in use, by what they sign.
ACK_LINKS = "ack_links"  # one-click acknowledgement links and calendar-feed keys
SUBSCRIPTION_LINKS = "subscription_links"  # status-page confirm and unsubscribe links

_KEY = select(tables.signing_keys.c.key).where(tables.signing_keys.c.name == bindparam("name"))


def existing_key(conn: Connection, name: str) -> bytes | None:
    """The key if it was created already (a read, for pages that only show links)."""
    row = conn.execute(_KEY, {"name": name}).first()
    return bytes.fromhex(row.key) if row is not None else None


def key(conn: Connection, name: str) -> bytes:
    """The key named `name`, created on first use (concurrent first uses agree on one)."""
    found = existing_key(conn, name)
    if found is not None:
        return found
    value = secrets.token_hex(32)
    try:
        with conn.begin_nested():
            conn.execute(insert(tables.signing_keys).values(name=name, key=value))
    except IntegrityError:  # another process created it first
        value = conn.execute(_KEY, {"name": name}).one().key
    return bytes.fromhex(value)


def mac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of `message`."""
    return hmac.new(key, message, hashlib.sha256).digest()


def b64(data: bytes) -> str:
    """base64url without padding (fits in a URL path or query)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of a computed signature with one from a request (any text)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
