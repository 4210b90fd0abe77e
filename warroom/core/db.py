"""Database engine, transactions and the portable column types.

SQLite runs in WAL mode; write transactions start with `BEGIN IMMEDIATE` so that writers queue
on the busy timeout instead of failing when a read lock must be upgraded. Within one process,
SQLite writers also queue first come, first served (urgent ones first) on an in-process lock:
SQLite's busy handler retries with growing sleeps, which under a steady writer (the intake's
group commit) starves the others (the worker) for seconds. Other processes still meet on the
busy timeout. PostgreSQL uses row locks (`FOR UPDATE`) where a use case reads then writes.

A write that enqueues an outbox effect due now marks its connection (`mark_outbox_due`);
once it has committed, `outbox_due` is set so that a worker in this process starts at once
instead of waiting for its next poll.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import Connection, CursorResult, Dialect, make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

from warroom.core.upsert import Upsert


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite each bound time went through two processors (this type's, then the dialect's
    # formatting): one function does both, in the same text (`sqlite_time`).
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_bind


def _sqlite_bind(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use aware UTC datetimes")
    return sqlite_time(value)


def sqlite_time(at: datetime) -> str:
    """How `UTCDateTime` keeps `at` in SQLite: naive UTC text in SQLAlchemy's format (always
    with microseconds, so text order is time order)."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def driver_time(dialect: Dialect, at: datetime) -> datetime | str:
    """`at` as the driver takes it for a `UTCDateTime` column."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the database; use aware UTC datetimes")
    return sqlite_time(at) if dialect.name == "sqlite" else at.astimezone(UTC)


class DriverRows:
    """A statement run straight through the DB-API driver, compiled once per dialect: on a hot
    path SQLAlchemy's per-row parameter processing costs more than the row. The rows hold
    what the driver takes: JSON as text (`driver_json`), times from `driver_time`; what it
    returns is the driver's too (SQLite's JSON as text, times as text). The statement may be
    an `Upsert` (built for each dialect); every value it binds comes from the rows (write a
    constant with `literal_column`)."""

    def __init__(self, statement: UpdateBase | Select[Any] | Upsert) -> None:
        self.statement = statement
        self._compiled: dict[str, SQLCompiler] = {}

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, object]]) -> int:
        """Run it once per row; returns how many rows it changed in all."""
        if not rows:
            return 0
        compiled = self._compiled_for(conn)
        if compiled.positional:
            names = compiled.positiontup or []
            result = conn.exec_driver_sql(
                compiled.string, [tuple(row[n] for n in names) for row in rows]
            )
        else:
            result = conn.exec_driver_sql(compiled.string, list(rows))
        return int(result.rowcount)

    def execute_one(self, conn: Connection, row: Mapping[str, object]) -> CursorResult[Any]:
        """Run it for one row; its result holds what the statement returns."""
        compiled = self._compiled_for(conn)
        if compiled.positional:
            names = compiled.positiontup or []
            return conn.exec_driver_sql(compiled.string, tuple(row[n] for n in names))
        return conn.exec_driver_sql(compiled.string, dict(row))

    def _compiled_for(self, conn: Connection) -> SQLCompiler:
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = self.statement
            if isinstance(statement, Upsert):
                statement = statement.statement(conn)
            compiled = statement.compile(dialect=dialect)
            fixed = [
                name for name in compiled.bind_names.values() if name not in _required(compiled)
            ]
            if fixed:
                raise ValueError(f"DriverRows binds only values of its rows, not {fixed}")
            self._compiled[dialect.name] = compiled
        return compiled


def _required(compiled: SQLCompiler) -> set[str]:
    return {compiled.bind_names[bind] for bind in compiled.binds.values() if bind.required}


def driver_json(value: Any) -> str:
    """`value` as the driver takes it for a `JSON` column (the text SQLAlchemy would write)."""
    return json.dumps(value)


def normalise_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


_OUTBOX_DUE = "warroom_outbox_due"


def mark_outbox_due(conn: Connection) -> None:
    """Note that this transaction enqueued an effect due now (see `Database.outbox_due`)."""
    conn.info[_OUTBOX_DUE] = True


_MEMO = "warroom_transaction_memo"


def transaction_memo(conn: Connection) -> dict[Any, Any]:
    """A dict that lives as long as `conn`'s current transaction: for what a batch of work
    in one transaction would otherwise read again and again (and cannot change meanwhile)."""
    transaction = conn.get_transaction()
    found = conn.info.get(_MEMO)
    if found is None or found[0] is not transaction:
        found = conn.info[_MEMO] = (transaction, {})
    memo: dict[Any, Any] = found[1]
    return memo


class FairLock:
    """A re-entrant lock granted in arrival order, urgent waiters first (threading.Lock lets a
    releasing thread take it straight back, so a thread that writes in a loop could starve the
    others)."""

    def __init__(self, across_processes: str | None = None) -> None:
        # With a path: the owner also holds an exclusive flock on that file, so writers of
        # other processes queue in the kernel (woken at once) instead of SQLite's busy
        # handler, which sleeps and retries.
        self._file = open(across_processes, "a+") if across_processes else None  # noqa: SIM115
        self._mutex = threading.Lock()
        self._waiters: deque[tuple[int, threading.Lock]] = deque()
        self._urgent: deque[tuple[int, threading.Lock]] = deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, *, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._waiters and not self._urgent:
                self._owner, self._depth = me, 1
                self._lock_file()
                return
            turn = threading.Lock()
            turn.acquire()
            (self._urgent if urgent else self._waiters).append((me, turn))
        turn.acquire()  # released by `release` once it has made this thread the owner
        self._lock_file()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _lock_file(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)  # blocks without the GIL

    def release(self) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth > 0:
                return
            if self._file is not None:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            queue = self._urgent or self._waiters
            if queue:
                self._owner, turn = queue.popleft()
                self._depth = 1
                turn.release()
            else:
                self._owner = None


class Database:
    """One engine plus the two kinds of transaction services use."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = _create_engine(self.url, sqlite_synchronous, echo)
        self._synchronous = sqlite_synchronous.upper()
        self.dialect: str = self.engine.dialect.name
        # Set when a transaction that enqueued a due-now outbox effect has committed.
        self.outbox_due = threading.Event()
        # How many such commits there were, in all and per thread (see `due_elsewhere`).
        self._due_commits = 0
        self._due_commits_by: dict[int, int] = {}
        self._due_lock = threading.Lock()
        self.sqlite_file = sqlite_file(self.url)
        self._write_lock: FairLock | None = (
            FairLock(f"{self.sqlite_file}.writer-lock") if self.sqlite_file is not None else None
        )

    def due_mark(self) -> tuple[int, int]:
        """A mark to ask `due_elsewhere` about later: due-now commits so far (all, this
        thread's)."""
        with self._due_lock:
            return self._due_commits, self._due_commits_by.get(threading.get_ident(), 0)

    def due_elsewhere(self, mark: tuple[int, int]) -> bool:
        """Whether another thread of this process committed an effect due now since `mark`
        (e.g. alert intake declaring an incident whose page is due)."""
        all_now, mine_now = self.due_mark()
        return all_now - mark[0] > mine_now - mark[1]

    @property
    def synchronous(self) -> str:
        """SQLite's `synchronous` mode of this database's connections."""
        return self._synchronous

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self, *, urgent: bool = False, relaxed: bool = False) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception.

        `urgent` (short transactions that pages wait on) goes before other writers queued in
        this process; SQLite only. `relaxed` commits without waiting for the disk (SQLite
        `synchronous=NORMAL` in WAL mode): the commit survives a killed process, and only a
        power loss or OS crash can undo it. For records whose loss merely repeats work, such
        as "this notification was sent" (a repeat re-sends it), never for what a client was
        told is stored."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire(urgent=urgent)
        relax = relaxed and lock is not None and self._synchronous in ("FULL", "EXTRA")
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(warroom_write=True)
                raw = conn.connection.dbapi_connection if relax else None
                if raw is not None:
                    raw.execute("PRAGMA synchronous=NORMAL")
                conn.info.pop(_OUTBOX_DUE, None)
                try:
                    with conn.begin():
                        yield conn
                except BaseException:
                    conn.info.pop(_OUTBOX_DUE, None)
                    raise
                finally:
                    if raw is not None:
                        raw.execute(f"PRAGMA synchronous={self._synchronous}")
                if conn.info.pop(_OUTBOX_DUE, False):
                    me = threading.get_ident()
                    with self._due_lock:
                        self._due_commits += 1
                        self._due_commits_by[me] = self._due_commits_by.get(me, 0) + 1
                    self.outbox_due.set()
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()


def serialise(conn: Connection, name: str) -> None:
    """Hold the lock `name` until `conn`'s transaction ends, across processes and replicas.

    For check-then-create work that must run once however many processes start together
    (migrations, the first admin). PostgreSQL: a transaction-scoped advisory lock. SQLite's
    write transactions (`BEGIN IMMEDIATE`) already exclude each other."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})


def try_serialise(conn: Connection, name: str) -> bool:
    """`serialise` without waiting: False when another transaction holds the lock `name`."""
    if conn.dialect.name != "postgresql":
        return True
    taken = conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
    return bool(taken.scalar())


def _lock_key(name: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases or no file)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return None
    return Path(parsed.database)


def _create_engine(url: str, sqlite_synchronous: str, echo: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}}
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("use a SQLite file, not :memory: (the worker and server share it)")
    engine = create_engine(url, echo=echo, **kwargs)
    synchronous = sqlite_synchronous.upper()
    if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"invalid sqlite synchronous mode {sqlite_synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN itself (pysqlite's implicit BEGIN is broken).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("warroom_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def null_pool_engine(url: str) -> Engine:
    """An engine without pooling, for one-off administrative connections."""
    return create_engine(normalise_url(url), poolclass=NullPool)
