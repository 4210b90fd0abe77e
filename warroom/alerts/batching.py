"""Group commit: intake jobs from many requests share one write transaction.

SQLite has one writer and every commit is an fsync; committing each webhook on its own caps
intake at a few hundred requests per second. The batcher runs queued jobs back to back in one
transaction (each inside a SAVEPOINT, so one bad job rolls back alone) and commits once; every
caller is answered only after that commit. On PostgreSQL the same code simply batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from warroom.core.db import Database

T = TypeVar("T")
Job = Callable[[Connection], Any]


class GroupCommitter:
    """A single writer thread that commits queued jobs in batches of up to `max_batch`."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        idle_seconds: float = 2.0,
        after_commit: Callable[[list[Any]], None] | None = None,
        before_commit: Callable[[Connection], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.after_commit = after_commit
        self.before_commit = before_commit
        self.on_rollback = on_rollback
        self._queue: queue.Queue[tuple[Job, Future[Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: Callable[[Connection], T], timeout: float = 60.0) -> T:
        """Run `job(conn)` in the next batch; return its result once the batch is committed."""
        result: T = self.enqueue(job).result(timeout=timeout)
        return result

    def enqueue(self, job: Callable[[Connection], T]) -> Future[T]:
        """Queue `job(conn)`; the future resolves once its batch is committed."""
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the intake writer is stopped")
            self._queue.put((job, future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="warroom-intake-writer", daemon=True
                )
                self._thread.start()
        return future

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:  # idle: stop; the next submit starts a new thread
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Job, Future[Any]]]) -> None:
        live = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        try:
            try:
                # Fast path: the whole batch in one transaction without savepoints.
                outcomes = self._run_jobs(live, savepoints=False)
            except _JobFailed:
                # A job failed: nothing was kept; run again, each job in its own savepoint, so
                # only the failing one is refused.
                if self.on_rollback is not None:
                    self.on_rollback()
                outcomes = self._run_jobs(live, savepoints=True)
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            if self.on_rollback is not None:
                self.on_rollback()
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self.after_commit is not None:
            with suppress(Exception):  # callbacks must never fail the intake
                self.after_commit([value for _, ok, value in outcomes if ok])

    def _run_jobs(
        self, jobs: list[tuple[Job, Future[Any]]], *, savepoints: bool
    ) -> list[tuple[Future[Any], bool, Any]]:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        with self.db.write() as conn:
            for job, future in jobs:
                if not savepoints:
                    try:
                        outcomes.append((future, True, job(conn)))
                    except Exception as exc:
                        raise _JobFailed() from exc
                    continue
                savepoint = conn.begin_nested()
                try:
                    result = job(conn)
                except Exception as exc:
                    savepoint.rollback()
                    outcomes.append((future, False, exc))
                else:
                    savepoint.commit()
                    outcomes.append((future, True, result))
            if self.before_commit is not None:
                self.before_commit(conn)
        return outcomes


class _JobFailed(Exception):
    """A job of a savepoint-free batch raised; the batch is rolled back and run again."""
