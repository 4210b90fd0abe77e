"""Public incident ids: INC-YYYYMMDD-NNN, a sequence per UTC day.

The counter is one row per day, bumped with an atomic upsert inside the declaring
transaction, so concurrent declares on SQLite or PostgreSQL never share a number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, literal_column
from sqlalchemy.engine import Connection

from warroom.core import tables
from warroom.core.db import DriverRows
from warroom.core.upsert import Upsert

_SEQ = tables.id_sequences
# The declare path runs it for every incident.
_BUMP = DriverRows(
    Upsert(
        lambda insert: (
            insert(_SEQ)
            .values(scope=bindparam("scope"), last_value=literal_column("1"))
            .on_conflict_do_update(
                index_elements=[_SEQ.c.scope],
                set_={"last_value": _SEQ.c.last_value + literal_column("1")},
            )
            .returning(_SEQ.c.last_value)
        )
    )
)


def next_in_sequence(conn: Connection, scope: str) -> int:
    """Atomically increment and return the counter named `scope` (starting at 1)."""
    return int(_BUMP.execute_one(conn, {"scope": scope}).scalar_one())


def next_incident_id(conn: Connection, now: datetime) -> str:
    day = now.strftime("%Y%m%d")
    number = next_in_sequence(conn, f"incident:{day}")
    return f"INC-{day}-{number:03d}"
