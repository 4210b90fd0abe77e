"""The database's write transactions: relaxed durability stays on the one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import StatementError

from warroom.core import fastjson
from warroom.core.db import Database, DriverRows, UTCDateTime, driver_time
from warroom.core.upsert import Upsert


def _synchronous(db: Database) -> int:
    with db.write() as conn:
        return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


def test_a_relaxed_write_skips_the_fsync_only_for_itself(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert _synchronous(db) == 2  # FULL
        with db.write(relaxed=True) as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert _synchronous(db) == 2  # the pooled connection is back to FULL
        try:
            with db.write(relaxed=True) as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert _synchronous(db) == 2
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        db.dispose()


def test_relaxed_changes_nothing_when_the_database_is_already_normal(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}", sqlite_synchronous="NORMAL")
    try:
        with db.write(relaxed=True) as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1
        assert _synchronous(db) == 1
    finally:
        db.dispose()


_PROBE = """
import fcntl, sys
with open(sys.argv[1], "a") as f:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(1)
"""


def test_a_write_holds_the_writer_lock_other_processes_queue_on(tmp_path: Path) -> None:
    """SQLite writers of other processes (a `warroom worker`, the CLI) wait on a file lock the
    kernel hands over at once, not in SQLite's sleeping busy handler."""
    import subprocess
    import sys

    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    lock = str(tmp_path / "w.db.writer-lock")

    def other_process_can_write() -> bool:
        return subprocess.run([sys.executable, "-c", _PROBE, lock]).returncode == 0

    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            assert not other_process_can_write()
        assert other_process_can_write()
        with db.write():
            assert not other_process_can_write()
    finally:
        db.dispose()


def test_rows_written_through_the_driver_read_back_as_sqlalchemy_wrote_them(
    database_url: str,
) -> None:
    """`DriverRows` with `driver_time` and JSON text stores what SQLAlchemy's own insert
    would: equal times (with and without microseconds) and JSON, in the same text order."""
    meta = MetaData()
    table = Table(
        "driver_rows_probe",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("at", UTCDateTime, nullable=False),
        Column("doc", JSON, nullable=False),
    )
    rows = DriverRows(insert(table).values({c.name: bindparam(c.name) for c in table.c}))
    whole = datetime(2026, 12, 7, 11, 0, 0, tzinfo=UTC)
    times = [
        whole,
        whole + timedelta(microseconds=1),
        whole.astimezone(timezone(timedelta(hours=2))),
    ]
    db = Database(database_url)
    try:
        with db.write() as conn:
            meta.create_all(conn)
            conn.execute(insert(table), [{"id": 1, "at": whole, "doc": {"n": 1, "s": "é"}}])
            rows.execute(
                conn,
                [
                    {
                        "id": 2 + n,
                        "at": driver_time(conn.dialect, at),
                        "doc": fastjson.dumps({"n": n}),
                    }
                    for n, at in enumerate(times)
                ],
            )
        with db.read() as conn:
            found = conn.execute(select(table).order_by(table.c.at, table.c.id)).all()
            same = conn.execute(select(table.c.id).where(table.c.at == whole)).scalars().all()
        assert [(r.id, r.at) for r in found] == [(1, whole), (2, whole), (4, whole), (3, times[1])]
        assert found[0].doc == {"n": 1, "s": "é"} and found[3].doc == {"n": 1}
        assert sorted(same) == [1, 2, 4]
        with pytest.raises(ValueError, match="naive"):
            driver_time(conn.dialect, datetime(2026, 12, 7))
    finally:
        with db.write() as conn:
            meta.drop_all(conn)
        db.dispose()


def test_driver_rows_count_the_rows_they_change_and_give_what_they_return(
    database_url: str,
) -> None:
    """Rows skipped by `ON CONFLICT DO NOTHING` are not counted (the outbox's dedup keys and
    a fired escalation step rely on it); `execute_one` gives what the statement returns."""
    meta = MetaData()
    table = Table(
        "driver_rows_count_probe",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(20), nullable=False, unique=True),
    )
    ignoring = DriverRows(
        Upsert(
            lambda insert_: (
                insert_(table)
                .values(key=bindparam("key"))
                .on_conflict_do_nothing(index_elements=["key"])
            )
        )
    )
    returning = DriverRows(insert(table).values(key=bindparam("key")).returning(table.c.id))
    db = Database(database_url)
    try:
        with db.write() as conn:
            meta.create_all(conn)
            assert ignoring.execute(conn, [{"key": "a"}, {"key": "b"}, {"key": "a"}]) == 2
            assert ignoring.execute(conn, [{"key": "b"}]) == 0
            assert ignoring.execute(conn, []) == 0
            new_id = returning.execute_one(conn, {"key": "c"}).scalar_one()
        with db.read() as conn:
            keys = {row.key: row.id for row in conn.execute(select(table.c.key, table.c.id))}
        assert sorted(keys) == ["a", "b", "c"] and keys["c"] == new_id
    finally:
        with db.write() as conn:
            meta.drop_all(conn)
        db.dispose()


def test_driver_rows_refuse_a_statement_that_binds_a_value_of_its_own(tmp_path: Path) -> None:
    """A value written into the statement (`last_value + 1`) would be missing from the rows the
    driver gets: refused when the statement is first compiled, naming the value."""
    meta = MetaData()
    table = Table("counter", meta, Column("key", String(20)), Column("n", Integer))
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with db.write() as conn:
            meta.create_all(conn)
            fixed = DriverRows(insert(table).values(key=bindparam("key"), n=1))
            with pytest.raises(ValueError, match="binds only values of its rows, not \\['n'\\]"):
                fixed.execute(conn, [{"key": "a"}])
            constant = DriverRows(insert(table).values(key=bindparam("key"), n=literal_column("1")))
            assert constant.execute(conn, [{"key": "a"}]) == 1
    finally:
        db.dispose()


def test_a_naive_time_is_refused_on_every_backend(database_url: str) -> None:
    """SQLite binds a time in one step (`sqlite_time`); a naive one is still refused, through
    SQLAlchemy as through the driver, and nothing is written."""
    meta = MetaData()
    table = Table("naive_probe", meta, Column("at", UTCDateTime, nullable=False))
    db = Database(database_url)
    try:
        with db.write() as conn:
            meta.create_all(conn)
        with pytest.raises(StatementError, match="naive"), db.write() as conn:
            conn.execute(insert(table), [{"at": datetime(2026, 12, 7, 11, 0)}])
        with db.read() as conn:
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    finally:
        with db.write() as conn:
            meta.drop_all(conn)
        db.dispose()
