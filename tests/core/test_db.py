"""The database's write transactions: relaxed durability stays on the one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from warroom.core.db import Database


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
