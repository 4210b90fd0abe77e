"""The intake log: acknowledged webhooks are processed once, in order, whatever happens between."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests.alerts.helpers import am_alert, am_payload, create_integration, post_am
from tests.conftest import Api
from warroom.alerts import domain
from warroom.alerts import tables as t
from warroom.core.auth import SYSTEM, Principal
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings


def _alerts(fingerprint: str, status: str = "firing") -> str:
    payload = am_payload([am_alert(fingerprint=fingerprint, status=status)])
    return domain.alerts_to_json(domain.parse_alertmanager(payload))


def test_the_202_says_accepted_and_its_location_says_what_processing_did(
    api: Api, admin_api: Api
) -> None:
    key = create_integration(admin_api, "prom", "alertmanager")
    response = api.client.post(
        "/api/v1/alerts/alertmanager",
        json=am_payload([am_alert(fingerprint="1000000000000001")]),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body == {"status": "accepted", "integration": "prom", "received": 1, "request": 1}
    assert response.headers["location"] == "/api/v1/alerts/requests/1"
    record = api.ok("GET", "/api/v1/alerts/requests/1", params={"wait": 30})
    assert record["status"] == "processed" and record["created"] == 1
    assert record["received_at"] and record["processed_at"] and len(record["incidents"]) == 1
    # The same status through an ingest token (what a sender holds).
    assert api.ok("GET", "/api/v1/alerts/requests/1")["alerts"] == record["alerts"]


def test_requests_are_processed_in_the_order_they_were_acknowledged(
    api: Api, admin_api: Api
) -> None:
    """Firing then resolved for the same alert, sent back to back: the alert ends resolved."""
    key = create_integration(admin_api, "prom", "alertmanager")
    for n in range(3):  # three episodes of one alert
        alert = am_alert(fingerprint="2000000000000001", starts_at=f"2026-11-23T09:5{n}:00Z")
        api.client.post(
            "/api/v1/alerts/alertmanager",
            json=am_payload([alert]),
            headers={"Authorization": f"Bearer {key}"},
        )
        status, last = post_am(api, key, am_payload([{**alert, "status": "resolved"}]))
        assert status == 202 and last["resolved"] == 1, last
    alerts = api.ok("GET", "/api/v1/alerts")["items"]
    assert [a["status"] for a in alerts] == ["resolved"] * 3


def test_a_request_that_cannot_be_processed_is_recorded_and_does_not_block_the_log(
    api: Api, admin_api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    key = create_integration(admin_api, "prom", "alertmanager")
    intake = runtime.alerts.intake
    # An entry whose integration no longer exists (deleted between acknowledging and acting).
    orphan = intake.log.append("gone", _alerts("3000000000000001"), clock.now()).result(10)
    status, body = post_am(api, key, am_payload([am_alert(fingerprint="3000000000000002")]))
    assert status == 202 and body["created"] == 1
    failed = api.ok("GET", f"/api/v1/alerts/requests/{orphan}")
    assert failed["status"] == "processed" and "NotFound" in failed["error"]
    assert intake.log.backlog() == 0


def test_what_a_dead_process_acknowledged_is_processed_once_by_the_next(
    settings: Settings, clock: FixedClock
) -> None:
    """Entries logged by a process that died before acting on them are processed by the next
    process that runs a processor (`warroom serve` starts one), exactly once."""
    first = Runtime.build(settings, clock=clock, run_migrations=False)
    try:
        integration, _ = first.alerts.create_integration(
            _admin(), "prom", "alertmanager", key="k" * 32
        )
        for n in range(3):  # appended, never processed: the process "dies" here
            first.alerts.intake.log.append("prom", _alerts(f"400000000000000{n}"), clock.now())
        first.alerts.intake.log.close()
    finally:
        first.close()
    second = Runtime.build(settings, clock=clock, run_migrations=False)
    try:
        assert second.alerts.intake.log.backlog() == 3
        processor = second.alerts.intake.processor
        assert processor.run_once() == 3
        assert processor.run_once() == 0  # nothing is processed twice
        with second.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(t.alerts)).scalar_one() == 3
        assert second.alerts.intake.log.backlog() == 0
    finally:
        second.close()
    assert integration.name == "prom"


def test_a_log_file_made_afresh_never_reuses_processed_ids(
    settings: Settings, clock: FixedClock, api: Api, admin_api: Api, runtime: Runtime
) -> None:
    """SQLite: if the log file is lost (deleted, or restored from an older copy), new entries
    still get ids after every processed one, so none is mistaken for already processed."""
    key = create_integration(admin_api, "prom", "alertmanager")
    for n in range(3):
        post_am(api, key, am_payload([am_alert(fingerprint=f"500000000000000{n}")]))
    log = runtime.alerts.intake.log
    if log.path is None:  # PostgreSQL: the log is a table of the database itself
        return
    log.close()
    for suffix in ("", "-wal", "-shm"):
        Path(log.path + suffix).unlink(missing_ok=True)
    fresh = Runtime.build(settings, clock=clock, run_migrations=False)
    try:
        with fresh.db.write() as conn:
            fresh.alerts.intake.log.ensure_ids_after(conn)
        new_id = fresh.alerts.intake.log.append(
            "prom", _alerts("5000000000000009"), clock.now()
        ).result(10)
        assert new_id == 4
        assert fresh.alerts.intake.log.backlog() == 1
        assert fresh.alerts.intake.processor.run_once() == 1
    finally:
        fresh.close()


def _admin() -> Principal:
    return SYSTEM


def test_a_processor_finding_another_at_work_steps_aside_and_comes_back(
    runtime: Runtime, clock: FixedClock
) -> None:
    """PostgreSQL replicas: one processor at a time; the others look again shortly, so what
    they appended is never left waiting for a later wake-up."""
    from warroom.alerts.intake_log import BUSY
    from warroom.core.db import serialise

    runtime.alerts.create_integration(_admin(), "prom", "alertmanager", key="k" * 32)
    intake = runtime.alerts.intake
    intake.log.append("prom", _alerts("6000000000000001"), clock.now()).result(10)
    if runtime.db.dialect != "postgresql":  # SQLite: one writer at a time anyway
        assert intake.processor.run_once() == 1
        return
    with runtime.db.engine.connect() as other, other.begin():
        serialise(other, "warroom-intake-processor")  # another replica's processor at work
        assert intake.processor.run_once() == BUSY
    assert intake.processor.run_once() == 1
    assert intake.log.backlog() == 0


def _sequence() -> list[list[dict[str, Any]]]:
    """Webhooks as a storm brings them: mostly repeats, with summaries that change, resolves,
    alerts firing again, and new alerts beside repeats in one request."""

    def alert(fp: str, summary: str = "", status: str = "firing", minute: int = 0) -> Any:
        found = am_alert(fingerprint=fp, status=status, starts_at=f"2026-11-23T09:{minute:02d}:00Z")
        if summary:
            found["annotations"] = {"summary": summary}
        return found

    a, b, c, d = "7000000000000001", "7000000000000002", "7000000000000003", "7000000000000004"
    return [
        [alert(a), alert(b)],
        [alert(a)],
        [alert(a, "latency up"), alert(a, "latency up")],
        [alert(b), alert(a, "latency up")],
        [alert(a, "latency down")],
        [alert(a, status="resolved")],
        [alert(b)],
        [alert(a, minute=5)],  # fires again: a new alert
        [alert(a, minute=5), alert(b)],
        [alert(c), alert(b)],
        [alert(c, "c changed"), alert(a, minute=5)],
        [alert(b, status="resolved"), alert(c)],
        [alert(b, minute=9), alert(c)],
        [alert(a, minute=5), alert(b, minute=9), alert(c, "c changed")],
        [alert(c)],  # back to the summary it had
        [alert(a, minute=5)],
        [alert(a, minute=5), alert(c, "c again")],
        [alert(c)],
        [alert(c, status="resolved")],
        # A second batch: resolves sent again (Alertmanager's next notification, its HA peer).
        [alert(c, status="resolved"), alert(b, minute=9)],
        [alert(c, status="resolved")],
        [alert(c, status="resolved", minute=7)],  # resolved, never seen firing: recorded
        [alert(c, status="resolved", minute=7), alert(a, minute=5)],
        [alert(b, minute=9), alert(c, status="resolved")],
        [alert(c, status="resolved"), alert(d), alert(c, status="resolved", minute=8)],
    ]


SECOND_BATCH = 19  # where the second batch of `_sequence()` starts


def _outcome(runtime: Runtime, integration: str) -> Any:
    """An integration's alerts, what each of its requests did, and its intake counters."""
    alerts = t.alerts.c
    done = t.intake_requests.c
    with runtime.db.read() as conn:
        rows = conn.execute(
            select(
                alerts.identity,
                alerts.status,
                alerts.count,
                alerts.summary,
                alerts.starts_at,
                alerts.last_seen,
                alerts.resolved_at,
            )
            .where(alerts.integration == integration)
            .order_by(alerts.id)
        ).all()
        results = conn.execute(
            select(done.result).where(done.integration == integration).order_by(done.id)
        ).scalars()
        counters = conn.execute(
            select(t.alert_counters.c.counter, t.alert_counters.c.value)
            .where(t.alert_counters.c.integration == integration)
            .order_by(t.alert_counters.c.counter)
        ).all()
    ids_by_row: dict[int, int] = {}

    def relative(ids: list[int]) -> list[int]:  # alert ids as the order they first appeared in
        return [ids_by_row.setdefault(i, len(ids_by_row)) for i in ids]

    summaries = [
        {**r, "alerts": relative(r["alerts"]), "incidents": len(r["incidents"])} for r in results
    ]
    return [tuple(r) for r in rows], summaries, [tuple(c) for c in counters]


