"""Policy variants (link on recurrence, auto-resolve), 5xx only when storing failed, and intake
against a real `warroom serve` over HTTP (2xx only after commit, concurrent senders)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from tests.alerts.helpers import (
    am_alert,
    am_payload,
    create_integration,
    post_am,
    resolve_incident,
    timeline_types,
)
from tests.conftest import Api
from warroom.alerts import tables as t
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.db import Database
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings


def _api_with_policy(
    tmp_path: Path, database_url: str, clock: FixedClock, policy: dict[str, Any]
) -> Iterator[tuple[Api, Runtime]]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    config = parse_config({"policy": {"extends": "default", **policy}})
    runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name="root", scopes=["admin"], created_by="tests", now=clock.now()
        )
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield Api(client, token), runtime
    runtime.close()


@pytest.fixture
def link_api(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[tuple[Api, Runtime]]:
    yield from _api_with_policy(tmp_path, database_url, clock, {"recurrence_action": "link"})


@pytest.fixture
def auto_api(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[tuple[Api, Runtime]]:
    yield from _api_with_policy(tmp_path, database_url, clock, {"alerts_auto_resolve": True})


def test_recurrence_link_declares_a_new_flagged_incident(
    link_api: tuple[Api, Runtime], clock: FixedClock
) -> None:
    api, runtime = link_api
    key = create_integration(api, "prom", "alertmanager")
    alert = am_alert(fingerprint="4444000000000001")
    first = post_am(api, key, am_payload([alert]))[1]["incidents"][0]
    post_am(api, key, am_payload([{**alert, "status": "resolved"}]))
    resolve_incident(runtime, first)
    clock.advance(timedelta(minutes=30))
    again = am_alert(fingerprint="4444000000000001", starts_at="2026-11-23T10:29:00Z")
    second = post_am(api, key, am_payload([again]))[1]["incidents"][0]
    assert second != first
    assert api.ok("GET", f"/api/v1/incidents/{first}")["status"] == "resolved"
    data = api.ok("GET", f"/api/v1/incidents/{second}")
    assert data["flags"] == {"recurred": True}
    events = api.ok("GET", f"/api/v1/incidents/{second}/timeline")["events"]
    detected = next(e for e in events if e["type"] == "recurrence_detected")
    assert detected["data"]["previous_incident"] == first
    assert events[0]["data"]["recurrence_of"] == first


def test_auto_resolve_when_the_policy_opts_in(auto_api: tuple[Api, Runtime]) -> None:
    api, _ = auto_api
    key = create_integration(api, "prom", "alertmanager")
    alert = am_alert(fingerprint="5555000000000001")
    incident = post_am(api, key, am_payload([alert]))[1]["incidents"][0]
    post_am(api, key, am_payload([{**alert, "status": "resolved"}]))
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "resolved"
    types = [t for t in timeline_types(api, incident) if not t.startswith("postmortem_")]
    assert types[-2:] == ["status_changed", "resolved"]


def test_intake_log_failure_is_503_with_retry_after_and_stores_nothing(
    api: Api, admin_api: Api, runtime: Runtime
) -> None:
    """A webhook is acknowledged only once it is in the intake log: when the log cannot be
    written the sender gets 503 + Retry-After (Alertmanager then retries) and nothing is kept."""
    key = create_integration(admin_api, "prom", "alertmanager")
    payload = am_payload([am_alert(fingerprint="6666000000000001")])
    intake_log = runtime.alerts.intake.log
    store = intake_log.store()
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE intake_log"))
    try:
        response = api.client.post(
            "/api/v1/alerts/alertmanager",
            json=payload,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert "location" not in response.headers
    finally:  # the PostgreSQL test database is shared by later tests
        t.intake_log.create(store.engine)
    with runtime.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.alerts)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(t.alert_groups)).scalar_one() == 0
    assert intake_log.backlog() == 0


def test_an_acknowledged_webhook_waits_out_a_storage_failure_and_is_then_processed(
    api: Api, admin_api: Api, runtime: Runtime
) -> None:
    """Once a webhook is acknowledged (202), a failure of the alert tables does not lose it: it
    stays pending in the intake log and is processed once storage works again."""
    key = create_integration(admin_api, "prom", "alertmanager")
    payload = am_payload([am_alert(fingerprint="6666000000000002")])
    db = Database(runtime.db.url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE alert_counters"))
    db.dispose()
    try:
        response = api.client.post(
            "/api/v1/alerts/alertmanager",
            json=payload,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        pending = api.ok("GET", location, params={"wait": 0.5})
        assert pending["status"] == "pending" and pending["integration"] == "prom"
        with runtime.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(t.alerts)).scalar_one() == 0
    finally:  # the PostgreSQL test database is shared by later tests
        t.alert_counters.create(runtime.db.engine)
    done = api.ok("GET", location, params={"wait": 30})
    assert done["status"] == "processed" and done["created"] == 1 and done["incidents"]
    assert api.ok("GET", "/api/v1/alerts/counts")["received"] == 1


def test_the_status_of_an_unknown_request_is_404_and_needs_a_token(
    api: Api, viewer_api: Api
) -> None:
    status, body = api.get("/api/v1/alerts/requests/999999")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert api.get("/api/v1/alerts/requests/0")[0] == 422
    assert api.get("/api/v1/alerts/requests/1", params={"wait": 31})[0] == 422
    assert api.client.get("/api/v1/alerts/requests/1").status_code == 401
    assert viewer_api.get("/api/v1/alerts/requests/999999")[0] == 404


# ---- a real server ---------------------------------------------------------------------


def test_real_server_commits_before_answering(served: tuple[str, Path]) -> None:
    url, db_file = served
    admin = {"Authorization": "Bearer wr_test_admin_0123456789"}
    key = httpx.post(
        url + "/api/v1/integrations",
        json={"name": "prom", "kind": "alertmanager"},
        headers=admin,
        timeout=10,
    ).json()["key"]

    def send(n: int) -> int:
        alerts = [
            am_alert(fingerprint=f"{n:08x}{m:08x}", instance=f"pod-{n}-{m}") for m in range(5)
        ]
        payload = am_payload(alerts, group_key=f"{{}}:{{g={n % 4}}}")
        response = httpx.post(
            url + "/api/v1/alerts/alertmanager",
            json=payload,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        # 2xx only once durable; the status monitor then says what processing did, and
        # another connection sees the alerts.
        record = httpx.get(
            url + response.headers["location"], params={"wait": 30}, headers=admin, timeout=40
        ).json()
        assert record["status"] == "processed" and record["received"] == 5, record
        reader = Database(f"sqlite:///{db_file}")
        with reader.read() as conn:
            stored = conn.execute(
                select(func.count())
                .select_from(t.alerts)
                .where(t.alerts.c.identity.like(f"{n:08x}%"))
            ).scalar_one()
        reader.dispose()
        return int(stored)

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(send, range(16))) == [5] * 16
    incidents = httpx.get(url + "/api/v1/incidents", headers=admin, timeout=10).json()["items"]
    assert len(incidents) == 4  # one per group key
