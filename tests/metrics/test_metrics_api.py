"""Metrics through the API on both databases: report JSON/CSV, charts, and `/metrics`."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import T0, Api
from warroom.api.app import create_app
from warroom.core import auth, outbox
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents.model import Event
from warroom.metrics import exposition

CONFIRM_ALL = {
    key: {"confirmed": True}
    for key in (
        "issue_gone",
        "error_rates_baseline",
        "users_can_use_feature",
        "monitoring_stable",
        "stakeholders_notified",
    )
}
PERIOD = {"since": "2026-11-01", "until": "2026-12-01"}


def declare(api: Api, title: str, severity: str, **extra: Any) -> str:
    body = {"title": title, "severity": severity, **extra}
    return str(api.ok("POST", "/api/v1/incidents", json=body)["id"])


def resolve(api: Api, incident: str) -> None:
    api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": "fixed", "checklist": CONFIRM_ALL},
    )


@pytest.fixture
def scenario(api: Api, runtime: Runtime, clock: FixedClock) -> dict[str, str]:
    """Four incidents: clean, reopened, milestone corrected, backdated acknowledgement."""
    clean = declare(
        api,
        "checkout down",
        "SEV2",
        started_at=(T0 - timedelta(minutes=10)).isoformat(),
        impact={"revenue_per_hour": 1200},
    )
    clock.advance(timedelta(minutes=5))
    api.ok("POST", f"/api/v1/incidents/{clean}/acknowledge")
    runtime.incidents.append_events(
        SYSTEM,
        clean,
        [
            Event(
                "status_update_published",
                "carol",
                clock.now(),
                {"next_update_at": (clock.now() + timedelta(minutes=30)).isoformat()},
            )
        ],
    )
    clock.advance(timedelta(minutes=25))
    api.ok("POST", f"/api/v1/incidents/{clean}/status", json={"status": "monitoring"})
    runtime.incidents.append_events(
        SYSTEM, clean, [Event("status_update_published", "carol", clock.now(), {})]
    )
    clock.advance(timedelta(minutes=30))
    resolve(api, clean)

    reopened = declare(api, "search flaky", "SEV3")
    clock.advance(timedelta(minutes=10))
    api.ok("POST", f"/api/v1/incidents/{reopened}/status", json={"status": "monitoring"})
    resolve(api, reopened)
    clock.advance(timedelta(hours=1))
    api.ok("POST", f"/api/v1/incidents/{reopened}/reopen", json={"reason": "back again"})
    clock.advance(timedelta(hours=1))
    resolve(api, reopened)

    corrected = declare(api, "db failover", "SEV1")
    clock.advance(timedelta(minutes=20))
    api.ok("POST", f"/api/v1/incidents/{corrected}/acknowledge")
    api.ok(
        "POST",
        f"/api/v1/incidents/{corrected}/milestones",
        json={
            "milestone": "acknowledged_at",
            "at": (clock.now() - timedelta(minutes=17)).isoformat(),
            "reason": "paged person acked by phone",
        },
    )

    backdated = declare(api, "cdn errors", "SEV4")
    clock.advance(timedelta(minutes=30))
    runtime.incidents.append_events(
        SYSTEM, backdated, [Event("acknowledged", "dave", clock.now() - timedelta(minutes=25))]
    )
    return {"clean": clean, "reopened": reopened, "corrected": corrected, "backdated": backdated}


def test_report_figures_and_flags(api: Api, scenario: dict[str, str]) -> None:
    data = api.ok("GET", "/api/v1/metrics", params={**PERIOD, "incidents": "true"})
    assert data["overall"]["incidents"] == 4
    groups = {g["key"]: g for g in data["groups"]}
    assert list(groups) == ["SEV1", "SEV2", "SEV3", "SEV4"]
    sev2 = groups["SEV2"]["figures"]
    assert sev2["time_to_detect"]["median"] == 600
    assert sev2["time_to_acknowledge"]["median"] == 300
    assert sev2["time_to_mitigate"]["median"] == 1500
    assert sev2["time_to_resolve"]["median"] == 1800
    assert sev2["mttr"]["median"] == 4200
    assert groups["SEV2"]["cost"] == {"estimate": 1400.0, "incidents_with_revenue": 1}
    # SEV2 updates every 30m: declared 0, updates at 5 and 30, resolved at 60 → 2 on time
    assert groups["SEV2"]["update_cadence"]["intervals"] == 2
    assert groups["SEV2"]["update_cadence"]["on_time"] == 2
    assert groups["SEV2"]["update_cadence"]["promises_kept"] == 1
    # required post-mortem not published yet
    assert groups["SEV2"]["postmortems"]["required"] == 1
    assert groups["SEV2"]["postmortems"]["completion"] == 0.0
    # reopened: counted once, total time from start to the final resolution (2h10m)
    assert groups["SEV3"]["incidents"] == 1
    assert groups["SEV3"]["figures"]["mttr"]["median"] == 7800
    rows = {row["id"]: row for row in data["incidents"]}
    assert rows[scenario["clean"]]["sla_met"] is True
    assert rows[scenario["clean"]]["flags"] == []
    assert rows[scenario["reopened"]]["flags"] == ["reopened 1x (counted once, total time)"]
    assert rows[scenario["corrected"]]["flags"] == ["corrected acknowledged_at"]
    assert rows[scenario["corrected"]]["time_to_acknowledge"] == 180
    assert rows[scenario["corrected"]]["sla_response"] == "met"  # the corrected time counts
    assert rows[scenario["backdated"]]["flags"] == ["backdated acknowledged"]
    flagged = {item["id"] for item in data["flagged"]["items"]}
    assert flagged == {scenario["reopened"], scenario["corrected"], scenario["backdated"]}
    # The post-mortem package supplies action-item figures through its hook.
    assert data["action_items"]["available"] is True
    assert {"total", "done", "overdue"} <= set(data["action_items"])


def test_period_and_timezone_select_incidents(api: Api, scenario: dict[str, str]) -> None:
    before = api.ok("GET", "/api/v1/metrics", params={"since": "2026-10-01", "until": "2026-11-01"})
    assert before["overall"]["incidents"] == 0
    assert before["overall"]["figures"]["mttr"]["count"] == 0
    # T0 is 10:00 UTC on Monday 23rd; in Tokyo weeks still start on that Monday
    weekly = api.ok("GET", "/api/v1/metrics", params={**PERIOD, "by": "week", "tz": "Asia/Tokyo"})
    assert [g["key"] for g in weekly["groups"]] == ["2026-11-23"]
    assert weekly["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"since": "yesterday-ish"}, 422),
        ({"since": "2026-12-01", "until": "2026-11-01"}, 422),
        ({"tz": "Mars/Olympus"}, 422),
        ({"by": "colour"}, 422),
        ({"format": "xml"}, 422),
    ],
)
def test_bad_parameters(api: Api, params: dict[str, str], status: int) -> None:
    code, body = api.get("/api/v1/metrics", params=params)
    assert code == status
    assert "error" in body or "detail" in body


def test_csv_export(api: Api, scenario: dict[str, str]) -> None:
    response = api.client.get(
        "/api/v1/metrics", params={**PERIOD, "format": "csv", "by": "type"}, headers=api.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[-1]["group"] == "(all)"
    assert rows[-1]["incidents"] == "4"
    per_incident = api.client.get(
        "/api/v1/metrics",
        params={**PERIOD, "format": "csv", "incidents": "true"},
        headers=api.headers,
    )
    ids = [row["id"] for row in csv.DictReader(io.StringIO(per_incident.text))]
    assert sorted(ids) == sorted(scenario.values())


@pytest.mark.parametrize("name", ["mttr-trend", "incidents-by-severity", "sla-compliance"])
def test_charts(viewer_api: Api, scenario: dict[str, str], name: str) -> None:
    svg = viewer_api.client.get(
        f"/api/v1/metrics/charts/{name}.svg", params=PERIOD, headers=viewer_api.headers
    )
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    png = viewer_api.client.get(
        f"/api/v1/metrics/charts/{name}",
        params={**PERIOD, "format": "png"},
        headers=viewer_api.headers,
    )
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_unknown_chart_and_auth(client: TestClient, api: Api) -> None:
    assert api.get("/api/v1/metrics/charts/pie.svg")[0] == 404
    assert api.get("/api/v1/metrics/charts/mttr-trend.gif")[0] == 404
    assert client.get("/api/v1/metrics").status_code == 401
    assert client.get("/api/v1/metrics/charts/mttr-trend").status_code == 401


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample_value(family: Any, name: str, **labels: str) -> float:
    for sample in family.samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")


class FakeAlerts:
    def alert_counts(self, conn: Any) -> dict[str, int]:
        return {"received": 10, "deduplicated": 7, "silenced": 2}

    def intake_backlog(self) -> int:
        return 4

    def intake_lag(self, now: Any) -> float:
        return 12.5

    def close(self) -> None:
        """Nothing to stop (the runtime closes its alerts service)."""


@pytest.fixture
def clean_collectors() -> Iterator[None]:
    yield
    exposition.unregister_collector("test-extra")
    exposition.unregister_collector("test-broken")


def test_prometheus_exposition(
    client: TestClient,
    api: Api,
    make_token: Callable[..., str],
    runtime: Runtime,
    clock: FixedClock,
    clean_collectors: None,
) -> None:
    assert client.get("/metrics").status_code == 401
    ingest = {"Authorization": f"Bearer {make_token('ingest', name='scraper')}"}
    assert client.get("/metrics", headers=ingest).status_code == 403
    viewer = {"Authorization": f"Bearer {make_token('viewer', name='prometheus')}"}

    first = declare(api, "api down", "SEV1")
    declare(api, "slow page", "SEV3")
    api.ok("POST", f"/api/v1/incidents/{first}/acknowledge")
    runtime.incidents.append_events(
        SYSTEM,
        first,
        [
            Event("notification_sent", "warroom", clock.now(), {"channel": "mailto"}),
            Event("notification_sent", "warroom", clock.now(), {"channel": "slack"}),
            Event("notification_failed", "warroom", clock.now(), {"error": "x"}),
        ],
    )
    with runtime.db.write() as conn:
        outbox.enqueue(
            conn,
            [outbox.Effect("notify", {}, clock.now() - timedelta(seconds=90))],
            clock.now(),
        )
    runtime.alerts = FakeAlerts()
    exposition.register_collector(
        "test-extra",
        lambda rt, conn: [GaugeMetricFamily("warroom_test_extra", "A test family.", value=3)],
    )

    def broken(rt: Runtime, conn: Any) -> list[Any]:
        raise RuntimeError("boom")

    exposition.register_collector("test-broken", broken)

    response = client.get("/metrics", headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = families(response.text)
    open_ = found["warroom_incidents_open"]
    assert (
        sample_value(open_, "warroom_incidents_open", severity="SEV1", status="acknowledged") == 1
    )
    assert sample_value(open_, "warroom_incidents_open", severity="SEV3", status="triggered") == 1
    sent = found["warroom_notifications"]
    assert sample_value(sent, "warroom_notifications_total", outcome="sent") == 2
    assert sample_value(sent, "warroom_notifications_total", outcome="failed") == 1
    depth = found["warroom_outbox_effects"]
    with runtime.db.read() as conn:
        pending = outbox.depth(conn).get("pending", 0)
    assert pending >= 1  # the effect above, plus timers other packages planned
    assert sample_value(depth, "warroom_outbox_effects", status="pending") == pending
    assert sample_value(found["warroom_outbox_lag_seconds"], "warroom_outbox_lag_seconds") == 90
    alerts = found["warroom_alerts"]
    assert sample_value(alerts, "warroom_alerts_total", outcome="deduplicated") == 7
    backlog = found["warroom_intake_backlog"]
    assert sample_value(backlog, "warroom_intake_backlog") == 4
    lag = found["warroom_intake_lag_seconds"]
    assert sample_value(lag, "warroom_intake_lag_seconds") == 12.5
    assert sample_value(found["warroom_test_extra"], "warroom_test_extra") == 3
    up = found["warroom_collector_up"]
    assert sample_value(up, "warroom_collector_up", collector="test-broken") == 0
    assert sample_value(up, "warroom_collector_up", collector="test-extra") == 1
    latency = found["warroom_http_request_duration_seconds"]
    assert latency.type == "histogram"
    count = sample_value(
        latency,
        "warroom_http_request_duration_seconds_count",
        method="POST",
        route="/api/v1/incidents/{incident_id}/acknowledge",
        status="200",
    )
    assert count == 1


def test_exposition_can_be_public(tmp_path: Any, database_url: str, clock: FixedClock) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, config=None)
    config = parse_config({"metrics": {"exposition_public": True}})
    runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.get("/metrics")
            assert response.status_code == 200
            found = families(response.text)
            assert sample_value(found["warroom_alerts_available"], "warroom_alerts_available") == 1
            assert "warroom_alerts" in found  # intake counters from the alerts package
            assert "warroom_incidents_open" in found
            # the report API still needs a token
            assert client.get("/api/v1/metrics").status_code == 401
    finally:
        runtime.close()


def test_rebuild_needs_admin_and_is_audited(
    api: Api, viewer_api: Api, admin_api: Api, scenario: dict[str, str]
) -> None:
    status, body = viewer_api.post("/api/v1/metrics/rebuild")
    assert status == 403, body
    status, body = api.post("/api/v1/metrics/rebuild")
    assert status == 403, body
    assert admin_api.ok("POST", "/api/v1/metrics/rebuild") == {
        "written": 0,  # the projector keeps every row current
        "incidents": 4,
        "all": False,
    }
    assert admin_api.ok("POST", "/api/v1/metrics/rebuild", params={"all": "true"})["written"] == 4
    entries = admin_api.ok("GET", "/api/v1/audit", params={"action": "metrics.rebuild"})
    assert [e["details"] for e in entries["items"]][:2] == [
        {"all": True, "written": 4},
        {"all": False, "written": 0},
    ]


def test_prometheus_exports_mttr_and_mttm_by_severity(
    client: TestClient,
    api: Api,
    make_token: Callable[..., str],
    scenario: dict[str, str],
) -> None:
    """A process that logs its MTTR figures to monitoring scrapes them as summaries."""
    viewer = {"Authorization": f"Bearer {make_token('viewer', name='prometheus')}"}
    found = families(client.get("/metrics", headers=viewer).text)
    mttr = found["warroom_incident_time_to_resolve_seconds"]
    assert mttr.type == "summary"
    # SEV2 (clean): impact 10 min before declaration, resolved 60 min after it.
    assert (
        sample_value(mttr, "warroom_incident_time_to_resolve_seconds_count", severity="SEV2") == 1
    )
    assert (
        sample_value(mttr, "warroom_incident_time_to_resolve_seconds_sum", severity="SEV2") == 4200
    )
    # The SEV1 incident is still open: not counted yet.
    assert (
        sample_value(mttr, "warroom_incident_time_to_resolve_seconds_count", severity="SEV1") == 0
    )
    mttm = found["warroom_incident_time_to_mitigate_seconds"]
    assert (
        sample_value(mttm, "warroom_incident_time_to_mitigate_seconds_sum", severity="SEV2") == 1500
    )
    mtta = found["warroom_incident_time_to_acknowledge_seconds"]
    assert (
        sample_value(mtta, "warroom_incident_time_to_acknowledge_seconds_count", severity="SEV2")
        == 1
    )


def test_a_target_the_process_does_not_set_is_reported_as_not_set(
    tmp_path: Any, database_url: str, clock: FixedClock
) -> None:
    """Presets whose process gives no resolution target never invent one."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, config=None)
    config = parse_config({"policy": "phased"})
    runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
    try:
        level = runtime.policy.severity("SEV1")
        assert level.resolution_target.within is None
        assert level.resolution_target.label == "not set by this process"
        with TestClient(create_app(runtime)) as client:
            with runtime.db.write() as conn:
                _, token = auth.create_token(
                    conn, name="t", scopes=["responder"], created_by="tests", now=clock.now()
                )
            api = Api(client, token)
            incident = declare(api, "total outage", "SEV1")
            shown = api.ok("GET", f"/api/v1/incidents/{incident}")
            assert shown["targets"]["resolution"] == {"label": "not set by this process"}
            assert shown["targets"]["response"]["label"] == "Immediate"
            clock.advance(timedelta(minutes=2))
            api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
            data = api.ok("GET", "/api/v1/metrics", params={**PERIOD, "incidents": "true"})
            (row,) = data["incidents"]
            assert row["sla_resolution"] == "not_set"
            assert row["sla_response"] == "met"
            assert data["overall"]["sla"]["resolution"]["not_set"] == 1
            assert data["overall"]["sla"]["response"]["not_set"] == 0
    finally:
        runtime.close()