def test_a_batch_of_repeats_ends_exactly_as_the_same_requests_processed_one_by_one(
    runtime: Runtime, clock: FixedClock
) -> None:
    """The processor counts a batch's repeats of open alerts and of resolves already recorded
    together; whatever else the batch holds (resolves, alerts firing again, new alerts, changed
    summaries), the alerts, what each request is recorded to have done and the intake counters
    are those of one request at a time."""
    intake = runtime.alerts.intake
    for name, key in (("one-by-one", "o" * 32), ("batched", "b" * 32)):
        runtime.alerts.create_integration(_admin(), name, "alertmanager", key=key)
    start = clock.now()
    webhooks = [
        domain.alerts_to_json(domain.parse_alertmanager(am_payload(alerts)))
        for alerts in _sequence()
    ]
    for n, alerts_json in enumerate(webhooks):
        intake.log.append("one-by-one", alerts_json, start + timedelta(seconds=n)).result(10)
        assert intake.processor.run_once() == 1
    for first, end in ((0, SECOND_BATCH), (SECOND_BATCH, len(webhooks))):
        for n in range(first, end):
            intake.log.append("batched", webhooks[n], start + timedelta(seconds=n)).result(10)
        assert intake.processor.run_once() == end - first  # one batch, one transaction
    single_rows, single_results, single_counters = _outcome(runtime, "one-by-one")
    batch_rows, batch_results, batch_counters = _outcome(runtime, "batched")
    assert batch_rows == single_rows
    assert batch_results == single_results
    assert batch_counters == single_counters
    # The sequence means what it says: repeats counted, a resolve, alerts firing again.
    assert [r[2] for r in single_rows] == [6, 5, 7, 8, 4, 1, 1, 1]
    statuses = ["resolved", "resolved", "firing", "resolved", "firing", "resolved"]
    statuses += ["firing", "resolved"]  # d, new; c's resolve at minute 8, never seen firing
    assert [r[1] for r in single_rows] == statuses
    assert single_rows[0][3].endswith("latency down")


