"""The intake log: acknowledged webhooks are processed once, in order, whatever happens between."""

from __future__ import annotations

from pathlib import Path

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
