"""The outbox: every side effect is a row with a due time, written in the use case's transaction.

Workers claim due rows with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
writer, so a plain claim inside `BEGIN IMMEDIATE` is already exclusive), run them, and mark
them done, or due again with backoff, or dead after too many attempts. A `dedup_key` makes an
effect exactly-once per logical step: enqueueing the same key twice keeps the first row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.engine import Connection

from warroom.core import tables
from warroom.core.db import DriverRows, driver_json, driver_time, mark_outbox_due
from warroom.core.upsert import Upsert

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"  # retryable failure, due again later
DEAD = "dead"  # gave up; visible in `warroom outbox`
CANCELLED = "cancelled"

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Effect:
    """A side effect to enqueue: what, when, for which incident, and its idempotency key."""

    kind: str
    payload: dict[str, Any]
    due_at: datetime
    incident_id: int | None = None
    dedup_key: str | None = None


@dataclass(frozen=True)
class ClaimedEffect:
    id: int
    kind: str
    payload: dict[str, Any]
    incident_id: int | None
    attempts: int
    due_at: datetime
    dedup_key: str | None


@dataclass(frozen=True)
class Outcome:
    """What a handler reports: done (`ok`), or failed and whether to try again later."""

    ok: bool
    message: str = ""
    retryable: bool = True


@dataclass(frozen=True)
class Delivered:
    """A delivery's outcome, and what to write about it (`record(conn)`: its log, its timeline
    entry) in the transaction that records the outcome, so a batch of deliveries commits once."""

    outcome: Outcome
    record: Callable[[Connection], None] | None = None


Handle = Callable[["Runtime", ClaimedEffect], Outcome]
HandleInTransaction = Callable[["Runtime", Connection, ClaimedEffect], Outcome]
Deliver = Callable[["Runtime", ClaimedEffect], Delivered]


def standalone(deliver: Deliver) -> Handle:
    """The `handle` of a handler that declares `deliver`: the delivery, then its writes in a
    transaction of their own (the worker itself records them with the outcome)."""

    def handle(runtime: Runtime, effect: ClaimedEffect) -> Outcome:
        delivered = deliver(runtime, effect)
        if delivered.record is not None:
            with runtime.db.write() as conn:
                delivered.record(conn)
        return delivered.outcome

    return handle


@dataclass(frozen=True)
class EffectHandler:
    """How the worker runs one kind of effect. A package declares its handlers in its
    `effects.py` and lists them in its plug-in (`Plugin.effect_handlers`).

    `handle(runtime, effect)` re-checks its condition at fire time and returns an Outcome.
    The options say how the worker may schedule it:
    - `in_transaction(runtime, conn, effect)`: the same work done only through `conn` (database
      writes, no outside effect): a round runs all such effects in one transaction, each in a
      savepoint, and records their outcomes in it;
    - `transactional`: `handle` writes only in its own idempotent transaction, so its outcome
      may be recorded with the rest of the round (a crash repeats it harmlessly);
    - `concurrent`: one outside delivery each; up to `worker_concurrency` run at a time in a
      thread pool;
    - `deliver(runtime, effect)`: a concurrent handler's delivery without its own writes: they
      come back as `Delivered.record`, which the worker runs in the transaction that records
      the outcome (`handle` stays the stand-alone form: the delivery, then its writes);
    - `urgent`: pages: claimed and run before the other effects due at the same time.
    """

    kind: str
    handle: Handle
    in_transaction: HandleInTransaction | None = None
    transactional: bool = False
    concurrent: bool = False
    urgent: bool = False
    deliver: Deliver | None = None

    @classmethod
    def delivering(cls, kind: str, deliver: Deliver, *, urgent: bool = False) -> EffectHandler:
        """A concurrent handler declared by its `deliver`, its `handle` being the stand-alone
        form of it."""
        return cls(kind, standalone(deliver), concurrent=True, urgent=urgent, deliver=deliver)


def enqueue(conn: Connection, effects: list[Effect], now: datetime) -> int:
    """Insert effects; rows whose dedup_key already exists are skipped. Returns rows added.

    `INSERT ... ON CONFLICT (dedup_key) DO NOTHING` for each, straight through the driver
    (every new incident enqueues several): no look-up first, and a concurrent transaction
    enqueueing the same key cannot fail the whole use case. An effect due now wakes this
    process's worker once the transaction commits.
    """
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    due_now = False
    dialect = conn.dialect
    created_at = driver_time(dialect, now)
    for effect in effects:
        if effect.dedup_key is not None:
            if effect.dedup_key in seen:
                continue
            seen.add(effect.dedup_key)
        due_now = due_now or effect.due_at <= now
        rows.append(
            {
                "kind": effect.kind,
                "payload": driver_json(effect.payload),
                "incident_id": effect.incident_id,
                "dedup_key": effect.dedup_key,
                "status": PENDING,
                "due_at": driver_time(dialect, effect.due_at),
                "attempts": 0,
                "created_at": created_at,
            }
        )
    added = _INSERT_IGNORING_DUPLICATES.execute(conn, rows)
    if due_now and added:
        mark_outbox_due(conn)
    return added


_ENQUEUED = ("kind", "payload", "incident_id", "dedup_key", "status", "due_at", "attempts")
_INSERT_IGNORING_DUPLICATES = DriverRows(
    Upsert(
        lambda insert: (
            insert(tables.outbox)
            .values({name: bindparam(name) for name in (*_ENQUEUED, "created_at")})
            .on_conflict_do_nothing(index_elements=["dedup_key"])
        )
    )
)


def claim_due(
    conn: Connection,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    kinds: tuple[str, ...],
    limit: int = 50,
    due_by: datetime | None = None,
) -> list[ClaimedEffect]:
    """Claim up to `limit` due effects of `kinds` (pending, retryable, or with a lapsed lease).

    Effects of kinds this worker has no handler for stay pending for a worker that has one.
    `due_by` (default `now`): only pending effects due by then.
    """
    t = tables.outbox
    due = or_(
        and_(t.c.status.in_((PENDING, FAILED)), t.c.due_at <= (due_by or now)),
        and_(t.c.status == RUNNING, t.c.lease_until < now),
    )
    query = select(t).where(due, t.c.kind.in_(kinds)).order_by(t.c.due_at, t.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    conn.execute(
        update(t)
        .where(t.c.id.in_(ids))
        .values(
            status=RUNNING, lease_owner=owner, lease_until=now + lease, attempts=t.c.attempts + 1
        )
    )
    return [
        ClaimedEffect(
            id=r.id,
            kind=r.kind,
            payload=r.payload,
            incident_id=r.incident_id,
            attempts=r.attempts + 1,
            due_at=r.due_at,
            dedup_key=r.dedup_key,
        )
        for r in rows
    ]


def release(conn: Connection, effect_ids: list[int], owner: str) -> int:
    """Hand claimed effects back unrun (due as before, the claim's attempt not counted)."""
    t = tables.outbox
    result = conn.execute(
        update(t)
        .where(t.c.id.in_(effect_ids), t.c.status == RUNNING, t.c.lease_owner == owner)
        .values(
            status=case((t.c.attempts > 1, FAILED), else_=PENDING),
            attempts=t.c.attempts - 1,
            lease_owner=None,
            lease_until=None,
        )
    )
    return int(result.rowcount)


def renew(conn: Connection, effect_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
    """Extend this worker's lease on a claimed effect; False if another worker took it over."""
    t = tables.outbox
    result = conn.execute(
        update(t)
        .where(t.c.id == effect_id, t.c.status == RUNNING, t.c.lease_owner == owner)
        .values(lease_until=now + lease)
    )
    return result.rowcount == 1


def mark_done(conn: Connection, effect_id: int, owner: str, now: datetime) -> bool:
    """Finish a claimed effect; False if the lease was lost to another worker."""
    t = tables.outbox
    result = conn.execute(
        update(t)
        .where(t.c.id == effect_id, t.c.status == RUNNING, t.c.lease_owner == owner)
        .values(status=DONE, done_at=now, lease_until=None, last_error=None)
    )
    return result.rowcount == 1


_DONE_MANY = (
    update(tables.outbox)
    .where(
        tables.outbox.c.id.in_(bindparam("ids", expanding=True)),
        tables.outbox.c.status == RUNNING,
        tables.outbox.c.lease_owner == bindparam("owner"),
    )
    .values(status=DONE, done_at=bindparam("now"), lease_until=None, last_error=None)
)


def mark_done_many(conn: Connection, effect_ids: list[int], owner: str, now: datetime) -> int:
    """Finish several claimed effects in one statement; returns how many were still ours."""
    result = conn.execute(_DONE_MANY, {"ids": effect_ids, "owner": owner, "now": now})
    return int(result.rowcount)


def mark_failed(
    conn: Connection,
    effect_id: int,
    owner: str,
    now: datetime,
    error: str,
    *,
    attempts: int,
    retryable: bool,
) -> str:
    """Record a failure: due again with exponential backoff, or dead. Returns the new status."""
    t = tables.outbox
    status = FAILED if retryable and attempts < MAX_ATTEMPTS else DEAD
    backoff = timedelta(seconds=min(2 ** (attempts - 1) * 5, 900))
    conn.execute(
        update(t)
        .where(t.c.id == effect_id, t.c.status == RUNNING, t.c.lease_owner == owner)
        .values(status=status, due_at=now + backoff, last_error=error[:2000], lease_until=None)
    )
    return status


def cancel(conn: Connection, *, incident_id: int, kinds: tuple[str, ...]) -> int:
    """Cancel pending effects of the given kinds for an incident (e.g. on acknowledge)."""
    t = tables.outbox
    result = conn.execute(
        update(t)
        .where(
            t.c.incident_id == incident_id,
            t.c.kind.in_(kinds),
            t.c.status.in_((PENDING, FAILED)),
        )
        .values(status=CANCELLED)
    )
    return int(result.rowcount)


def retry(conn: Connection, effect_id: int, now: datetime) -> bool:
    t = tables.outbox
    result = conn.execute(
        update(t)
        .where(t.c.id == effect_id, t.c.status.in_((FAILED, DEAD)))
        .values(status=PENDING, due_at=now, attempts=0)
    )
    return result.rowcount == 1


def depth(conn: Connection) -> dict[str, int]:
    t = tables.outbox
    rows = conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all()
    return {str(status): int(count) for status, count in rows}
