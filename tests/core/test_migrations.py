"""Migrations from empty, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from tests.conftest import truncate_all
from warroom.core import migrate
from warroom.core.db import Database
from warroom.core.plugins import load_tables
from warroom.core.tables import metadata


def test_upgrade_from_empty_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.is_current(db)
    migrate.upgrade(db)  # idempotent
    load_tables()
    assert set(metadata.tables) <= set(inspect(db.engine).get_table_names())
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_upgrade_from_empty_postgres(postgres_url: str) -> None:
    db = Database(postgres_url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.is_current(db)
    load_tables()
    assert set(metadata.tables) <= set(inspect(db.engine).get_table_names())
    db.dispose()
    truncate_all(postgres_url)


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    """Every package's tables.py and its migrations agree (no drift on either database)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    load_tables()
    db = Database(database_url)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    db.dispose()
    assert diff == []
