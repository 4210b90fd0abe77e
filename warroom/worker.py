"""The worker: claims due outbox effects with a lease and runs their handlers.

Handlers are declared per effect kind (`warroom.core.outbox.EffectHandler`, listed by each
plug-in). Each handler re-checks its condition at fire time (the incident may have been
acknowledged since the effect was planned) and returns an Outcome.
A handler whose work is only database writes may also offer `in_transaction(runtime, conn,
effect)`: the worker then runs all such effects of a round in one transaction (each in a
savepoint) and marks them done in it, one commit for the lot instead of two per effect.
Handlers marked `concurrent` (deliveries of one message each) run up to `worker_concurrency`
at a time in a thread pool; their outcomes are recorded as they finish, those finished while
the previous record was committing together in one commit (SQLite commits one transaction at
a time, each an fsync). A crash repeats at most `worker_concurrency` deliveries (in flight or
not yet recorded); with concurrency 1, at most the one in flight, as before.
Handlers marked `urgent` (pages) are claimed and run before the others due at the same
time. The worker polls every `worker_poll_seconds`, and wakes at once when a transaction in its own
process commits an effect due now (other processes' effects wait for the poll).
On SQLite only one worker may run per database (a lock file in the data dir enforces it); on
PostgreSQL any number run at once and `FOR UPDATE SKIP LOCKED` keeps them apart.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TypeVar

from sqlalchemy.engine import Connection

from warroom.core import outbox
from warroom.core.runtime import Runtime

log = logging.getLogger("warroom.worker")
T = TypeVar("T")


# Re-exported: handlers written before the outbox declared them import these from here.
Outcome = outbox.Outcome
EffectHandler = outbox.EffectHandler


# While pages are due, other effects wait unless they are overdue by more than this.
STARVATION_LIMIT = timedelta(seconds=10)
# Other effects run in transactions of this many; between them they yield to new pages.
OTHERS_PER_TRANSACTION = 25


class _EffectFailed(Exception):
    """An effect of a savepoint-free shared transaction raised: run them again, each in its
    own savepoint."""


class WorkerLocked(RuntimeError):
    """Another worker already runs against this SQLite database."""


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        handlers: Iterable[EffectHandler] = (),
        *,
        name: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.handlers: dict[str, EffectHandler] = dict(runtime.effect_handlers)
        self.handlers.update((h.kind, h) for h in handlers)
        self.urgent_kinds = frozenset(k for k, h in self.handlers.items() if h.urgent)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = lease
        # SQLite has one worker: bigger rounds fire a burst of due timers sooner. On PostgreSQL
        # smaller rounds share the work between workers.
        self.batch = batch if batch is not None else (500 if runtime.db.is_sqlite else 100)
        self.concurrency = max(
            1, concurrency if concurrency is not None else runtime.settings.worker_concurrency
        )
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._lock_file: IO[str] | None = None

    def acquire_single_writer_lock(self) -> None:
        """On SQLite, refuse to start a second worker for the same database."""
        if not self.runtime.db.is_sqlite:
            return
        path = Path(f"{self.runtime.db.sqlite_file}.worker.lock")
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise WorkerLocked(
                f"another warroom worker already runs on {path.with_suffix('')}; on SQLite only "
                "one worker may run (use PostgreSQL to run several)"
            ) from None
        self._lock_file = handle

    def release_single_writer_lock(self) -> None:
        """Let another worker start (this one has stopped running effects)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def run_once(self) -> int:
        """Claim and run every effect due now; return how many ran."""
        if not self.handlers:
            return 0
        now = self.runtime.clock.now()
        mark = self.runtime.db.due_mark()
        urgent = tuple(k for k in self.handlers if k in self.urgent_kinds)
        others = tuple(k for k in self.handlers if k not in self.urgent_kinds)
        claimed, done = self._claim_and_fire_pages(now, urgent, others)
        deliveries = _Deliveries(self) if self.concurrency > 1 else None
        if deliveries is not None:
            # Deliveries first: they run in the pool while this thread does the work below.
            for effect in claimed:
                handler = self.handlers[effect.kind]
                if handler.concurrent:
                    deliveries.submit(handler, effect)
                    done.add(effect.id)
        batched = [e for e in claimed if self._in_transaction(e.kind) is not None]
        rest = [e for e in batched if e.kind not in self.urgent_kinds]
        for start in range(0, len(rest), OTHERS_PER_TRANSACTION):
            if start and self._pages_waiting(urgent, mark):
                break  # released below, for a later round
            chunk = rest[start : start + OTHERS_PER_TRANSACTION]
            if self._run_in_one_transaction(chunk):
                done.update(e.id for e in chunk)
        pending: list[tuple[outbox.ClaimedEffect, Outcome]] = []
        released: list[outbox.ClaimedEffect] = []
        ran_other = bool(rest)
        for effect in claimed:
            if effect.id in done:
                continue
            if effect.kind not in self.urgent_kinds:
                if ran_other and self._pages_waiting(urgent, mark):
                    released.append(effect)  # other work yields to pages due meanwhile
                    continue
                ran_other = True
            # A long batch can outlive its lease: renew it first, and skip the effect when
            # another worker has taken it over (it would otherwise fire twice).
            if self.runtime.clock.now() - now > self.lease / 2:
                self._finish(pending)
                pending = []
                with self.runtime.db.write() as conn:
                    if not outbox.renew(
                        conn, effect.id, self.name, self.runtime.clock.now(), self.lease
                    ):
                        continue
            handler = self.handlers[effect.kind]
            if handler.concurrent:
                if deliveries is not None:
                    deliveries.submit(handler, effect)
                else:
                    self._finish_deliveries([(effect, self._deliver(handler, effect))])
                continue
            outcome = self._call(handler, effect)
            if handler.transactional:
                # Its writes are its own idempotent transaction: re-running it after a crash
                # is harmless, so its completion is recorded with the rest of the batch.
                pending.append((effect, outcome))
            else:
                # Outside effects (a message sent) are recorded done at once, so a crash
                # repeats at most the one in flight (a short commit, ahead of other writers).
                self._finish([(effect, outcome)], urgent=True)
        if deliveries is not None:
            deliveries.wait()
        self._finish(pending)
        if released:
            with self.runtime.db.write() as conn:
                outbox.release(conn, [e.id for e in released], self.name)
        return len(claimed) - len(released)

    def _claim_and_fire_pages(
        self, now: datetime, urgent: tuple[str, ...], others: tuple[str, ...]
    ) -> tuple[list[outbox.ClaimedEffect], set[int]]:
        """Claim what is due and, in the same transaction, fire the pages' escalation steps
        (urgent database-only effects) and claim the notifications they plan, due now: a
        page goes from its incident's commit to the delivery threads in one more commit.
        SQLite has one writer at a time, and alert intake holds it for most of a storm, so
        every commit on a page's way costs it a turn in that queue.

        Returns the effects claimed and the ids of those already done."""
        follow_ups = tuple(k for k in urgent if self.handlers[k].concurrent)

        def claim_and_fire(
            conn: Connection, savepoints: bool
        ) -> tuple[list[outbox.ClaimedEffect], set[int]]:
            claimed = self._claim(conn, now, urgent, others)
            pages = [
                e for e in claimed if e.kind in self.urgent_kinds and self._in_transaction(e.kind)
            ]
            if pages:
                self._record(
                    conn, [(e, self._run_in(conn, e, savepoints=savepoints)) for e in pages]
                )
                if follow_ups:
                    claimed += self._claim_kinds(conn, now, follow_ups, self.batch)
            return claimed, {e.id for e in pages}

        # Pages wait on it: ahead of other writers of this process.
        return self._all_or_each(claim_and_fire, urgent=bool(urgent))

    def _claim(
        self,
        conn: Connection,
        now: datetime,
        urgent: tuple[str, ...],
        others: tuple[str, ...],
    ) -> list[outbox.ClaimedEffect]:
        claimed = self._claim_kinds(conn, now, urgent, self.batch) if urgent else []
        # While pages are due, other work (similar incidents, correlation, ...) waits for
        # them, so an alert storm's pages are not slowed down by it; only a few effects
        # overdue by more than STARVATION_LIMIT go along, so none waits for ever.
        room = self.batch - len(claimed)
        due_by = None
        if claimed:
            room = min(room, max(1, self.batch // 50))
            due_by = now - STARVATION_LIMIT
        if others and room > 0:
            claimed += self._claim_kinds(conn, now, others, room, due_by)
        return claimed

    def _claim_kinds(
        self,
        conn: Connection,
        now: datetime,
        kinds: tuple[str, ...],
        limit: int,
        due_by: datetime | None = None,
    ) -> list[outbox.ClaimedEffect]:
        return outbox.claim_due(
            conn,
            owner=self.name,
            now=now,
            lease=self.lease,
            kinds=kinds,
            limit=limit,
            due_by=due_by,
        )

    def _all_or_each(self, work: Callable[[Connection, bool], T], **write: bool) -> T:
        """`work(conn, savepoints)` in one write transaction: first with every effect in one go;
        if one raises, nothing is kept and it all runs again with each effect in a savepoint,
        so only the one that raises is rolled back (and marked failed, to be retried)."""
        try:
            with self.runtime.db.write(**write) as conn:
                return work(conn, False)
        except _EffectFailed:
            pass
        with self.runtime.db.write(**write) as conn:
            return work(conn, True)

    def _pages_waiting(self, urgent: tuple[str, ...], mark: tuple[int, int]) -> bool:
        """Whether another thread of this process (alert intake, the API) committed an effect
        due now since the round began (a page, likely): other work of the round yields to it."""
        return bool(urgent) and self.runtime.db.due_elsewhere(mark)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="warroom-delivery")
        return self._pool

    def _in_transaction(self, kind: str) -> outbox.HandleInTransaction | None:
        return self.handlers[kind].in_transaction

    def _run_in_one_transaction(self, effects: list[outbox.ClaimedEffect]) -> bool:
        """Run database-only handlers together and record their outcomes in the same commit
        (see `_all_or_each`). False when the transaction itself failed: nothing was kept."""

        def run(conn: Connection, savepoints: bool) -> None:
            self._record(conn, [(e, self._run_in(conn, e, savepoints=savepoints)) for e in effects])

        try:
            self._all_or_each(run)
        except Exception:
            log.exception("a shared transaction of %d effects failed", len(effects))
            return False
        return True

    def _run_in(
        self, conn: Connection, effect: outbox.ClaimedEffect, *, savepoints: bool
    ) -> Outcome:
        run = self._in_transaction(effect.kind)
        assert run is not None
        return self._guarded(conn, effect, lambda: run(self.runtime, conn, effect), savepoints)

    def _guarded(
        self,
        conn: Connection,
        effect: outbox.ClaimedEffect,
        work: Callable[[], Outcome],
        savepoints: bool,
    ) -> Outcome:
        """An effect's writes in the shared transaction: without `savepoints` a failure
        raises `_EffectFailed` (the whole transaction runs again); with them it is rolled
        back alone and reported as a retryable failure."""
        if not savepoints:
            try:
                return work()
            except Exception as exc:
                raise _EffectFailed() from exc
        savepoint = conn.begin_nested()
        try:
            outcome = work()
        except Exception as exc:
            savepoint.rollback()
            return _raised(effect, exc)
        savepoint.commit()
        return outcome

    def _call(self, handler: EffectHandler, effect: outbox.ClaimedEffect) -> Outcome:
        try:
            return handler.handle(self.runtime, effect)
        except Exception as exc:
            return _raised(effect, exc)

    def _deliver(self, handler: EffectHandler, effect: outbox.ClaimedEffect) -> outbox.Delivered:
        if handler.deliver is None:
            return outbox.Delivered(self._call(handler, effect))
        try:
            return handler.deliver(self.runtime, effect)
        except Exception as exc:
            return outbox.Delivered(_raised(effect, exc))

    def _finish_deliveries(
        self, results: list[tuple[outbox.ClaimedEffect, outbox.Delivered]]
    ) -> None:
        """Record deliveries' outcomes and what they write about themselves (their log, their
        timeline entries) in one commit, ahead of other writers (pages' slots wait on it).

        Not waiting for the disk (`relaxed`): losing it to a power cut only re-sends those
        messages, the same as a crash mid-delivery; a killed process loses none. A delivery
        whose writes raise is rolled back alone and marked failed, to be sent again, as when
        its handler raises (`_all_or_each`)."""

        def write(conn: Connection, savepoints: bool) -> None:
            outcomes = []
            for effect, delivered in results:
                outcome = delivered.outcome
                if delivered.record is not None:
                    outcome = self._guarded(
                        conn, effect, _recording(delivered.record, conn, outcome), savepoints
                    )
                outcomes.append((effect, outcome))
            self._record(conn, outcomes)

        self._all_or_each(write, urgent=True, relaxed=True)

    def _finish(
        self, results: list[tuple[outbox.ClaimedEffect, Outcome]], *, urgent: bool = False
    ) -> None:
        if not results:
            return
        # Delivery outcomes (urgent) need not wait for the disk: losing one to a power cut only
        # re-sends that message, the same as a crash mid-delivery; a killed process loses none.
        with self.runtime.db.write(urgent=urgent, relaxed=urgent) as conn:
            self._record(conn, results)

    def _record(
        self, conn: Connection, results: list[tuple[outbox.ClaimedEffect, Outcome]]
    ) -> None:
        now = self.runtime.clock.now()
        done = [effect.id for effect, outcome in results if outcome.ok]
        if done:
            outbox.mark_done_many(conn, done, self.name, now)
        for effect, outcome in results:
            if not outcome.ok:
                outbox.mark_failed(
                    conn,
                    effect.id,
                    self.name,
                    now,
                    outcome.message,
                    attempts=effect.attempts,
                    retryable=outcome.retryable,
                )

    def run_forever(self, poll_seconds: float | None = None) -> None:
        poll = (
            poll_seconds if poll_seconds is not None else self.runtime.settings.worker_poll_seconds
        )
        log.info("worker %s started", self.name)
        wake = self.runtime.db.outbox_due
        while not self._stop.is_set():
            # Cleared before the claim: an effect committed after it sets it again, so the
            # wait below returns at once instead of missing it until the next poll.
            wake.clear()
            try:
                self.runtime.follow_config_file()  # the catalog `warroom demo` wrote
                ran = self.run_once()
            except Exception:
                log.exception("worker loop error; retrying")
                ran = 0
            if ran == 0:  # effects that ran may have planned more, due now
                wake.wait(poll)

    def stop(self) -> None:
        self._stop.set()
        self.runtime.db.outbox_due.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="warroom-worker", daemon=True)
        thread.start()
        return thread


