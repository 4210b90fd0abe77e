"""Grafana contact point, generic JSON with a field mapping, heartbeat monitors, config routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.alerts.helpers import create_integration, deliver, timeline_types
from tests.conftest import Api
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.auth import hash_token
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.worker import Worker

GRAFANA = {
    "receiver": "warroom",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "LatencyHigh", "service": "search", "severity": "critical"},
            "annotations": {"summary": "p99 above 2s"},
            "startsAt": "2026-11-23T09:59:30.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://grafana/alerting/grafana/abc/view",
            "fingerprint": "9f0d1c2b3a4e5f60",
            "silenceURL": "http://grafana/alerting/silence/new",
            "dashboardURL": "http://grafana/d/x",
            "panelURL": "http://grafana/d/x?viewPanel=2",
            "values": {"B": 2.4},
            "valueString": "[ var='B' value=2.4 ]",
        }
    ],
    "groupLabels": {"alertname": "LatencyHigh"},
    "commonLabels": {"alertname": "LatencyHigh"},
    "commonAnnotations": {},
    "externalURL": "http://grafana/",
    "version": "1",
    "groupKey": '{}/{alertname="LatencyHigh"}:{alertname="LatencyHigh"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] LatencyHigh",
    "state": "alerting",
    "message": "**Firing** LatencyHigh",
}


def test_grafana_contact_point(api: Api, admin_api: Api) -> None:
    key = create_integration(admin_api, "grafana", "grafana")
    status, body = deliver(api, "/api/v1/alerts/grafana", GRAFANA, key)
    assert status == 202, body
    incident = body["incidents"][0]
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["services"] == ["search"]
    alert = api.ok("GET", f"/api/v1/alerts/{body['alerts'][0]}")
    assert alert["details"]["dashboardURL"] == "http://grafana/d/x"
    assert alert["details"]["state"] == "alerting"
    resolved = {**GRAFANA, "status": "resolved"}
    resolved["alerts"] = [{**GRAFANA["alerts"][0], "status": "resolved"}]  # type: ignore[index]
    status, body = deliver(api, f"/api/v1/alerts/grafana/{key}", resolved)
    assert status == 202 and body["resolved"] == 1
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "monitoring"


# What Grafana's "Test" button on a webhook contact point sends: one made-up alert with the
# labels and annotations of grafana/alerting's `newTestAlert` (notify/receivers.go), and a group
# key built as "<integration>-<fingerprint>-<unix time>" (notify/test_receivers.go).
GRAFANA_TEST = {
    **GRAFANA,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "TestAlert", "instance": "Grafana"},
            "annotations": {"summary": "Notification test"},
            "startsAt": "2026-11-23T09:59:30.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": "57c6d9296de2ad39",
            "silenceURL": "http://grafana/alerting/silence/new?matcher=alertname%3DTestAlert",
            "dashboardURL": "",
            "panelURL": "",
            "values": None,
            "valueString": "[ metric='foo' labels={instance=bar} value=10 ]",
        }
    ],
    "groupLabels": {"alertname": "TestAlert", "instance": "Grafana"},
    "commonLabels": {"alertname": "TestAlert", "instance": "Grafana"},
    "commonAnnotations": {"summary": "Notification test"},
    "groupKey": "warroom-webhook-57c6d9296de2ad39-1795428000",
    "title": "[FIRING:1] TestAlert Grafana ",
    "message": "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = TestAlert",
}


def test_grafana_contact_point_test_is_recorded_not_declared(api: Api, admin_api: Api) -> None:
    key = create_integration(admin_api, "grafana", "grafana")
    for _ in range(2):  # pressing Test twice is still no incident
        status, body = deliver(api, f"/api/v1/alerts/grafana/{key}", GRAFANA_TEST)
        assert status == 202, body
        assert body["tests"] == 1 and body["created"] == 0 and body["incidents"] == []
    assert api.ok("GET", "/api/v1/incidents")["items"] == []
    assert api.ok("GET", "/api/v1/alerts?status=open")["items"] == []
    [latest, _] = api.ok("GET", "/api/v1/alerts?integration=grafana")["items"]
    assert (latest["action"], latest["status"], latest["incident"]) == ("test", "resolved", None)
    assert api.ok("GET", "/api/v1/alerts/counts")["tests"] == 2


def test_a_real_grafana_alert_named_testalert_still_declares(api: Api, admin_api: Api) -> None:
    """A rule's alert carries Grafana's folder label: it is not the contact-point test."""
    key = create_integration(admin_api, "grafana", "grafana")
    payload = {**GRAFANA_TEST, "alerts": [dict(GRAFANA_TEST["alerts"][0])]}  # type: ignore[index]
    payload["alerts"][0]["labels"] = {
        "alertname": "TestAlert",
        "instance": "Grafana",
        "grafana_folder": "payments",
        "severity": "critical",
    }
    status, body = deliver(api, f"/api/v1/alerts/grafana/{key}", payload)
    assert status == 202, body
    assert body["tests"] == 0 and len(body["incidents"]) == 1


def test_generic_webhook_with_mapping(api: Api, admin_api: Api) -> None:
    mapping = {
        "title": "{{ check.name }} is {{ check.state }}",
        "severity": "{{ check.level }}",
        "dedup_key": "{{ check.id }}",
        "status": "{{ check.state }}",
        "service": "{{ tags.svc }}",
        "labels": "tags",
    }
    key = create_integration(admin_api, "uptime", "generic", mapping=mapping)
    payload = {
        "check": {"id": "c-17", "name": "checkout", "state": "down", "level": "critical"},
        "tags": {"svc": "payments", "region": "eu"},
    }
    headers = {"Authorization": f"Bearer {key}"}
    status, body = deliver(api, "/api/v1/alerts/generic", payload, headers=headers)
    assert status == 202, body
    alert = api.ok("GET", f"/api/v1/alerts/{body['alerts'][0]}")
    assert alert["summary"] == "checkout is down"
    assert alert["identity"] == "c-17" and alert["service"] == "payments"
    assert alert["labels"]["region"] == "eu" and alert["severity"] == "SEV2"
    payload["check"]["state"] = "up"
    status, body = deliver(api, f"/api/v1/alerts/generic/{key}", payload)
    assert status == 202 and body["resolved"] == 1
    # A payload the title template cannot fill is refused and stores nothing.
    status, body = api.post("/api/v1/alerts/generic", json={"other": 1}, headers=headers)
    assert status == 422
    bad = {"name": "x", "kind": "generic", "options": {"mapping": {"title": "{{ a"}}}
    assert admin_api.post("/api/v1/integrations", json=bad)[0] == 422


def test_heartbeat_missed_raises_and_recovery_resolves(
    api: Api, admin_api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    key = create_integration(
        admin_api, "nightly-backup", "heartbeat", timeout_seconds=600, service="payments"
    )
    status, body = api.post(f"/api/v1/heartbeats/nightly-backup?key={key}")
    assert status == 200 and body["state"] == "healthy"
    assert api.post("/api/v1/heartbeats/other?key=" + key)[0] == 401
    worker = Worker(runtime)
    clock.advance(timedelta(seconds=300))
    worker.run_once()
    assert api.ok("GET", "/api/v1/alerts")["items"] == []
    # A ping in time pushes the deadline; the old timer finds a later ping and does nothing.
    api.post("/api/v1/heartbeats/nightly-backup", headers={"Authorization": f"Bearer {key}"})
    clock.advance(timedelta(seconds=400))
    worker.run_once()
    assert api.ok("GET", "/api/v1/alerts")["items"] == []
    clock.advance(timedelta(seconds=300))
    worker.run_once()
    alerts = api.ok("GET", "/api/v1/alerts")["items"]
    assert len(alerts) == 1 and alerts[0]["status"] == "firing"
    incident = alerts[0]["incident"]
    assert incident and api.ok("GET", "/api/v1/heartbeats")["items"][0]["state"] == "unhealthy"
    status, body = api.post(f"/api/v1/heartbeats/nightly-backup/{key}")
    assert body["previous"] == "unhealthy"
    assert api.ok("GET", "/api/v1/alerts")["items"][0]["status"] == "resolved"
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "monitoring"


ROUTES_CONFIG = {
    "services": [{"name": "payments"}, {"name": "search"}, {"name": "platform"}],
    "alert_routes": {
        "routes": [
            {
                "name": "payments-critical",
                "matchers": ["service=payments", "severity=critical"],
                "severity": "SEV1",
            },
            {"name": "staging", "matchers": ['env=~"staging|dev"'], "action": "record"},
            {
                "name": "infra",
                "matchers": ["team!=", 'team!~"web.*"'],
                "service": "platform",
                "severity_map": {"critical": "SEV2", "warning": "SEV3"},
                "action": "declare",
            },
        ]
    },
    "integrations": {
        "prom-config": {
            "kind": "alertmanager",
            "key_sha256": hash_token("config-key-0123456789abcdef0123"),
        }
    },
}


@pytest.fixture
def routed_api(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    runtime = Runtime.build(
        settings, clock=clock, config=parse_config(ROUTES_CONFIG), run_migrations=False
    )
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name="root", scopes=["admin"], created_by="tests", now=clock.now()
        )
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield Api(client, token)
    runtime.close()


@pytest.mark.parametrize(
    ("labels", "route", "severity", "service", "action"),
    [
        (
            {"service": "payments", "severity": "critical"},
            "payments-critical",
            "SEV1",
            "payments",
            "declare",
        ),
        ({"service": "payments", "severity": "warning"}, "default", "SEV4", "payments", "record"),
        (
            {"service": "search", "env": "staging", "severity": "critical"},
            "staging",
            "SEV2",
            "search",
            "record",
        ),
        ({"team": "db", "severity": "warning"}, "infra", "SEV3", "platform", "declare"),
        ({"team": "web-front", "severity": "critical"}, "default", "SEV2", None, "declare"),
        ({"severity": "P1"}, "default", "SEV2", None, "declare"),
        ({}, "default", "SEV3", None, "declare"),
    ],
)
def test_routes_from_config(
    routed_api: Api,
    labels: dict[str, str],
    route: str,
    severity: str,
    service: str | None,
    action: str,
) -> None:
    got = routed_api.ok("POST", "/api/v1/alerts/routes/test", json={"labels": labels})
    assert (got["route"], got["severity"], got["service"], got["action"]) == (
        route,
        severity,
        service,
        action,
    )


def test_config_integration_authenticates_and_routes(routed_api: Api) -> None:
    from tests.alerts.helpers import am_alert, am_payload, post_am

    status, body = post_am(
        routed_api, "config-key-0123456789abcdef0123", am_payload([am_alert(fingerprint="77")])
    )
    assert status == 202, body
    incident = routed_api.ok("GET", f"/api/v1/incidents/{body['incidents'][0]}")
    assert incident["severity"] == "SEV1"
    assert "alert_attached" in timeline_types(routed_api, incident["id"])
    listed = routed_api.ok("GET", "/api/v1/integrations")["items"]
    assert listed[0]["name"] == "prom-config" and listed[0]["source"] == "config"
    assert routed_api.post("/api/v1/integrations/prom-config/rotate")[0] == 409


def test_config_check_reports_unknown_route_severity() -> None:
    from warroom.core.config import _problems_of

    bad = {
        "alert_routes": {"routes": [{"matchers": ["a=b"], "severity": "SEV9"}]},
        "integrations": {"x": {"kind": "alertmanager"}},
    }
    _, problems = _problems_of(bad)
    paths = {p["path"] for p in problems}
    assert "alert_routes.routes.0" in paths and "integrations.x" in paths
    _, problems = _problems_of({"alert_routes": {"routes": [{"matchers": ["a=~("]}]}})
    assert problems and "regex" in problems[0]["message"]
