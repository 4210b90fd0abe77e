"""The audit log: who did which administrative action, when, to what.

Entries are written in the same transaction as the action they record, so an audited action
without its entry (or the reverse) cannot exist. Details never hold secrets (see `redact`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from warroom.core import tables

_SECRET_KEY = re.compile(r"(secret|token|password|passwd|api[_-]?key|credentials?|^key$)", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@", re.I)
_TOKEN_VALUE = re.compile(r"\bwr_[A-Za-z0-9_-]{8,}")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)


def redact_text(text: str) -> str:
    """Hide credentials inside URLs (user:pass@, tokens in paths) and warroom token values."""
    text = _TOKEN_VALUE.sub("wr_***", text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}***@", text)
    # Notification URLs often carry their secret in the path (json://host/TOKEN, tgram://TOKEN):
    # keep only scheme and host.
    return _URL.sub(_keep_scheme_and_host, text)


def _keep_scheme_and_host(match: re.Match[str]) -> str:
    url = match.group(0)
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0]
    tail = "/***" if len(rest) > len(host) else ""
    return f"{scheme}://{host}{tail}"


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with secret-looking fields and URL credentials hidden."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key):
            return "***" if value else value
        return redact_text(value)
    return value


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry inside the caller's transaction."""
    conn.execute(
        insert(tables.audit_log).values(
            at=now,
            actor=actor,
            action=action,
            target=target,
            details=redact(details or {}),
        )
    )


def entries(
    conn: Connection, *, limit: int = 100, before_id: int | None = None, action: str | None = None
) -> list[dict[str, Any]]:
    t = tables.audit_log
    query = select(t).order_by(t.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(t.c.id < before_id)
    if action:
        query = query.where(t.c.action == action)
    return [
        {
            "id": r.id,
            "at": r.at,
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "details": r.details,
        }
        for r in conn.execute(query).all()
    ]
