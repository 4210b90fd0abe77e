"""The incident API end to end: real app, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import T0, Api

ALL_CONFIRMED = {
    item: {"confirmed": True}
    for item in (
        "issue_gone",
        "error_rates_baseline",
        "users_can_use_feature",
        "monitoring_stable",
        "stakeholders_notified",
    )
}


def declare(api: Api, **overrides: Any) -> dict[str, Any]:
    body = {"title": "Checkout failing", "severity": "SEV2", "services": ["payments"], **overrides}
    status, data = api.post("/api/v1/incidents", body)
    assert status == 201, data
    return data  # type: ignore[no-any-return]


def count_incidents(api: Api) -> int:
    return len(api.ok("GET", "/api/v1/incidents", params={"limit": 500})["items"])


def test_declare_returns_public_id_and_policy_view(api: Api) -> None:
    data = declare(api, severity="P1", summary="5xx on /pay", labels={"team": "core"})
    assert data["id"] == "INC-20261123-001"
    assert data["severity"] == "SEV2"  # alias P1 resolves to the canonical id
    assert data["status"] == "triggered"
    assert data["services"] == ["payments"]
    assert data["labels"] == {"team": "core"}
    assert data["declared_at"].startswith("2026-11-23T10:00:00")
    assert "acknowledged" in data["allowed_moves"]
    assert data["targets"]["response"]["due_at"]
    assert "commander" in data["roles_missing"]


def test_ids_count_up_per_day(api: Api, runtime: Any) -> None:
    assert declare(api)["id"] == "INC-20261123-001"
    assert declare(api)["id"] == "INC-20261123-002"
    runtime.clock.advance(timedelta(days=1))
    assert declare(api)["id"] == "INC-20261124-001"


def test_full_lifecycle_records_every_step(api: Api, runtime: Any) -> None:
    incident = declare(api, severity="SEV3")["id"]
    path = f"/api/v1/incidents/{incident}"
    runtime.clock.advance(timedelta(minutes=2))
    assert api.ok("POST", f"{path}/acknowledge")["acknowledged_at"].startswith("2026-11-23T10:02")
    api.ok("POST", f"{path}/roles", json={"role": "commander", "person": "carol"})
    api.ok("POST", f"{path}/status", json={"status": "investigating"})
    api.ok("POST", f"{path}/notes", json={"text": "error spike after deploy"})
    api.ok("POST", f"{path}/status", json={"status": "identified", "reason": "bad deploy"})
    runtime.clock.advance(timedelta(minutes=10))
    mitigated = api.ok("POST", f"{path}/status", json={"status": "monitoring"})
    assert mitigated["mitigated_at"].startswith("2026-11-23T10:12")
    resolved = api.ok(
        "POST", f"{path}/resolve", json={"summary": "rolled back", "checklist": ALL_CONFIRMED}
    )
    assert resolved["status"] == "resolved"
    closed = api.ok("POST", f"{path}/close")  # SEV3: post-mortem only recommended
    assert closed["status"] == "closed"
    events = api.ok("GET", f"{path}/timeline")["events"]
    assert [e["type"] for e in events] == [
        "declared",
        "acknowledged",
        "role_assigned",
        "status_changed",
        "note_added",
        "status_changed",
        "status_changed",
        "resolved",
        "postmortem_scheduled",  # recommended for SEV3: drafted at resolve, owner and due date
        "closed",
    ]
    assert all(e["actor"] == "token:alice" for e in events if e["type"] != "postmortem_scheduled")


def test_resolve_guard_names_unconfirmed_items_and_changes_nothing(api: Api) -> None:
    incident = declare(api)["id"]
    path = f"/api/v1/incidents/{incident}"
    status, body = api.post(
        f"{path}/resolve",
        {"summary": "fixed", "checklist": {"issue_gone": {"confirmed": True}}},
    )
    assert status == 409
    assert body["error"]["code"] == "guard_failed"
    assert "error_rates_baseline" in body["error"]["message"]
    unmet = body["error"]["details"]["unmet"]
    assert [u["guard"] for u in unmet] == ["resolution_checklist"]
    assert api.ok("GET", path)["status"] == "triggered"
    assert len(api.ok("GET", f"{path}/timeline")["events"]) == 1


def test_resolve_needs_summary(api: Api) -> None:
    incident = declare(api)["id"]
    status, body = api.post(
        f"/api/v1/incidents/{incident}/resolve", {"summary": " ", "checklist": ALL_CONFIRMED}
    )
    assert status == 409
    assert body["error"]["details"]["unmet"][0]["guard"] == "resolution_summary"


def test_waiver_needs_a_reason(api: Api) -> None:
    incident = declare(api)["id"]
    checklist = {**ALL_CONFIRMED, "stakeholders_notified": {"waived": ""}}
    status, body = api.post(
        f"/api/v1/incidents/{incident}/resolve", {"summary": "x", "checklist": checklist}
    )
    assert status == 409
    assert "stakeholders_notified" in body["error"]["message"]
    checklist["stakeholders_notified"] = {"waived": "internal-only service"}
    status, body = api.post(
        f"/api/v1/incidents/{incident}/resolve", {"summary": "x", "checklist": checklist}
    )
    assert status == 200, body
    assert body["resolution_checklist"]["stakeholders_notified"] == {
        "confirmed": False,
        "waived": "internal-only service",
    }


def test_close_of_sev1_needs_postmortem(api: Api) -> None:
    incident = declare(api, severity="SEV1")["id"]
    path = f"/api/v1/incidents/{incident}"
    api.ok("POST", f"{path}/resolve", json={"summary": "failover", "checklist": ALL_CONFIRMED})
    status, body = api.post(f"{path}/close")
    assert status == 409
    assert body["error"]["details"]["unmet"][0]["guard"] == "postmortem"
    assert api.ok("GET", path)["status"] == "resolved"
    due = (T0 + timedelta(hours=48)).isoformat()
    api.ok("POST", f"{path}/postmortem/schedule", json={"owner": "dana", "due_at": due})
    # Scheduled is not enough: a required post-mortem must be published before closing.
    status, body = api.post(f"{path}/close")
    assert status == 409
    assert "published post-mortem" in body["error"]["message"]
    pm = api.ok("GET", f"{path}/postmortem")
    written = pm["body"].replace(
        "What in the system allowed this to happen? Describe mechanisms, not people.",
        "The primary database ran out of disk.",
    )
    api.ok("PUT", f"{path}/postmortem", json={"body": written, "version": pm["version"]})
    api.ok("POST", f"{path}/postmortem/submit")
    api.ok("POST", f"{path}/postmortem/publish")
    assert api.ok("POST", f"{path}/close")["status"] == "closed"


def test_reopen_needs_reason_and_reopens(api: Api) -> None:
    incident = declare(api, severity="SEV3")["id"]
    path = f"/api/v1/incidents/{incident}"
    api.ok("POST", f"{path}/resolve", json={"summary": "x", "checklist": ALL_CONFIRMED})
    status, body = api.post(f"{path}/reopen", {"reason": ""})
    assert status == 409
    assert body["error"]["details"]["unmet"][0]["guard"] == "reason"
    data = api.ok("POST", f"{path}/reopen", json={"reason": "errors are back"})
    assert data["status"] == "reopened"
    assert data["resolved_at"] is None
    assert data["reopen_count"] == 1


@pytest.mark.parametrize(
    ("moves", "target", "code"),
    [
        ([], "closed", "use_dedicated_action"),
        (["resolve"], "investigating", "illegal_transition"),
        ([], "triggered", "invalid_input"),
    ],
)
def test_illegal_moves_are_refused(api: Api, moves: list[str], target: str, code: str) -> None:
    incident = declare(api)["id"]
    path = f"/api/v1/incidents/{incident}"
    for move in moves:
        api.ok("POST", f"{path}/{move}", json={"summary": "x", "checklist": ALL_CONFIRMED})
    before = api.ok("GET", f"{path}/timeline")["events"]
    status, body = api.post(f"{path}/status", {"status": target})
    assert 400 <= status < 500
    assert body["error"]["code"] == code
    if code == "use_dedicated_action":  # the message names the action by its name
        assert "use the close action" in body["error"]["message"]
    assert api.ok("GET", f"{path}/timeline")["events"] == before


def test_acknowledge_twice_is_a_conflict(api: Api) -> None:
    incident = declare(api)["id"]
    api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
    status, body = api.post(f"/api/v1/incidents/{incident}/acknowledge")
    assert status == 409
    assert body["error"]["code"] == "illegal_transition"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"title": "x", "severity": "SEV9"}, 422, "SEV1"),
        ({"title": "", "severity": "SEV1"}, 422, "title"),
        ({"title": "x"}, 422, "triage"),
        ({"title": "x", "severity": "SEV1", "type": "alien_invasion"}, 422, "type"),
        ({"title": "x", "severity": "SEV1", "services": ["Bad Name"]}, 422, "slug"),
        ({"title": "x", "severity": "SEV1", "bogus": 1}, 422, "bogus"),
        (
            {"title": "x", "severity": "SEV1", "started_at": "2026-11-24T10:00:00Z"},
            422,
            "future",
        ),
        (
            {
                "title": "x",
                "severity": "SEV1",
                "started_at": "2026-11-23T09:50:00Z",
                "detected_at": "2026-11-23T09:40:00Z",
            },
            422,
            "started_at",
        ),
    ],
)
def test_bad_declares_are_4xx_and_change_nothing(
    api: Api, body: dict[str, Any], status: int, needle: str
) -> None:
    got, reply = api.post("/api/v1/incidents", body)
    assert got == status, reply
    assert set(reply["error"]) == {"code", "message", "details"}
    assert needle.lower() in str(reply["error"]).lower()
    assert count_incidents(api) == 0


def test_malformed_json_is_400(api: Api) -> None:
    status, body = api.request(
        "POST",
        "/api/v1/incidents",
        content=b'{"title": "x", ',
        headers={**api.headers, "content-type": "application/json"},
    )
    assert status == 400
    assert body["error"]["code"] == "malformed_json"
    assert count_incidents(api) == 0


def test_oversized_body_is_413(api: Api) -> None:
    status, body = api.post("/api/v1/incidents", {"title": "x", "summary": "a" * 600_000})
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_unknown_incident_is_404(api: Api) -> None:
    status, body = api.get("/api/v1/incidents/INC-20200101-001")
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_scopes(api: Api, viewer_api: Api, client: Any, make_token: Any) -> None:
    incident = declare(api)["id"]
    assert viewer_api.ok("GET", f"/api/v1/incidents/{incident}")["id"] == incident
    status, body = viewer_api.post(f"/api/v1/incidents/{incident}/notes", {"text": "hi"})
    assert status == 403
    assert "responder" in body["error"]["message"]
    status, _ = viewer_api.post("/api/v1/incidents", {"title": "x", "severity": "SEV1"})
    assert status == 403
    ingest = Api(client, make_token("ingest"))
    assert ingest.get("/api/v1/incidents")[0] == 403
    anonymous = Api(client, None)
    assert anonymous.get("/api/v1/incidents")[0] == 401
    assert Api(client, "wr_not-a-token").get("/api/v1/incidents")[0] == 401
    assert len(api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]) == 1


def test_list_filters(api: Api) -> None:
    a = declare(api, title="Payments down", severity="SEV1", services=["payments"])["id"]
    b = declare(api, title="Search slow", severity="SEV3", services=["search"])["id"]
    c = declare(api, title="Payments latency", severity="SEV2", services=["payments"])["id"]
    api.ok(
        "POST", f"/api/v1/incidents/{b}/resolve", json={"summary": "x", "checklist": ALL_CONFIRMED}
    )

    def ids(**params: Any) -> list[str]:
        return [i["id"] for i in api.ok("GET", "/api/v1/incidents", params=params)["items"]]

    assert ids() == [c, b, a]
    assert ids(service="payments") == [c, a]
    assert ids(severity=["SEV1", "P1"]) == [c, a]
    assert ids(open="true") == [c, a]
    assert ids(open="false") == [b]
    assert ids(status="resolved") == [b]
    assert ids(q="latency") == [c]
    assert ids(q="100%") == []
    page = api.ok("GET", "/api/v1/incidents", params={"limit": 2})
    assert [i["id"] for i in page["items"]] == [c, b]
    rest = api.ok("GET", "/api/v1/incidents", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [i["id"] for i in rest["items"]] == [a]
    assert rest["next_cursor"] is None


def test_backdated_note_and_milestone_correction(api: Api) -> None:
    incident = declare(api)["id"]
    path = f"/api/v1/incidents/{incident}"
    api.ok(
        "POST", f"{path}/notes", json={"text": "first 5xx", "occurred_at": "2026-11-23T09:30:00Z"}
    )
    fixed = api.ok(
        "POST",
        f"{path}/milestones",
        json={"milestone": "started_at", "at": "2026-11-23T09:30:00Z", "reason": "logs show it"},
    )
    assert fixed["started_at"].startswith("2026-11-23T09:30")
    events = api.ok("GET", f"{path}/timeline")["events"]
    assert events[0]["type"] == "note_added"  # ordered by when it happened
    recorded = api.ok("GET", f"{path}/timeline", params={"order": "recorded"})["events"]
    assert recorded[0]["type"] == "declared"
    assert recorded[-1]["data"]["previous"].startswith("2026-11-23T10:00")


def test_severity_change_and_role_unassign(api: Api) -> None:
    incident = declare(api)["id"]
    path = f"/api/v1/incidents/{incident}"
    assert (
        api.ok("POST", f"{path}/severity", json={"severity": "P0", "reason": "all users"})[
            "severity"
        ]
        == "SEV1"
    )
    status, body = api.post(f"{path}/severity", {"severity": "SEV1"})
    assert status == 409
    assert body["error"]["code"] == "no_change"
    api.ok("POST", f"{path}/roles", json={"role": "scribe", "person": "erin"})
    assert api.ok("POST", f"{path}/roles", json={"role": "scribe", "person": None})["roles"] == {}
    status, _ = api.post(f"{path}/roles", {"role": "janitor", "person": "x"})
    assert status == 422


def test_triage_propose_and_override(api: Api) -> None:
    proposal = api.ok("POST", "/api/v1/triage", json={"complete_outage": True})
    assert proposal["severity"] == "SEV1"
    assert proposal["type"] == "service_outage"
    assert proposal["severity_rule"]
    incident = declare(api, severity="SEV3")["id"]
    path = f"/api/v1/incidents/{incident}"
    status, body = api.post(
        f"{path}/triage", {"answers": {"complete_outage": True}, "severity": "SEV2"}
    )
    assert status == 422
    assert body["error"]["code"] == "override_reason_required"
    data = api.ok(
        "POST",
        f"{path}/triage",
        json={
            "answers": {"complete_outage": True},
            "severity": "SEV2",
            "override_reason": "only one region",
        },
    )
    assert data["severity"] == "SEV2"
    triaged = [e for e in api.ok("GET", f"{path}/timeline")["events"] if e["type"] == "triaged"]
    assert triaged[0]["data"]["overridden"] is True
    assert triaged[0]["data"]["override_reason"] == "only one region"
    assert triaged[0]["data"]["proposed_severity"] == "SEV1"


def test_all_unknown_triage_proposes_no_severity(api: Api) -> None:
    """Every answer unknown: no severity (never the lowest), in the proposal, on declare and
    on recording a triage, unless a person chooses one."""
    proposal = api.ok("POST", "/api/v1/triage", json={})
    assert proposal["severity"] is None
    assert proposal["severity_rule"] == "unanswered"
    assert "every answer is unknown" in proposal["reasons"][0]
    nulls = {"complete_outage": None, "data_loss": None}
    assert api.ok("POST", "/api/v1/triage", json=nulls)["severity"] is None
    before = count_incidents(api)
    status, body = api.post("/api/v1/incidents", {"title": "Odd", "triage": {}})
    assert status == 422
    assert body["error"]["code"] == "triage_unanswered"
    assert count_incidents(api) == before
    chosen = declare(api, severity="SEV2", triage={})
    assert chosen["severity"] == "SEV2"
    path = f"/api/v1/incidents/{chosen['id']}"
    status, body = api.post(f"{path}/triage", {"answers": {}})
    assert status == 422
    assert body["error"]["code"] == "triage_unanswered"
    triaged = [e for e in api.ok("GET", f"{path}/timeline")["events"] if e["type"] == "triaged"]
    assert len(triaged) == 1
    assert triaged[0]["data"]["proposed_severity"] is None
    assert triaged[0]["data"]["overridden"] is False


def test_declare_with_triage_uses_the_proposal(api: Api) -> None:
    data = declare(api, severity=None, triage={"security_breach": True})
    assert data["severity"] == "SEV1"
    assert data["type"] == "security_incident"
    assert data["triage"]["severity_rule"]


def test_tokens_admin_only_and_revocable(admin_api: Api, api: Api, client: Any) -> None:
    assert api.get("/api/v1/tokens")[0] == 403
    created = admin_api.ok("POST", "/api/v1/tokens", json={"name": "ci", "scopes": ["responder"]})
    assert created["token"].startswith("wr_")
    listed = admin_api.ok("GET", "/api/v1/tokens")["items"]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    new = Api(client, created["token"])
    assert new.get("/api/v1/incidents")[0] == 200
    admin_api.ok("DELETE", f"/api/v1/tokens/{created['id']}")
    assert new.get("/api/v1/incidents")[0] == 401
    status, _ = admin_api.post("/api/v1/tokens", {"name": "x", "scopes": ["god"]})
    assert status == 422


def test_health_and_readiness(client: Any) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}
    assert client.get("/api/openapi.json").status_code == 200


def test_pagination_with_a_service_filter_visits_each_incident_once(api: Api) -> None:
    for n in range(5):
        declare(api, title=f"p{n}", services=["payments" if n != 2 else "search"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"service": "payments", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.ok("GET", "/api/v1/incidents", params=params)
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p4", "p3", "p1", "p0"]


def test_timeline_filtered_by_event_type(runtime: Any, api: Api) -> None:
    incident = declare(api)["id"]
    api.ok("POST", f"/api/v1/incidents/{incident}/notes", json={"text": "one"})
    api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
    kept = runtime.incidents.timeline(incident, types=("acknowledged", "declared"))
    assert [e.type for e in kept] == ["declared", "acknowledged"]
    assert runtime.incidents.timeline(incident, types=()) == []
