"""The outbox and the worker loop on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from warroom.core import outbox, tables
from warroom.core.outbox import EffectHandler
from warroom.core.runtime import Runtime
from warroom.worker import Outcome, Worker


def effect(
    kind: str = "test", key: str | None = None, delay: int = 0, **payload: object
) -> outbox.Effect:
    return outbox.Effect(kind=kind, payload=dict(payload), due_at=T(delay), dedup_key=key)


def T(minutes: int):  # type: ignore[no-untyped-def]
    from tests.conftest import T0

    return T0 + timedelta(minutes=minutes)


def statuses(runtime: Runtime) -> list[str]:
    with runtime.db.read() as conn:
        return [r.status for r in conn.execute(select(tables.outbox).order_by(tables.outbox.c.id))]


def test_dedup_key_enqueues_once(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        assert outbox.enqueue(conn, [effect(key="step-1"), effect(key="step-1")], T(0)) == 1
    with runtime.db.write() as conn:
        assert outbox.enqueue(conn, [effect(key="step-1")], T(0)) == 0
    assert statuses(runtime) == ["pending"]


def test_worker_runs_due_effects_only_and_once(runtime: Runtime) -> None:
    fired: list[object] = []

    def handler(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        fired.append(claimed.payload["n"])
        return Outcome(True)

    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect(n=1), effect(n=2, delay=10), effect(kind="other", n=3)], T(0))
    worker = Worker(runtime, [EffectHandler("test", handler)])
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert fired == [1]
    runtime.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    assert worker.run_once() == 1
    assert fired == [1, 2]
    # The effect without a handler waits for a worker that has one.
    assert statuses(runtime) == ["done", "done", "pending"]


def test_failures_retry_with_backoff_then_die(runtime: Runtime) -> None:
    attempts: list[int] = []

    def flaky(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        attempts.append(claimed.attempts)
        return Outcome(False, "receiver down", retryable=True)

    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect()], T(0))
    worker = Worker(runtime, [EffectHandler("test", flaky)])
    for _ in range(outbox.MAX_ATTEMPTS):
        assert worker.run_once() == 1
        assert worker.run_once() == 0  # backoff: not due again yet
        runtime.clock.advance(timedelta(minutes=20))  # type: ignore[attr-defined]
    assert attempts == list(range(1, outbox.MAX_ATTEMPTS + 1))
    assert statuses(runtime) == ["dead"]
    with runtime.db.write() as conn:
        rows = conn.execute(select(tables.outbox.c.id, tables.outbox.c.last_error)).all()
        assert rows[0].last_error == "receiver down"
        assert outbox.retry(conn, rows[0].id, runtime.clock.now())
    assert statuses(runtime) == ["pending"]


def test_permanent_failure_dies_at_once(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect()], T(0))
    worker = Worker(
        runtime, [EffectHandler("test", lambda rt, c: Outcome(False, "bad url", retryable=False))]
    )
    worker.run_once()
    assert statuses(runtime) == ["dead"]


def test_expired_lease_is_reclaimed(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect()], T(0))
        claimed = outbox.claim_due(
            conn, owner="crashed", now=T(0), lease=timedelta(seconds=30), kinds=("test",)
        )
    assert len(claimed) == 1
    fired: list[int] = []
    worker = Worker(
        runtime,
        [EffectHandler("test", lambda rt, c: fired.append(c.attempts) or Outcome(True))],
    )
    assert worker.run_once() == 0  # still leased by the crashed worker
    runtime.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert worker.run_once() == 1
    assert fired == [2]
    assert statuses(runtime) == ["done"]


def test_pages_go_first_and_other_work_waits_unless_overdue(runtime: Runtime) -> None:
    """While urgent effects (pages) are due, others wait for a later round, except those
    overdue by more than the starvation limit."""
    from warroom.worker import STARVATION_LIMIT

    ran: list[str] = []

    def handler(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        ran.append(str(claimed.payload["n"]))
        return Outcome(True)

    overdue = -int(STARVATION_LIMIT.total_seconds() // 60) - 1
    with runtime.db.write() as conn:
        outbox.enqueue(
            conn,
            [effect(kind="page", n="page"), effect(n="fresh"), effect(n="overdue", delay=overdue)],
            T(0),
        )
    worker = Worker(
        runtime, [EffectHandler("page", handler, urgent=True), EffectHandler("test", handler)]
    )
    assert worker.run_once() == 2
    assert sorted(ran) == ["overdue", "page"]
    assert worker.run_once() == 1  # no page due any more: the rest runs
    assert ran[-1] == "fresh"


def test_shared_transaction_keeps_the_others_when_one_effect_fails(runtime: Runtime) -> None:
    """Database-only effects of a round share one transaction; one that raises is rolled back
    alone (and retried), the others' writes and outcomes are kept."""
    from sqlalchemy.engine import Connection

    def noop(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        raise AssertionError("runs in the shared transaction")

    def write_in(rt: Runtime, conn: Connection, claimed: outbox.ClaimedEffect) -> Outcome:
        outbox.enqueue(conn, [effect(kind="made", key=f"made-{claimed.payload['n']}")], T(60))
        if claimed.payload["n"] == 2:
            raise RuntimeError("boom")
        return Outcome(True)

    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect(n=1), effect(n=2), effect(n=3)], T(0))
    worker = Worker(runtime, [EffectHandler("test", noop, in_transaction=write_in)])
    assert worker.run_once() == 3
    with runtime.db.read() as conn:
        rows = conn.execute(select(tables.outbox).order_by(tables.outbox.c.id)).all()
    by_key = {r.dedup_key: r.status for r in rows if r.kind == "made"}
    assert by_key == {"made-1": "pending", "made-3": "pending"}
    assert [r.status for r in rows if r.kind == "test"] == ["done", "failed", "done"]


