"""The intake log: a webhook is answered once its alerts are durable, and acted on right after.

The request path parses and validates the alerts, appends them to the log (group commit: the
requests in flight share one commit) and answers 202. The processor, a thread of the process
that appended (and of `warroom serve`, which also picks up what a crashed process left), reads
the log in order and runs each logged request through the intake (dedup, grouping, routing,
incidents, paging) in one transaction per batch, which also records what each request did in
`intake_requests`. That record is the processed mark, so a crash at any point neither loses
nor repeats a request.

On SQLite the log is a file of its own beside the database (`NAME.intake.db`): appending then
never waits for the processor's write transactions, which hold the database's single writer
lock. On PostgreSQL the log is a table of the database, processed rows are deleted in the
processing transaction, and one processor at a time (an advisory lock) keeps the order across
replicas.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from warroom.alerts import tables as t
from warroom.alerts.batching import GroupCommitter
from warroom.core.db import Database, sqlite_time, try_serialise

log = logging.getLogger("warroom.alerts.intake")

BATCH = 200  # logged requests per processing transaction
BUSY = -1  # `run_once`: another processor holds the log
KEEP_RESULTS_DAYS = 7
# Rows deleted per transaction when trimming: log entries are large (a whole webhook), and
# an append waits for the trim's transaction; 250 of them take a few milliseconds.
TRIM_CHUNK = 2000
TRIM_LOG_CHUNK = 250
# A request read in one turn of the event loop reaches the log two turns later (its bytes are
# read, then its handler parses them and appends). A commit waits this many turns so that the
# requests already on their way share it, instead of each waiting for a commit of their own; a
# turn with nothing to do takes microseconds.
COMMIT_AFTER_TURNS = 4


@dataclass(frozen=True)
class LoggedRequest:
    """One acknowledged webhook waiting in the log."""

    id: int
    received_at: datetime
    integration: str
    alerts: str  # `domain.alerts_to_json`


@dataclass(frozen=True)
class RequestStatus:
    """Where one logged request is: `pending`, or `processed` with what it did."""

    id: int
    status: str
    integration: str
    received_at: datetime
    processed_at: datetime | None = None
    result: dict[str, Any] | None = None


class LogUnwritable(RuntimeError):
    """The log's own file refused an append (the request is answered 503, nothing kept)."""


