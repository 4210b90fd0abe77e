"""Public incident ids: INC-YYYYMMDD-NNN, a sequence per UTC day.

The counter is one row per day, bumped with an atomic upsert inside the declaring
transaction, so concurrent declares on SQLite or PostgreSQL never share a number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from warroom.core import tables

_BUMPS: dict[str, Any] = {}


def _bump_statement(dialect: str) -> Any:
    """Built once per dialect: the declare path runs it for every incident."""
    statement = _BUMPS.get(dialect)
    if statement is None:
        t = tables.id_sequences
        insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert_fn(t)
            .values(scope=bindparam("scope"), last_value=1)
            .on_conflict_do_update(
                index_elements=[t.c.scope], set_={"last_value": t.c.last_value + 1}
            )
            .returning(t.c.last_value)
        )
        _BUMPS[dialect] = statement
    return statement


def next_in_sequence(conn: Connection, scope: str) -> int:
    """Atomically increment and return the counter named `scope` (starting at 1)."""
    return int(conn.execute(_bump_statement(conn.dialect.name), {"scope": scope}).scalar_one())


def next_incident_id(conn: Connection, now: datetime) -> str:
    day = now.strftime("%Y%m%d")
    number = next_in_sequence(conn, f"incident:{day}")
    return f"INC-{day}-{number:03d}"