def test_other_work_yields_to_a_page_that_becomes_due(runtime: Runtime) -> None:
    """Once another thread (alert intake, say) commits a page due now while a round runs other
    work, the rest of that work is handed back unrun (pending, its attempt not counted) and
    the next round starts with the page."""
    import threading

    ran: list[int] = []

    def page_arrives() -> None:
        with runtime.db.write() as conn:
            outbox.enqueue(conn, [effect(kind="page", n=-1)], runtime.clock.now())

    def slow_work(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        ran.append(int(str(claimed.payload["n"])))
        if len(ran) == 1:
            other = threading.Thread(target=page_arrives)
            other.start()
            other.join()
        return Outcome(True)

    pages: list[object] = []

    def page(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        pages.append(claimed.payload["n"])
        return Outcome(True)

    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect(n=n) for n in range(5)], T(0))
    worker = Worker(
        runtime,
        [EffectHandler("test", slow_work), EffectHandler("page", page, urgent=True)],
    )
    assert worker.run_once() == 1
    with runtime.db.read() as conn:
        rows = conn.execute(select(tables.outbox).where(tables.outbox.c.kind == "test")).all()
    assert [r.status for r in rows].count("done") == 1
    handed_back = [r for r in rows if r.status != "done"]
    assert {(r.status, r.attempts, r.lease_owner) for r in handed_back} == {("pending", 0, None)}
    assert len(handed_back) == 4
    assert worker.run_once() == 1 and pages == [-1]  # the page first...
    while worker.run_once():
        pass
    assert sorted(ran) == list(range(5))  # ...then the rest, each once


@pytest.mark.parametrize("concurrency", [1, 4])
def test_deliveries_write_with_their_outcomes_and_one_that_fails_to_is_sent_again(
    runtime: Runtime, concurrency: int
) -> None:
    """A concurrent handler's `deliver` leaves its writes (a delivery log, a timeline entry)
    to the worker, which runs them in the transaction that records the outcomes; one whose
    writes raise is rolled back alone and marked failed (so sent again), the others kept."""
    from sqlalchemy.engine import Connection

    def alone(rt: Runtime, claimed: outbox.ClaimedEffect) -> Outcome:
        raise AssertionError("the worker uses deliver")

    def deliver(rt: Runtime, claimed: outbox.ClaimedEffect) -> outbox.Delivered:
        n = claimed.payload["n"]

        def record(conn: Connection) -> None:
            outbox.enqueue(conn, [effect(kind="log", key=f"log-{n}")], T(60))
            if n == 2:
                raise RuntimeError("boom")

        return outbox.Delivered(Outcome(True, "sent"), record)

    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect(n=1), effect(n=2), effect(n=3)], T(0))
    handler = EffectHandler("test", alone, concurrent=True, urgent=True, deliver=deliver)
    assert Worker(runtime, [handler], concurrency=concurrency).run_once() == 3
    with runtime.db.read() as conn:
        rows = conn.execute(select(tables.outbox).order_by(tables.outbox.c.id)).all()
    assert sorted(r.dedup_key for r in rows if r.kind == "log") == ["log-1", "log-3"]
    assert [r.status for r in rows if r.kind == "test"] == ["done", "failed", "done"]
