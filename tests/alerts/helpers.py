"""Payload builders from the documented formats (Alertmanager v4, PagerDuty v2, Grafana)."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Api
from warroom.core.runtime import Runtime


def am_alert(
    name: str = "HighErrorRate",
    *,
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: str = "2026-11-23T09:58:00Z",
    ends_at: str = "0001-01-01T00:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, "service": "payments", "severity": "critical", **labels}
    alert: dict[str, Any] = {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": f"{name} on {all_labels.get('instance', 'pod-1')}"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint or f"{abs(hash(tuple(sorted(all_labels.items())))):016x}"[:16],
    }
    return alert


def am_payload(
    alerts: list[dict[str, Any]],
    *,
    group_key: str = '{}:{alertname="HighErrorRate"}',
    status: str | None = None,
) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status or ("firing" if firing else "resolved"),
        "receiver": "warroom",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "notification_reason": "first notification",
        "routeLabels": {},
        "alerts": alerts,
    }


def pd_event(
    key: str, action: str = "trigger", dedup_key: str | None = None, **payload: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": key, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "Disk full on db-1",
            "source": "db-1",
            "severity": "critical",
            "timestamp": "2026-11-23T09:59:00.000+0000",
            "component": "postgres",
            "group": "storage",
            "class": "disk",
            "custom_details": {"service": "payments", "free": "0%"},
            **payload,
        }
        body["links"] = [{"href": "https://runbooks/disk", "text": "Runbook"}]
        body["images"] = [{"src": "https://graphs/disk.png", "alt": "disk"}]
    return body


def create_integration(admin_api: Api, name: str, kind: str, **options: Any) -> str:
    body = admin_api.ok(
        "POST", "/api/v1/integrations", json={"name": name, "kind": kind, "options": options}
    )
    key: str = body["key"]
    return key


def post_am(api: Api, key: str, payload: Any) -> tuple[int, Any]:
    """Send an Alertmanager webhook; on 202, what processing did (from the 202's Location)."""
    return deliver(api, "/api/v1/alerts/alertmanager", payload, key)


def deliver(
    api: Api, path: str, payload: Any, key: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """POST a webhook (with an integration key, or `headers`). An accepted one (202) is followed
    to its status monitor, as an API client would, and its processed record is returned."""
    sent = {"Authorization": f"Bearer {key}"} if key else {**api.headers, **(headers or {})}
    response = api.client.post(path, json=payload, headers=sent)
    if response.status_code != 202:
        return response.status_code, response.json()
    record = api.ok("GET", response.headers["location"], params={"wait": 30})
    assert record["status"] == "processed", record
    return 202, record


def settle_intake(runtime: Runtime, timeout: float = 30) -> None:
    """Wait until every acknowledged webhook has been processed (for clients that do not show
    the 202's status monitor, such as the PagerDuty SDKs)."""
    deadline = time.monotonic() + timeout
    while runtime.alerts.intake.log.backlog():
        assert time.monotonic() < deadline, "the intake log was not processed in time"
        time.sleep(0.01)


def timeline_types(api: Api, incident: str) -> list[str]:
    events = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    return [e["type"] for e in events]


def resolve_incident(runtime: Runtime, incident: str) -> None:
    from warroom.core.auth import SYSTEM
    from warroom.incidents.schemas import ResolveIn

    checklist = {item.id: {"confirmed": True} for item in runtime.policy.resolution_checklist}
    runtime.incidents.resolve(
        SYSTEM, incident, ResolveIn.model_validate({"summary": "fixed", "checklist": checklist})
    )
