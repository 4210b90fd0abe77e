"""Post-mortems end to end through the API: created at resolve, drafted, reviewed, published."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.conftest import T0, Api
from tests.postmortems.conftest import (
    ALL_CONFIRMED,
    api_for,
    declare,
    record_incident,
    write_sections,
)
from tests.support.receiver import http_receiver
from warroom.core import tables
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.worker import Worker


def test_required_postmortem_is_created_at_resolve_with_owner_and_due_date(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = record_incident(api, runtime, clock)
    resolved_at = clock.now()
    pm = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")
    assert pm["status"] == "draft"
    assert pm["requirement"] == "required"
    assert pm["owner"] == "carol"  # the commander owns it
    assert datetime.fromisoformat(pm["due_at"]) == resolved_at + timedelta(hours=48)
    state = api.ok("GET", f"/api/v1/incidents/{incident}")["postmortem"]
    assert state["status"] == "scheduled" and state["owner"] == "carol"
    types = [e["type"] for e in api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]]
    assert types.count("postmortem_scheduled") == 1


def test_draft_contains_the_recorded_facts(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    body = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")["body"]
    for fact in (
        "Checkout returns 500 errors",
        "Card payments fail with HTTP 500 after the v2.3.1 deploy",
        "**Users affected:** 12,000",
        "**Duration of impact:** 1h",  # 4 + 20 + 36 minutes
        "**Revenue estimate:** 5,000.00",  # 5000/h × 1 h
        "HighErrorRate",
        "c6f7e8d1a2b3c4d5",
        "deploy payments v2.3.1",
        "| payments-5xx | check-db | manual | ok |",
        "| restart payments pods | no effect |",
        "| roll back payments to v2.3.0 | success |",
        "**commander:** carol",
        "**deployer:** dave",
        "| Time to acknowledge | 4m |",
        "| Time to mitigate | 20m |",
        "| Time from mitigation to resolution | 36m |",
        "**Resolution:** rolled back to v2.3.0",
    ):
        assert fact in body, fact
    for heading in (
        "## Root cause",
        "## Contributing factors",
        "## Five whys",
        "## What went well",
        "## What went wrong",
        "## Where we got lucky",
        "## Lessons learned",
        "## Prevention",
        "### Monitoring",
        "### Testing",
        "### Process",
        "### Infrastructure",
    ):
        assert heading in body, heading
    assert "Blameless review" in body
    assert api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")["warnings"] == []


def test_close_needs_a_published_postmortem(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    path = f"/api/v1/incidents/{incident}"
    status, body = api.post(f"{path}/close")
    assert status == 409
    assert body["error"]["details"]["unmet"][0]["guard"] == "postmortem"
    # publishing straight from draft is refused: review comes first
    status, body = api.post(f"{path}/postmortem/publish")
    assert status == 409 and "submit" in body["error"]["message"]
    # The template requires its root cause: a draft holding only the prompt is refused.
    status, body = api.post(f"{path}/postmortem/submit", json={"reviewers": ["erin"]})
    assert status == 409 and body["error"]["code"] == "postmortem_incomplete"
    assert body["error"]["details"]["sections"] == [
        {"section": "Root cause", "problem": "blank (only the prompt)"}
    ]
    assert api.ok("GET", f"{path}/postmortem")["status"] == "draft"  # refused: nothing changed
    write_sections(api, incident)
    api.ok("POST", f"{path}/postmortem/submit", json={"reviewers": ["erin"]})
    assert api.post(f"{path}/close")[0] == 409  # in review is not published
    published = api.ok("POST", f"{path}/postmortem/publish")
    assert published["status"] == "published" and published["published_at"]
    assert api.ok("GET", path)["postmortem"]["status"] == "published"
    assert api.ok("POST", f"{path}/close")["status"] == "closed"


def test_edit_review_and_stale_versions(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    path = f"/api/v1/incidents/{incident}/postmortem"
    pm = api.ok("GET", path)
    text = pm["body"].replace(
        "What in the system allowed this to happen? Describe mechanisms, not people.",
        "A connection pool limit of 10 in v2.3.1 starved card payments.",
    )
    edited = api.ok(
        "PUT", path, json={"body": text, "version": pm["version"], "root_cause_category": "code"}
    )
    assert edited["version"] == pm["version"] + 1
    assert "connection pool limit" in edited["body"]
    assert edited["root_cause_category"] == "code"
    status, body = api.request("PUT", path, json={"body": "x", "version": pm["version"]})
    assert status == 409 and body["error"]["code"] == "stale_version"
    assert api.ok("GET", path)["body"] == edited["body"]  # refused edit changed nothing
    status, body = api.request("PUT", path, json={"root_cause_category": "gremlins"})
    assert status == 422
    # regenerate keeps what people wrote and refreshes the facts
    api.ok("POST", f"/api/v1/incidents/{incident}/notes", json={"text": "late note"})
    regenerated = api.ok("POST", f"{path}/regenerate")
    assert "connection pool limit" in regenerated["body"]
    assert "Note: late note" in regenerated["body"]
    api.ok("POST", f"{path}/submit")
    api.ok("POST", f"{path}/return", json={"reason": "add the five whys"})
    assert api.ok("GET", path)["status"] == "draft"
    api.ok("POST", f"{path}/submit")
    api.ok("POST", f"{path}/publish")
    status, _ = api.request("PUT", path, json={"body": "rewrite"})
    assert status == 409  # published is final


def test_blameful_wording_is_flagged(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    path = f"/api/v1/incidents/{incident}/postmortem"
    body = api.ok("GET", path)["body"] + "\nDave was careless and it was human error.\n"
    warnings = api.ok("PUT", path, json={"body": body})["warnings"]
    assert len(warnings) == 2 and "careless" in warnings[0]


def test_optional_postmortem_is_not_created_but_can_be(api: Api) -> None:
    incident = declare(api, severity="SEV4")
    path = f"/api/v1/incidents/{incident}"
    api.ok("POST", f"{path}/resolve", json={"summary": "typo fixed", "checklist": ALL_CONFIRMED})
    status, body = api.get(f"{path}/postmortem")
    assert status == 404 and body["error"]["code"] == "no_postmortem"
    assert api.ok("POST", f"{path}/close")["status"] == "closed"
    created = api.ok("POST", f"{path}/postmortem")
    assert created["requirement"] == "optional" and created["status"] == "draft"


def test_viewer_cannot_write(
    api: Api, viewer_api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = record_incident(api, runtime, clock)
    path = f"/api/v1/incidents/{incident}/postmortem"
    assert viewer_api.get(path)[0] == 200
    assert viewer_api.request("PUT", path, json={"body": "x"})[0] == 403
    assert viewer_api.post(f"{path}/submit")[0] == 403


def test_export_markdown_and_sanitised_html(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock, title="Pay <script>alert(1)</script> down")
    path = f"/api/v1/incidents/{incident}/postmortem"
    write_sections(api, incident)
    api.ok("POST", f"{path}/submit")
    assert api.ok("GET", "/api/v1/postmortems/export")["files"] == []  # only published ones
    api.ok("POST", f"{path}/publish")
    export = api.ok("GET", "/api/v1/postmortems/export")
    (entry,) = export["files"]
    assert entry["markdown_name"] == f"{incident}.md"
    assert entry["html_name"] == f"{incident}.html"
    assert "<script>" not in entry["html"]
    assert "&lt;script&gt;" in entry["html"]
    assert "<table>" in entry["html"]
    assert f"[{incident}]({incident}.md)" in export["index"]["markdown"]
    response = api.client.get(f"{path}?format=html", headers=api.headers)
    assert response.status_code == 200 and "<script>" not in response.text
    listed = api.ok("GET", "/api/v1/postmortems", params={"status": "published"})["items"]
    assert [p["incident"] for p in listed] == [incident]


def _effects(runtime: Runtime, kind: str) -> list[Any]:
    with runtime.db.read() as conn:
        return list(
            conn.execute(
                select(tables.outbox)
                .where(tables.outbox.c.kind == kind)
                .order_by(tables.outbox.c.due_at)
            ).all()
        )


def _types(api: Api, incident: str) -> list[str]:
    return [e["type"] for e in api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]]


def test_reminders_then_overdue_escalation_through_the_outbox(
    make_runtime: Callable[[dict[str, Any]], Runtime], clock: FixedClock
) -> None:
    with http_receiver() as owner_channel, http_receiver() as managers:
        runtime = make_runtime(
            {
                "postmortems": {
                    "reminder_urls": [owner_channel.json_url()],
                    "escalation_urls": [managers.json_url()],
                    "reminders_before": ["24h"],
                }
            }
        )
        api = api_for(runtime)
        incident = record_incident(api, runtime, clock)
        due = clock.now() + timedelta(hours=48)
        (reminder,) = _effects(runtime, "postmortem_reminder")
        assert reminder.due_at == due - timedelta(hours=24)
        (overdue,) = _effects(runtime, "postmortem_overdue")
        assert overdue.due_at == due
        worker = Worker(runtime)
        worker.run_once()  # backstop create effect: idempotent
        clock.set(due - timedelta(hours=23))
        worker.run_once()
        worker.run_once()  # the notify effect it planned
        assert "postmortem_reminder_sent" in _types(api, incident)
        assert len(owner_channel.wait_for(1)) == 1
        assert "is due in 1d" in owner_channel.requests[0].json()["title"]
        clock.set(due + timedelta(minutes=1))
        worker.run_once()
        worker.run_once()
        types = _types(api, incident)
        assert "postmortem_overdue" in types
        assert len(managers.wait_for(1)) == 1
        assert "overdue" in managers.requests[0].json()["title"]
        pm = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")
        assert pm["overdue"] is True
        worker.run_once()
        assert _types(api, incident).count("postmortem_overdue") == 1  # once only


def test_published_or_rescheduled_postmortems_are_not_chased(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = record_incident(api, runtime, clock)
    path = f"/api/v1/incidents/{incident}"
    new_due = (clock.now() + timedelta(days=5)).isoformat()
    move = {"owner": "erin", "due_at": new_due}
    status, body = api.post(f"{path}/postmortem/schedule", json=move)
    assert status == 422 and body["error"]["code"] == "reason_required"
    assert api.ok("GET", f"{path}/postmortem")["owner"] != "erin"  # refused: nothing changed
    api.ok("POST", f"{path}/postmortem/schedule", json={**move, "reason": "erin is on leave"})
    assert api.ok("GET", f"{path}/postmortem")["owner"] == "erin"
    (moved,) = [
        e
        for e in api.ok("GET", f"{path}/timeline")["events"]
        if e["type"] == "postmortem_scheduled" and e["data"].get("reason")
    ]
    assert moved["data"]["reason"] == "erin is on leave"
    assert moved["data"]["previous_due_at"] and moved["actor"] == "token:alice"
    clock.advance(timedelta(hours=49))
    worker = Worker(runtime)
    worker.run_once()
    worker.run_once()
    assert "postmortem_overdue" not in _types(api, incident)  # the old due date no longer holds
    write_sections(api, incident)
    api.ok("POST", f"{path}/postmortem/submit")
    api.ok("POST", f"{path}/postmortem/publish")
    clock.advance(timedelta(days=5))
    worker.run_once()
    assert "postmortem_overdue" not in _types(api, incident)
    assert clock.now() > T0