class IntakeLog:
    """Append, read in order, mark processed; one of two stores (see the module's doc)."""

    def __init__(self, db: Database) -> None:
        self.main = db
        self.separate = db.sqlite_file is not None
        self._db: Database | None = None if self.separate else db
        self._committer: GroupCommitter | None = None
        self._appender: _LoopAppender | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> str | None:
        """The log's own SQLite file, if it has one."""
        file = self.main.sqlite_file
        return None if file is None else str(file.with_name(f"{file.stem}.intake{file.suffix}"))

    def store(self) -> Database:
        """The log's database, opened (and on SQLite created) on first use."""
        with self._lock:
            return self._store()

    def _store(self) -> Database:
        if self._db is None:
            assert self.path is not None
            self._db = Database(f"sqlite:///{self.path}", sqlite_synchronous=self.main.synchronous)
            t.intake_log.create(self._db.engine, checkfirst=True)
        return self._db

    def append(self, integration: str, alerts_json: str, received_at: datetime) -> Future[int]:
        """Queue one request; the future gives its log id once the entry is committed."""
        with self._lock:
            if self._committer is None:
                self._committer = GroupCommitter(self._store())
            committer = self._committer

        def job(conn: Connection) -> int:
            result = conn.execute(
                insert(t.intake_log).values(
                    received_at=received_at, integration=integration, alerts=alerts_json
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        return committer.enqueue(job)

    async def append_async(self, integration: str, alerts_json: str, received_at: datetime) -> int:
        """`append` for the event loop: the requests of one loop turn share one commit, made
        in the log's writer thread, with one hand-off per batch instead of two per request."""
        with self._lock:
            if self._appender is None:
                self._appender = _LoopAppender(self._store(), self.path)
            appender = self._appender
        row = {"received_at": received_at, "integration": integration, "alerts": alerts_json}
        return await appender.append(row)

    def last_processed(self, conn: Connection) -> int:
        """The highest id processed so far (SQLite: everything up to it is processed)."""
        return int(conn.execute(select(func.max(t.intake_requests.c.id))).scalar() or 0)

    def pending(self, conn: Connection, limit: int = BATCH) -> list[LoggedRequest]:
        """The oldest unprocessed requests; `conn` is the processing transaction."""
        if not self.separate:
            query = select(t.intake_log).order_by(t.intake_log.c.id).limit(limit)
            rows = conn.execute(query).all()
            return [LoggedRequest(r.id, r.received_at, r.integration, r.alerts) for r in rows]
        after = self.last_processed(conn)
        with self.store().read() as log_conn:
            raw = log_conn.exec_driver_sql(_SQLITE_PENDING, (after, limit)).all()
        return [
            LoggedRequest(
                int(row_id), datetime.fromisoformat(at).replace(tzinfo=UTC), integration, alerts
            )
            for row_id, at, integration, alerts in raw
        ]

    def consumed(self, conn: Connection, ids: Sequence[int]) -> None:
        """In the processing transaction: the log rows of `ids` are done."""
        if not self.separate and ids:
            conn.execute(delete(t.intake_log).where(t.intake_log.c.id.in_(ids)))

    def trim(self, now: datetime) -> None:
        """Drop what is done: records of requests processed over a week ago (never the newest:
        on SQLite it marks how far the log is processed) and the log file's processed entries.

        A few hundred log entries (a few thousand records) per transaction, so that appends
        and other writers never wait long behind a trim after a storm; then the log file's
        write-ahead file is folded back (appends leave that to the trim, so it never happens
        in a request's path)."""
        cutoff = now - timedelta(days=KEEP_RESULTS_DAYS)
        done = t.intake_requests.c
        while True:
            with self.main.write() as conn:
                last = self.last_processed(conn)
                oldest = (
                    select(done.id)
                    .where(done.processed_at < cutoff, done.id < last)
                    .order_by(done.id)
                    .limit(TRIM_CHUNK)
                )
                gone = conn.execute(
                    delete(t.intake_requests).where(done.id.in_(oldest.scalar_subquery()))
                ).rowcount
            if gone < TRIM_CHUNK:
                break
        if not self.separate or self._db is None:
            return
        entry = t.intake_log.c
        trimmed = False
        while True:
            with self._db.write() as log_conn:
                first = log_conn.execute(select(func.min(entry.id))).scalar()
                if first is None or first > last:
                    break
                upto = min(last, first + TRIM_LOG_CHUNK - 1)
                log_conn.execute(delete(t.intake_log).where(entry.id <= upto))
            trimmed = True
            if upto >= last:
                break
        if trimmed:
            with self._db.engine.connect() as log_conn:
                log_conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def ensure_ids_after(self, conn: Connection) -> None:
        """SQLite: a log file made afresh (deleted, restored) must not hand out ids that were
        already processed, or its new entries would be taken as done."""
        if not self.separate:
            return
        last = self.last_processed(conn)
        store = self.store()
        with store.write() as log_conn:
            top = int(log_conn.execute(select(func.max(t.intake_log.c.id))).scalar() or 0)
            seq = log_conn.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = 'intake_log'"
            ).scalar()
            if max(top, int(seq or 0)) < last:
                log_conn.exec_driver_sql(
                    "INSERT OR REPLACE INTO sqlite_sequence (name, seq) VALUES ('intake_log', ?)",
                    (last,),
                )

    def status(self, request_id: int) -> RequestStatus | None:
        """A logged request's status, or None if there is no such request (or it expired).

        Processing moves a request from the log to its record atomically; looking at the
        record, then the log, then the record again cannot miss one processed in between."""
        return self._record(request_id) or self._pending(request_id) or self._record(request_id)

    def _record(self, request_id: int) -> RequestStatus | None:
        with self.main.read() as conn:
            row = conn.execute(
                select(t.intake_requests).where(t.intake_requests.c.id == request_id)
            ).first()
        if row is None:
            return None
        return RequestStatus(
            id=row.id,
            status="processed",
            integration=row.integration,
            received_at=row.received_at,
            processed_at=row.processed_at,
            result=dict(row.result),
        )

    def _pending(self, request_id: int) -> RequestStatus | None:
        by_id = select(t.intake_log).where(t.intake_log.c.id == request_id)
        if not self.separate:
            with self.main.read() as conn:
                found = conn.execute(by_id).first()
        else:
            with self.main.read() as conn:
                if request_id <= self.last_processed(conn):
                    return None  # processed (its record, if any, was read just before)
            with self.store().read() as log_conn:
                found = log_conn.execute(by_id).first()
        if found is None:
            return None
        return RequestStatus(found.id, "pending", found.integration, found.received_at)

    def backlog(self) -> int:
        """How many acknowledged requests wait for processing."""
        with self.main.read() as conn:
            if not self.separate:
                return int(
                    conn.execute(select(func.count()).select_from(t.intake_log)).scalar() or 0
                )
            last = self.last_processed(conn)
        with self.store().read() as log_conn:
            return int(
                log_conn.execute(
                    select(func.count()).select_from(t.intake_log).where(t.intake_log.c.id > last)
                ).scalar()
                or 0
            )

    def oldest_pending(self) -> datetime | None:
        """When the oldest request still waiting for processing was acknowledged."""
        entry = t.intake_log.c
        first = select(entry.received_at).order_by(entry.id).limit(1)
        with self.main.read() as conn:
            if not self.separate:
                found: datetime | None = conn.execute(first).scalar()
                return found
            last = self.last_processed(conn)
        with self.store().read() as log_conn:
            waiting: datetime | None = log_conn.execute(first.where(entry.id > last)).scalar()
            return waiting

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
        if self._appender is not None:
            self._appender.close()
        if self.separate and self._db is not None:
            self._db.dispose()


# One statement for a whole group of appends; the ids come back in the rows' order.
_APPEND = insert(t.intake_log).returning(t.intake_log.c.id, sort_by_parameter_order=True)
_SQLITE_APPEND = "INSERT INTO intake_log (received_at, integration, alerts) VALUES (?, ?, ?)"
_SQLITE_PENDING = (
    "SELECT id, received_at, integration, alerts FROM intake_log WHERE id > ? ORDER BY id LIMIT ?"
)


class _LoopAppender:
    """Group commit driven by an event loop: the requests that reach the log within a few loop
    turns (`COMMIT_AFTER_TURNS`) share one commit, and rows queued while a commit runs go
    together in the next one.

    The log's own SQLite file is appended to right in the loop's thread: a commit there costs
    less than the two thread hand-offs around it (SQLite waits for the disk without holding
    the interpreter). When another writer holds the file, and on PostgreSQL, commits run one
    at a time in a thread of their own, in queue order."""

    def __init__(self, db: Database, own_file: str | None) -> None:
        self.db = db
        self._pending: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._writing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="warroom-intake-log")
        self._own_file = own_file
        self._direct: sqlite3.Connection | None = None

    async def append(self, row: dict[str, Any]) -> int:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (the old one stopped): start afresh
            self._loop, self._pending, self._writing = loop, [], False
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append((row, future))
        if not self._writing:
            self._writing = True
            self._commit_after(loop, COMMIT_AFTER_TURNS)
        return await future

    def _commit_after(self, loop: asyncio.AbstractEventLoop, turns: int) -> None:
        """Commit what is queued once the loop has run `turns` more turns."""
        if turns > 0:
            loop.call_soon(self._commit_after, loop, turns - 1)
        else:
            self._write_next(loop)

    def _write_next(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            self._writing = False
            return
        rows = [row for row, _ in batch]
        try:
            ids = self._append_here(rows)
        except Exception as exc:  # the disk refused: these requests are told, not kept
            self._settle(batch, [], exc)
            self._commit_after(loop, COMMIT_AFTER_TURNS)
            return
        if ids is not None:
            self._settle(batch, ids, None)
            self._commit_after(loop, COMMIT_AFTER_TURNS)
            return
        done = loop.run_in_executor(self._executor, self._insert, rows)
        done.add_done_callback(lambda outcome: self._answer(loop, batch, outcome))

    def _answer(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[dict[str, Any], asyncio.Future[int]]],
        outcome: asyncio.Future[list[int]],
    ) -> None:
        error = outcome.exception()
        self._settle(batch, [] if error is not None else outcome.result(), error)
        self._commit_after(loop, COMMIT_AFTER_TURNS)

    @staticmethod
    def _settle(
        batch: list[tuple[dict[str, Any], asyncio.Future[int]]],
        ids: list[int],
        error: BaseException | None,
    ) -> None:
        for n, (_, future) in enumerate(batch):
            if future.done():  # the request went away meanwhile
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(ids[n])

    def _append_here(self, rows: list[dict[str, Any]]) -> list[int] | None:
        """Append in this thread, or None when it would have to wait (no own file, or another
        writer holds it)."""
        if self._own_file is None:
            return None
        direct = self._direct
        if direct is None:
            try:
                direct = sqlite3.connect(
                    self._own_file, timeout=0, isolation_level=None, check_same_thread=False
                )
                direct.execute(f"PRAGMA synchronous={self.db.synchronous}")
                # Folding the write-ahead file back into the log is the trim's work.
                direct.execute("PRAGMA wal_autocheckpoint=0")
            except sqlite3.Error as exc:
                raise LogUnwritable(f"the intake log could not be opened: {exc}") from exc
            self._direct = direct
        try:
            direct.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # locked by another writer: queue behind it
            return None
        try:
            ids = _append_rows(direct, rows)
            direct.execute("COMMIT")
        except sqlite3.Error as exc:
            if direct.in_transaction:
                direct.execute("ROLLBACK")
            raise LogUnwritable(f"the intake log could not be written: {exc}") from exc
        except BaseException:
            if direct.in_transaction:
                direct.execute("ROLLBACK")
            raise
        return ids

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        with self.db.write() as conn:
            if self.db.sqlite_file is None:
                found = conn.execute(_APPEND, rows)
                return [int(row_id) for row_id in found.scalars()]
            try:
                return _append_rows(conn.connection.dbapi_connection, rows)
            except sqlite3.Error as exc:
                raise LogUnwritable(f"the intake log could not be written: {exc}") from exc

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._direct is not None:
            self._direct.close()
            self._direct = None