def test_an_append_waits_for_another_writer_of_the_log_file_instead_of_failing(
    api: Api, admin_api: Api, runtime: Runtime
) -> None:
    """SQLite: webhooks are appended in the server's own thread only while nobody else writes
    the log file (a CLI process, the processor's trimming); otherwise they queue behind that
    writer and are acknowledged once it is done."""
    log = runtime.alerts.intake.log
    if log.path is None:  # PostgreSQL: appends always run beside the event loop
        return
    key = create_integration(admin_api, "prom", "alertmanager")
    post_am(api, key, am_payload([am_alert(fingerprint="7100000000000001")]))
    other = sqlite3.connect(log.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the log file's write lock
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        status, record = post_am(api, key, am_payload([am_alert(fingerprint="7100000000000002")]))
    finally:
        release.join()
        other.close()
    assert status == 202 and record["created"] == 1
    assert log.backlog() == 0


def test_trimming_drops_what_was_processed_in_short_transactions_and_keeps_the_rest(
    runtime: Runtime, clock: FixedClock, monkeypatch: Any
) -> None:
    """After a storm the processed log entries and the week-old records go, a few rows per
    transaction (an append never waits long behind the trim); what is not processed stays,
    and the newest record, which marks how far the log is processed, is kept."""
    from warroom.alerts import intake_log

    monkeypatch.setattr(intake_log, "TRIM_CHUNK", 3)
    monkeypatch.setattr(intake_log, "TRIM_LOG_CHUNK", 2)
    runtime.alerts.create_integration(_admin(), "prom", "alertmanager", key="k" * 32)
    intake = runtime.alerts.intake
    for n in range(7):
        intake.log.append("prom", _alerts(f"72000000000000{n:02d}"), clock.now()).result(10)
    assert intake.processor.run_once() == 7
    pending = intake.log.append("prom", _alerts("7200000000000099"), clock.now()).result(10)
    commits: dict[str, int] = {}

    def count(store: Any, name: str) -> None:
        real_write = store.write

        def counting_write(**kwargs: Any) -> Any:
            commits[name] = commits.get(name, 0) + 1
            return real_write(**kwargs)

        monkeypatch.setattr(store, "write", counting_write)

    count(runtime.db, "database")
    if intake.log.path is not None:
        count(intake.log.store(), "log file")
    intake.log.trim(clock.now() + timedelta(days=8))
    with runtime.db.read() as conn:
        kept = conn.execute(select(t.intake_requests.c.id)).scalars().all()
    assert kept == [7]  # the newest record stays
    assert commits["database"] >= 2  # six old records, three per transaction
    if intake.log.path is not None:
        assert commits["log file"] >= 4  # seven processed entries, two per transaction
    assert intake.log.backlog() == 1
    if intake.log.path is not None:
        with intake.log.store().read() as conn:
            assert conn.execute(select(t.intake_log.c.id)).scalars().all() == [pending]
    assert intake.processor.run_once() == 1


def test_a_server_that_leaves_processing_elsewhere_only_appends_and_wakes_the_other_process(
    runtime: Runtime, clock: FixedClock
) -> None:
    """`serve --worker-process`: the server's intake appends and calls the wake-up it was
    given, and never processes; waiting for a request follows the log until the process it
    was left to has acted on it; that process drains the log before it stops."""
    runtime.alerts.create_integration(_admin(), "prom", "alertmanager", key="k" * 32)
    integration = runtime.alerts.integrations.get("prom")
    intake = runtime.alerts.intake
    woken: list[int] = []
    intake.process_elsewhere(lambda: woken.append(1))
    alerts = domain.parse_alertmanager(am_payload([am_alert(fingerprint="7400000000000001")]))
    request = intake.accept(integration, alerts).result(10)
    assert woken == [1]
    assert not intake.wait_processed(request, 0.1)  # nobody here acts on it
    assert intake.request_status(request).status == "pending"  # type: ignore[union-attr]

    worker_side = runtime.alerts.intake.processor  # the other process's processor, in effect
    assert intake.log.backlog() == 1
    assert worker_side.run_once() == 1
    assert intake.wait_processed(request, 10)
    assert intake.request_status(request).status == "processed"  # type: ignore[union-attr]

    more = domain.parse_alertmanager(am_payload([am_alert(fingerprint="7400000000000002")]))
    intake.accept(integration, more).result(10)
    assert intake.drain(10)
    assert intake.log.backlog() == 0


def test_the_webhooks_of_one_commit_wake_the_processor_once(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Requests appended together share a commit and one wake-up of the processor (another
    process's costs a write to its pipe); the next commit wakes it again, in a new event loop
    too."""
    import asyncio

    runtime.alerts.create_integration(_admin(), "prom", "alertmanager", key="k" * 32)
    integration = runtime.alerts.integrations.get("prom")
    intake = runtime.alerts.intake
    woken: list[int] = []
    intake.process_elsewhere(lambda: woken.append(1))

    async def together(first: int) -> list[int]:
        return await asyncio.gather(
            *(
                intake.accept_async(
                    integration,
                    domain.parse_alertmanager(am_payload([am_alert(fingerprint=f"76{n:014d}")])),
                )
                for n in range(first, first + 5)
            )
        )

    async def twice() -> None:
        assert len(set(await together(0))) == 5
        assert len(woken) == 1
        await together(5)
        assert len(woken) == 2

    asyncio.run(twice())
    asyncio.run(together(10))  # a loop of its own: not taken for the last one's turn
    assert len(woken) == 3
    assert intake.log.backlog() == 15


def test_requests_reaching_the_log_a_few_loop_turns_apart_share_one_commit(
    runtime: Runtime, clock: FixedClock
) -> None:
    """A webhook's bytes are read in one turn of the event loop and appended turns later: the
    commit waits for the requests already on their way instead of giving each its own."""
    import asyncio

    runtime.alerts.create_integration(_admin(), "prom", "alertmanager", key="k" * 32)
    integration = runtime.alerts.integrations.get("prom")
    intake = runtime.alerts.intake
    woken: list[int] = []
    intake.process_elsewhere(lambda: woken.append(1))

    async def after(turns: int, n: int) -> int:
        for _ in range(turns):
            await asyncio.sleep(0)  # one turn of the loop
        alerts = domain.parse_alertmanager(am_payload([am_alert(fingerprint=f"77{n:014d}")]))
        return await intake.accept_async(integration, alerts)

    async def staggered() -> list[int]:
        return await asyncio.gather(*(after(turns, n) for n, turns in enumerate((0, 2, 3))))

    assert len(set(asyncio.run(staggered()))) == 3
    assert len(woken) == 1
    assert intake.log.backlog() == 3
