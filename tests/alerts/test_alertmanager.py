"""Alertmanager intake through the API: auth, dedup, grouping, monitoring, recurrence, silences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.helpers import (
    am_alert,
    am_payload,
    create_integration,
    post_am,
    resolve_incident,
    timeline_types,
)
from tests.conftest import Api
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime


@pytest.fixture
def am_key(admin_api: Api) -> str:
    return create_integration(admin_api, "prom", "alertmanager")


def test_firing_alert_declares_and_repeats_deduplicate(api: Api, am_key: str) -> None:
    alert = am_alert(fingerprint="aaaa000000000001")
    status, body = post_am(api, am_key, am_payload([alert]))
    assert status == 202, body
    assert body["created"] == 1 and len(body["incidents"]) == 1
    incident = body["incidents"][0]
    data = api.ok("GET", f"/api/v1/incidents/{incident}")
    assert data["severity"] == "SEV2"  # severity=critical -> SEV2 by default
    assert data["services"] == ["payments"]
    assert data["status"] == "triggered"
    assert timeline_types(api, incident) == ["declared", "alert_attached"]

    # HA Alertmanager delivers the same notification twice: nothing new.
    for _ in range(2):
        status, again = post_am(api, am_key, am_payload([alert]))
        assert status == 202 and again["deduplicated"] == 1 and again["created"] == 0
    assert timeline_types(api, incident) == ["declared", "alert_attached"]
    alerts = api.ok("GET", "/api/v1/alerts", params={"incident": incident})["items"]
    assert len(alerts) == 1 and alerts[0]["count"] == 3

    # A second alert of the same group attaches to the same incident.
    other = am_alert(fingerprint="aaaa000000000002", instance="pod-2")
    status, body = post_am(api, am_key, am_payload([alert, other]))
    assert body["created"] == 1 and body["deduplicated"] == 1
    assert body["incidents"] == [incident]
    assert timeline_types(api, incident).count("alert_attached") == 2
    assert len(api.ok("GET", "/api/v1/incidents")["items"]) == 1


def test_all_alerts_resolved_moves_to_monitoring_not_resolved(api: Api, am_key: str) -> None:
    first = am_alert(fingerprint="bbbb000000000001")
    second = am_alert(fingerprint="bbbb000000000002", instance="pod-2")
    body = post_am(api, am_key, am_payload([first, second]))[1]
    incident = body["incidents"][0]
    resolved_first = {**first, "status": "resolved", "endsAt": "2026-11-23T10:00:00Z"}
    post_am(api, am_key, am_payload([resolved_first, second]))
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "triggered"
    resolved_second = {**second, "status": "resolved", "endsAt": "2026-11-23T10:00:00Z"}
    post_am(api, am_key, am_payload([resolved_first, resolved_second]))
    data = api.ok("GET", f"/api/v1/incidents/{incident}")
    assert data["status"] == "monitoring"
    events = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    moved = [e for e in events if e["type"] == "status_changed"]
    assert len(moved) == 1 and "all alerts" in moved[0]["data"]["reason"]
    # A duplicate of the resolved notification changes nothing.
    status, again = post_am(api, am_key, am_payload([resolved_first, resolved_second]))
    assert status == 202 and again["resolved"] == 0
    assert len(api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]) == len(events)
    # A stale duplicate of the old firing notification does not open a new alert.
    status, stale = post_am(api, am_key, am_payload([first]))
    assert stale["created"] == 0 and stale["deduplicated"] == 1
    # It fires again for real (a new startsAt): the fix did not hold.
    again = {**first, "startsAt": "2026-11-23T10:01:00Z"}
    status, body = post_am(api, am_key, am_payload([again]))
    assert body["created"] == 1 and body["incidents"] == [incident]
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "investigating"


def test_warnings_are_recorded_without_an_incident(api: Api, am_key: str) -> None:
    warning = am_alert("DiskFilling", severity="warning", fingerprint="cccc000000000001")
    status, body = post_am(api, am_key, am_payload([warning], group_key="{}:{disk}"))
    assert status == 202 and body["recorded"] == 1 and body["incidents"] == []
    alert = api.ok("GET", "/api/v1/alerts")["items"][0]
    assert alert["action"] == "record" and alert["incident"] is None
    assert api.ok("GET", "/api/v1/incidents")["items"] == []


def test_key_auth_path_key_rotation_and_revocation(
    api: Api, admin_api: Api, am_key: str, viewer_api: Api
) -> None:
    payload = am_payload([am_alert(fingerprint="dddd000000000001")])
    assert post_am(api, "wrong", payload)[0] == 401
    # An API token is not an integration key: a responder's lacks the `ingest` scope.
    assert api.post("/api/v1/alerts/alertmanager", json=payload)[0] == 403
    status, _ = api.post(f"/api/v1/alerts/alertmanager/{am_key}", json=payload)
    assert status == 202
    # A key is valid only for its own kind of endpoint.
    pd_key = create_integration(admin_api, "pd", "pagerduty")
    assert post_am(api, pd_key, payload)[0] == 401
    assert (
        api.post(
            "/api/v1/alerts/grafana", json=payload, headers={"Authorization": f"Bearer {am_key}"}
        )[0]
        == 401
    )
    listed = admin_api.ok("GET", "/api/v1/integrations")["items"]
    assert {i["name"] for i in listed} == {"prom", "pd"}
    assert all("key" not in i for i in listed)
    assert (
        viewer_api.post("/api/v1/integrations", json={"name": "x", "kind": "alertmanager"})[0]
        == 403
    )
    rotated = admin_api.ok("POST", "/api/v1/integrations/prom/rotate")["key"]
    assert rotated != am_key
    assert post_am(api, am_key, payload)[0] == 401
    assert post_am(api, rotated, payload)[0] == 202
    admin_api.ok("POST", "/api/v1/integrations/prom/revoke")
    assert post_am(api, rotated, payload)[0] == 401
    assert admin_api.post("/api/v1/integrations", json={"name": "pd", "kind": "grafana"})[0] == 409


def test_bad_payloads_are_4xx_and_store_nothing(api: Api, am_key: str) -> None:
    headers = {"Authorization": f"Bearer {am_key}", "Content-Type": "application/json"}
    status, body = api.request(
        "POST", "/api/v1/alerts/alertmanager", content=b"{nope", headers=headers
    )
    assert status == 400 and body["error"]["code"] == "malformed_json"
    bad = am_payload([am_alert(fingerprint="eeee000000000001"), {"labels": "x"}])
    status, _ = post_am(api, am_key, bad)
    assert status == 422
    assert api.ok("GET", "/api/v1/alerts")["items"] == []
    assert api.ok("GET", "/api/v1/alerts/counts")["received"] == 0


def test_body_over_the_limit_is_413(api: Api, am_key: str) -> None:
    alert = am_alert(fingerprint="ffff000000000001")
    alert["annotations"]["description"] = "x" * (600 * 1024)
    status, _ = post_am(api, am_key, am_payload([alert]))
    assert status == 413
    assert api.ok("GET", "/api/v1/alerts")["items"] == []


def test_rate_limit_is_429_with_retry_after(api: Api, admin_api: Api) -> None:
    key = create_integration(admin_api, "slow", "alertmanager", rate_limit=0.01, burst=1)
    payload = am_payload([am_alert(fingerprint="abab000000000001")])
    assert post_am(api, key, payload)[0] == 202
    response = api.client.post(
        "/api/v1/alerts/alertmanager", json=payload, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert api.ok("GET", "/api/v1/alerts/counts")["rate_limited"] == 1


def test_recurrence_reopens_and_flags(
    api: Api, am_key: str, runtime: Runtime, clock: FixedClock
) -> None:
    alert = am_alert(fingerprint="1111000000000001")
    incident = post_am(api, am_key, am_payload([alert]))[1]["incidents"][0]
    resolved = {**alert, "status": "resolved", "endsAt": "2026-11-23T10:00:00Z"}
    post_am(api, am_key, am_payload([resolved]))
    resolve_incident(runtime, incident)
    clock.advance(timedelta(hours=2))
    again = am_alert(fingerprint="1111000000000001", starts_at="2026-11-23T11:59:00Z")
    body = post_am(api, am_key, am_payload([again]))[1]
    assert body["incidents"] == [incident]
    data = api.ok("GET", f"/api/v1/incidents/{incident}")
    assert data["status"] == "reopened"
    assert data["flags"] == {"recurred": True}
    events = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    detected = [e for e in events if e["type"] == "recurrence_detected"]
    assert len(detected) == 1
    assert detected[0]["data"]["fingerprint"] == "1111000000000001"
    assert detected[0]["data"]["previous_resolved_at"]
    shown = api.ok("GET", f"/api/v1/alerts/{body['alerts'][0]}")
    assert shown["recurred"] is True


def test_outside_the_recurrence_window_a_new_incident_is_declared(
    api: Api, am_key: str, runtime: Runtime, clock: FixedClock
) -> None:
    alert = am_alert(fingerprint="2222000000000001")
    first = post_am(api, am_key, am_payload([alert]))[1]["incidents"][0]
    post_am(api, am_key, am_payload([{**alert, "status": "resolved"}]))
    resolve_incident(runtime, first)
    clock.advance(timedelta(hours=25))
    again = am_alert(fingerprint="2222000000000001", starts_at="2026-11-24T10:59:00Z")
    second = post_am(api, am_key, am_payload([again]))[1]["incidents"][0]
    assert second != first
    assert "recurrence_detected" not in timeline_types(api, second)


def test_silenced_alerts_are_stored_but_declare_nothing(api: Api, am_key: str) -> None:
    silence = api.ok(
        "POST",
        "/api/v1/silences",
        json={
            "matchers": ["service=payments", 'env=~"prod|"'],
            "duration": "2h",
            "comment": "deploy",
        },
    )
    assert silence["state"] == "active" and silence["author"] == "token:alice"
    status, body = post_am(api, am_key, am_payload([am_alert(fingerprint="3333000000000001")]))
    assert status == 202 and body["silenced"] == 1 and body["incidents"] == []
    alert = api.ok("GET", "/api/v1/alerts")["items"][0]
    assert alert["silenced"] is True
    assert api.ok("GET", f"/api/v1/alerts/{alert['id']}")["silence"]["comment"] == "deploy"
    assert api.ok("GET", "/api/v1/incidents")["items"] == []
    # Other services are not silenced.
    other = am_alert("Down", service="search", fingerprint="3333000000000002")
    assert post_am(api, am_key, am_payload([other], group_key="{}:{search}"))[1]["created"] == 1
    api.ok("POST", f"/api/v1/silences/{silence['id']}/expire")
    assert api.ok("GET", "/api/v1/silences")["items"] == []
    new = am_alert(fingerprint="3333000000000003", instance="pod-9")
    body = post_am(api, am_key, am_payload([new], group_key="{}:{later}"))[1]
    assert len(body["incidents"]) == 1
    counts = api.ok("GET", "/api/v1/alerts/counts")
    assert counts["silenced"] == 1 and counts["received"] == 3


def test_silence_validation(api: Api) -> None:
    status, _ = api.post("/api/v1/silences", json={"matchers": ["bad matcher"], "comment": "x"})
    assert status == 422
    status, _ = api.post("/api/v1/silences", json={"matchers": ['a=~""'], "comment": "x"})
    assert status == 422  # matches everything
    status, _ = api.post("/api/v1/silences", json={"matchers": ["a=b"], "comment": " "})
    assert status == 422


def test_a_more_severe_alert_raises_the_incidents_severity(api: Api, am_key: str) -> None:
    first = am_alert(fingerprint="eeee000000000001", severity="error")
    incident = post_am(api, am_key, am_payload([first]))[1]["incidents"][0]
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["severity"] == "SEV3"
    worse = am_alert(fingerprint="eeee000000000002", instance="pod-2", severity="P0")
    body = post_am(api, am_key, am_payload([first, worse]))[1]
    assert body["incidents"] == [incident]
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["severity"] == "SEV1"
    events = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    raised = [e["data"] for e in events if e["type"] == "severity_changed"]
    assert (
        raised == [{"from": "SEV3", "to": "SEV1", "reason": raised[0]["reason"]}]
        and "SEV1 alert joined" in raised[0]["reason"]
    )
    # a less severe alert joining later never lowers it
    milder = am_alert(fingerprint="eeee000000000003", instance="pod-3", severity="warning")
    post_am(api, am_key, am_payload([first, worse, milder]))
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["severity"] == "SEV1"
    assert timeline_types(api, incident).count("severity_changed") == 1