def _append_rows(conn: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Append to the log's own SQLite file in the caller's write transaction (a DB-API
    connection): one statement for the group, whose ids are consecutive as the transaction is
    the file's only writer."""
    conn.executemany(
        _SQLITE_APPEND,
        [(sqlite_time(r["received_at"]), r["integration"], r["alerts"]) for r in rows],
    )
    last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
    return list(range(last - len(rows) + 1, last + 1))


# (the processing transaction, the batch, whether each request runs in a savepoint of its own)
ProcessBatch = Callable[[Connection, list[LoggedRequest], bool], list[Any]]


class RequestFailed(Exception):
    """A logged request failed in a batch run without savepoints: run the batch again."""


_BUSY: tuple[list[LoggedRequest], list[Any]] = ([], [])  # `_process_batch`: lock not taken


class IntakeProcessor:
    """One thread that drains the log in order, batch by batch, until it is idle."""

    def __init__(
        self,
        log_: IntakeLog,
        process: ProcessBatch,
        after_commit: Callable[[list[Any]], None],
        clock: Callable[[], datetime],
        *,
        idle_seconds: float = 2.0,
        poll_seconds: float = 1.0,
        coalesce_seconds: float = 0.05,
    ) -> None:
        self.log = log_
        self.process = process
        self.after_commit = after_commit
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.coalesce_seconds = coalesce_seconds
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stay = False
        self._stopped = False
        self._done = threading.Condition()
        self._processed_up_to = 0
        self._rounds = 0
        self._checked_ids = False

    def wake(self) -> None:
        """New entries are in the log: process them now (starting the thread if needed)."""
        with self._lock:
            self._wake.set()
            if self._stopped:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="warroom-intake-processor", daemon=True
                )
                self._thread.start()

    def keep_running(self) -> None:
        """For a server: keep polling the log when idle (entries of other processes, and
        what a crashed process left), instead of stopping after `idle_seconds`."""
        self._stay = True
        self.wake()

    @property
    def keeps_running(self) -> bool:
        """Whether this processor polls when idle (a server's) rather than stopping."""
        return self._stay

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)

    def wait_processed(self, request_id: int, timeout: float) -> bool:
        """Block until this process's processor has got past `request_id` (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self._processed_up_to < request_id:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def run_once(self) -> int:
        """Process one batch; returns how many logged requests it took, or `BUSY` when another
        processor (another replica's) is at work on the log."""
        try:
            found = self._process_batch(isolate=False)
        except RequestFailed:
            # Nothing of that attempt was kept: again, each request in a savepoint of its own,
            # so only the failing one is recorded as failed.
            found = self._process_batch(isolate=True)
        if found is None:
            return 0
        if found is _BUSY:
            return BUSY
        entries, results = found
        top = entries[-1].id
        with self._done:
            self._processed_up_to = max(self._processed_up_to, top)
            self._done.notify_all()
        try:
            self.after_commit(results)
        except Exception:  # callbacks must never stop the processor
            log.exception("after-commit callback failed")
        return len(entries)

    def _process_batch(self, *, isolate: bool) -> tuple[list[LoggedRequest], list[Any]] | None:
        with self.log.main.write() as conn:
            if not try_serialise(conn, "warroom-intake-processor"):
                return _BUSY
            entries = self.log.pending(conn)
            if not entries:
                return None
            results = self.process(conn, entries, isolate)
            self.log.consumed(conn, [e.id for e in entries])
        return entries, results

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._stopped:
            self._wake.clear()
            try:
                if not self._checked_ids:
                    with self.log.main.write() as conn:
                        self.log.ensure_ids_after(conn)
                    self._checked_ids = True
                taken = self.run_once()
            except Exception:
                log.exception("intake processing failed; retrying in 1 s")
                time.sleep(1)
                continue
            if taken == BUSY:
                # Another processor is draining the log, ours included: look again shortly
                # (never stop while it may have missed what was appended here meanwhile).
                time.sleep(self.coalesce_seconds)
                continue
            if taken:
                idle_since = time.monotonic()
                self._rounds += 1
                if self._rounds % 50 == 0:
                    self._trim()
                if 1 < taken < BATCH:
                    # Under a stream (requests came while the last round ran), let the next
                    # batch fill a little: each round has a fixed cost (a transaction, its
                    # fsync, the bookkeeping) that a fuller batch shares. Requests that come
                    # one at a time are processed at once.
                    time.sleep(self.coalesce_seconds)
                continue
            self._trim_when_idle()
            if self._wake.wait(self.poll_seconds if self._stay else self.idle_seconds):
                continue
            if not self._stay and time.monotonic() - idle_since >= self.idle_seconds:
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return

    def _trim_when_idle(self) -> None:
        if self._rounds:
            self._rounds = 0
            self._trim()

    def _trim(self) -> None:
        try:
            self.log.trim(self.clock())
        except Exception:
            log.warning("could not trim the intake log", exc_info=True)