def _raised(effect: outbox.ClaimedEffect, exc: Exception) -> Outcome:
    """The outcome of a handler that raised: logged, and tried again later."""
    log.exception("effect %s (%s) failed", effect.id, effect.kind, exc_info=exc)
    return Outcome(False, f"{type(exc).__name__}: {exc}", retryable=True)


def _recording(
    record: Callable[[Connection], None], conn: Connection, outcome: Outcome
) -> Callable[[], Outcome]:
    """A delivery's writes, reporting its outcome once they are done."""

    def write() -> Outcome:
        record(conn)
        return outcome

    return write


class _Deliveries:
    """Concurrent handlers of one round. A delivery holds one of `concurrency` slots from its
    start until its outcome is recorded; a recorder thread records the outcomes that have
    come in together, one transaction per batch, while the next deliveries run. So a crash
    repeats at most `concurrency` deliveries (those in flight or not yet recorded)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.slots = threading.Semaphore(worker.concurrency)
        self.finished: queue.Queue[tuple[outbox.ClaimedEffect, outbox.Delivered] | None] = (
            queue.Queue()
        )
        self.recorder: threading.Thread | None = None

    def submit(self, handler: EffectHandler, effect: outbox.ClaimedEffect) -> None:
        self.slots.acquire()
        if self.recorder is None:
            self.recorder = threading.Thread(
                target=self._record, name="warroom-delivery-recorder", daemon=True
            )
            self.recorder.start()
        self.worker._executor().submit(self._run, handler, effect)

    def wait(self) -> None:
        """Return once every delivery submitted has been recorded."""
        if self.recorder is None:
            return
        for _ in range(self.worker.concurrency):  # every slot back: nothing left in flight
            self.slots.acquire()
        self.finished.put(None)
        self.recorder.join()
        for _ in range(self.worker.concurrency):
            self.slots.release()

    def _run(self, handler: EffectHandler, effect: outbox.ClaimedEffect) -> None:
        self.finished.put((effect, self.worker._deliver(handler, effect)))

    def _record(self) -> None:
        done = False
        while not done:
            first = self.finished.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    more = self.finished.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    break
                batch.append(more)
            try:
                self.worker._finish_deliveries(batch)
            except Exception:  # left running: retried once their lease lapses
                log.exception("recording %d delivery outcomes failed", len(batch))
            finally:
                for _ in batch:
                    self.slots.release()


# ---- a worker in its own process, woken by its server ------------------------------------------


# What a server writes to its worker process's stdin: one byte per wake-up.
OUTBOX_WAKE = b"\n"  # an effect is due now
INTAKE_WAKE = b"i"  # webhooks were acknowledged (a worker started with --intake acts on them)


class WorkerProcess:
    """A worker in a child process of this server (`serve --worker-process`): woken through
    its stdin whenever this process commits an effect due now (a new incident's page) or
    acknowledges webhooks, so it starts at once instead of at its next poll; started again if
    it dies; stopped by closing its stdin, which it also sees when this process dies, even by
    kill -9. Writes to the pipe never block: a full pipe already holds wake-ups enough."""

    def __init__(self, runtime: Runtime, args: list[str], env: dict[str, str]) -> None:
        self.runtime = runtime
        self.args = args
        self.env = env
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # guards the child and its stdin (closed, replaced)
        self._stopping = threading.Event()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self, *, check_seconds: float = 0.5) -> None:
        """Start the child; RuntimeError if it exits at once (e.g. another worker runs)."""
        child = self._spawn()
        time.sleep(check_seconds)
        if child.poll() is not None:
            raise RuntimeError(f"the worker process exited at once (code {child.returncode})")
        for target, name in ((self._forward, "wakeups"), (self._supervise, "supervisor")):
            threading.Thread(target=target, name=f"warroom-worker-{name}", daemon=True).start()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self.runtime.db.outbox_due.set()  # lets the forwarding thread see the stop
        child = self._child
        if child is None:
            return
        with self._lock, suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()  # the worker stops at the end of its input
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(self.args, stdin=subprocess.PIPE, env=self.env)
        assert child.stdin is not None
        os.set_blocking(child.stdin.fileno(), False)
        with self._lock:
            self._child = child
        return child

    def wake_intake(self) -> None:
        """Webhooks were acknowledged: the child (`worker --intake`) acts on them now."""
        self._send(INTAKE_WAKE)

    def _send(self, wake: bytes) -> None:
        # A full pipe holds wake-ups enough; a dead child is started again by the supervisor,
        # and the new one looks at what is due when it starts.
        with self._lock, suppress(OSError):
            child = self._child
            if child is not None and child.stdin is not None and not child.stdin.closed:
                os.write(child.stdin.fileno(), wake)

    def _forward(self) -> None:
        due = self.runtime.db.outbox_due
        while not self._stopping.is_set():
            due.wait()
            due.clear()
            if not self._stopping.is_set():
                self._send(OUTBOX_WAKE)

    def _supervise(self) -> None:
        while True:
            with self._lock:
                child = self._child
            assert child is not None
            code = child.wait()
            if self._stopping.is_set():
                return
            log.error("the worker process exited (code %s); starting another in 1 s", code)
            if self._stopping.wait(1.0):
                return
            self._spawn()


def wake_on_input(
    worker: Worker, fd: int, on_intake: Callable[[], None] | None = None
) -> threading.Thread:
    """In `warroom worker --wake-on-stdin`: `OUTBOX_WAKE` from `fd` wakes the worker,
    `INTAKE_WAKE` calls `on_intake`; the input's end (the server has stopped or died) stops
    the worker."""

    def run() -> None:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                worker.stop()
                return
            if OUTBOX_WAKE in data:
                worker.runtime.db.outbox_due.set()
            if on_intake is not None and INTAKE_WAKE in data:
                on_intake()

    thread = threading.Thread(target=run, name="warroom-worker-wake-input", daemon=True)
    thread.start()
    return thread
