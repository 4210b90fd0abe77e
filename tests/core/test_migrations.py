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


def test_links_signed_before_the_keyring_merge_stay_valid(tmp_path: Path) -> None:
    """oncall_secrets and comms_secrets become signing_keys with the same key bytes."""
    import base64
    from datetime import UTC, datetime, timedelta

    from warroom.comms import signing
    from warroom.core import keyring
    from warroom.oncall import links

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    for revision in ("0002", "oncall_0001", "comms_0001"):
        migrate.upgrade(db, revision)
    ack_key, subscription_key = b"a" * 32, b"s" * 32
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO oncall_secrets (name, value) VALUES ('links', :v)"),
            {"v": ack_key.hex()},
        )
        conn.execute(
            text("INSERT INTO comms_secrets (name, value, created_at) VALUES (:n, :v, :t)"),
            {
                "n": "subscription_links",
                "v": base64.urlsafe_b64encode(subscription_key).decode(),
                "t": "2026-12-01 00:00:00",
            },
        )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    ack = links.sign(ack_key, "page:7", "alice", now, timedelta(hours=1))
    feed = links.feed_key(ack_key, "/schedules/primary")
    unsubscribe = signing.sign(subscription_key, "unsub", 3, "nonce")

    migrate.upgrade(db)
    tables = set(inspect(db.engine).get_table_names())
    assert "signing_keys" in tables and not tables & {"oncall_secrets", "comms_secrets"}
    with db.engine.begin() as conn:
        assert links.verify(links.secret(conn), ack, now).person == "alice"
        assert links.check_feed_key(links.secret(conn), "/schedules/primary", feed)
        assert signing.verify(signing.secret(conn), "unsub", unsubscribe) == (3, "nonce")
        assert keyring.existing_key(conn, keyring.ACK_LINKS) == ack_key
    db.dispose()
