"""Run Alembic migrations programmatically (`warroom db upgrade`, `serve` start, `/readyz`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from warroom.core.db import Database, serialise

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revisions() -> frozenset[str]:
    """Every head: each capability package keeps its own branch of migrations."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def current_revisions(db: Database) -> frozenset[str]:
    with db.engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def head_revision() -> str | None:
    """The heads as one display string (sorted, comma-separated)."""
    return ",".join(sorted(head_revisions())) or None


def current_revision(db: Database) -> str | None:
    return ",".join(sorted(current_revisions(db))) or None


def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the schema to `revision` (idempotent)."""
    config = _config()
    with db.engine.connect() as conn:
        # Replicas started together upgrade one after the other: BEGIN IMMEDIATE on SQLite, an
        # advisory lock on PostgreSQL; the later ones then find the schema current.
        conn = conn.execution_options(warroom_write=True)
        with conn.begin():
            serialise(conn, "warroom.migrate")
            config.attributes["connection"] = conn
            command.upgrade(config, revision)


def is_current(db: Database) -> bool:
    return current_revisions(db) == head_revisions()
