"""PagerDuty Events API v2 compatibility: reply shapes and trigger/acknowledge/resolve semantics."""

from __future__ import annotations

import pytest

from tests.alerts.helpers import create_integration, pd_event, timeline_types
from tests.conftest import Api, wait_for_intake


@pytest.fixture
def pd_key(admin_api: Api) -> str:
    return create_integration(admin_api, "pd-sender", "pagerduty")


def test_trigger_reply_is_pagerdutys_exactly(api: Api, pd_key: str) -> None:
    assert len(pd_key) == 32
    status, body = api.post("/v2/enqueue", json=pd_event(pd_key, dedup_key="disk-db-1"))
    assert status == 202
    assert body == {"status": "success", "message": "Event processed", "dedup_key": "disk-db-1"}
    # Under the API prefix too (a custom base URL of a PagerDuty client).
    status, body = api.post("/api/v1/v2/enqueue", json=pd_event(pd_key, dedup_key="disk-db-1"))
    assert status == 202 and body["dedup_key"] == "disk-db-1"
    alerts = api.ok("GET", "/api/v1/alerts")["items"]
    assert len(alerts) == 1 and alerts[0]["count"] == 2
    assert alerts[0]["labels"]["component"] == "postgres"
    assert alerts[0]["details"]["links"][0]["href"] == "https://runbooks/disk"
    assert alerts[0]["service"] == "payments"  # from custom_details.service


def test_dedup_key_is_generated_when_missing(api: Api, pd_key: str) -> None:
    status, body = api.post("/v2/enqueue", json=pd_event(pd_key))
    assert status == 202 and len(body["dedup_key"]) >= 32
    status, second = api.post("/v2/enqueue", json=pd_event(pd_key))
    assert second["dedup_key"] != body["dedup_key"]


def test_acknowledge_then_resolve_then_new_trigger(api: Api, pd_key: str) -> None:
    api.post("/v2/enqueue", json=pd_event(pd_key, dedup_key="k1"))
    incident = api.ok("GET", "/api/v1/alerts")["items"][0]["incident"]
    assert incident
    status, body = api.post("/v2/enqueue", json=pd_event(pd_key, "acknowledge", "k1"))
    assert status == 202 and body["dedup_key"] == "k1"
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "acknowledged"
    # While acknowledged a repeated trigger only counts.
    api.post("/v2/enqueue", json=pd_event(pd_key, dedup_key="k1"))
    alert = api.ok("GET", "/api/v1/alerts")["items"][0]
    assert alert["status"] == "acknowledged" and alert["count"] == 2
    assert api.post("/v2/enqueue", json=pd_event(pd_key, "resolve", "k1"))[0] == 202
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "monitoring"
    assert timeline_types(api, incident)[-1] == "status_changed"
    # After a resolve, the same key opens a new alert.
    api.post("/v2/enqueue", json=pd_event(pd_key, dedup_key="k1"))
    items = api.ok("GET", "/api/v1/alerts", params={"status": "open"})["items"]
    assert len(items) == 1 and items[0]["id"] != alert["id"]


def test_ack_or_resolve_of_unknown_key_is_accepted_and_dropped(api: Api, pd_key: str) -> None:
    for action in ("acknowledge", "resolve"):
        status, body = api.post("/v2/enqueue", json=pd_event(pd_key, action, "never-seen"))
        assert status == 202 and body["dedup_key"] == "never-seen"
    assert api.ok("GET", "/api/v1/alerts")["items"] == []
    assert api.ok("GET", "/api/v1/alerts/counts")["dropped"] == 2


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"event_action": "explode"}, "event_action"),
        ({"payload": {"source": "x", "severity": "critical"}}, "payload.summary"),
        ({"payload": {"summary": "s", "source": "x", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"summary": "s" * 1025, "source": "x", "severity": "info"}}, "1024"),
        ({"dedup_key": "d" * 256}, "dedup_key"),
        ({"routing_key": ""}, "routing_key"),
    ],
)
def test_invalid_events_get_400_with_errors(
    api: Api, pd_key: str, change: dict[str, object], fragment: str
) -> None:
    status, body = api.post("/v2/enqueue", json={**pd_event(pd_key), **change})
    assert status == 400
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(fragment in error for error in body["errors"]), body
    assert api.ok("GET", "/api/v1/alerts")["items"] == []


def test_unknown_or_wrong_kind_routing_key(api: Api, admin_api: Api) -> None:
    am_key = create_integration(admin_api, "prom", "alertmanager")
    for key in ("0" * 32, am_key):
        status, body = api.post("/v2/enqueue", json=pd_event(key))
        assert status == 400 and body["errors"] == ["Invalid routing key"]


def test_malformed_json_and_rate_limit(api: Api, admin_api: Api) -> None:
    status, body = api.request(
        "POST", "/v2/enqueue", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["status"] == "invalid event"
    key = create_integration(admin_api, "tiny", "pagerduty", rate_limit=0.01, burst=1)
    assert api.post("/v2/enqueue", json=pd_event(key))[0] == 202
    response = api.client.post("/v2/enqueue", json=pd_event(key))
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert response.json()["status"] == "throttle event"


def test_pdpyras_style_client_works_against_a_custom_base_url(api: Api, pd_key: str) -> None:
    """What the official clients send: JSON with routing_key, no Authorization header."""
    body = {
        "routing_key": pd_key,
        "event_action": "trigger",
        "payload": {"summary": "CPU high", "source": "web-1", "severity": "warning"},
        "dedup_key": "cpu-web-1",
    }
    response = api.client.post(
        "/v2/enqueue", json=body, headers={"User-Agent": "pdpyras/5.0", "Accept": "*/*"}
    )
    assert response.status_code == 202
    assert response.json()["dedup_key"] == "cpu-web-1"
    wait_for_intake(api.client, response)
    alert = api.ok("GET", "/api/v1/alerts")["items"][0]
    assert alert["action"] == "record"  # warnings are recorded by the default routes
