"""`INSERT ... ON CONFLICT` for SQLite and PostgreSQL, each statement built once per dialect.

Both databases speak the same clause, but SQLAlchemy builds it from each dialect's own
`insert`. Hot paths (alert intake, incident ids, the outbox, paging) run these statements
thousands of times a second: building one costs more than running it, and reusing the same
object lets SQLAlchemy reuse its compiled form.

    _BUMP = Upsert(lambda insert: insert(t).on_conflict_do_update(...).returning(...))
    conn.execute(_BUMP.statement(conn), params)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

# `postgresql.insert` or `sqlite.insert`: both offer on_conflict_do_update / _do_nothing.
InsertOf = Callable[[Table], Any]


class Upsert:
    """An ON CONFLICT statement, built by `build(insert)` the first time a dialect needs it."""

    def __init__(self, build: Callable[[InsertOf], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def statement(self, conn: Connection) -> Any:
        name = conn.dialect.name
        found = self._built.get(name)
        if found is None:
            if name == "postgresql":
                found = self._build(postgresql.insert)
            elif name == "sqlite":
                found = self._build(sqlite.insert)
            else:
                raise RuntimeError(f"unsupported database {name}")
            self._built[name] = found
        return found
