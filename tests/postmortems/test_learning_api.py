"""Similar incidents, patterns and runbook drafts through the API, on both databases."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Api
from tests.postmortems.conftest import ALL_CONFIRMED, declare, record_incident
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime


def _publish(api: Api, incident: str, category: str, root_cause: str) -> None:
    path = f"/api/v1/incidents/{incident}/postmortem"
    pm = api.ok("GET", path)
    body = pm["body"].replace(
        "What in the system allowed this to happen? Describe mechanisms, not people.", root_cause
    )
    api.ok("PUT", path, json={"body": body, "root_cause_category": category})
    api.ok("POST", f"{path}/submit")
    api.ok("POST", f"{path}/publish")


def test_similar_incidents_with_reasons_and_action_items(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    past = record_incident(api, runtime, clock)
    item = api.ok("POST", f"/api/v1/incidents/{past}/actions", json={"title": "Add a canary stage"})
    api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"status": "done"})
    api.ok("POST", f"/api/v1/incidents/{past}/actions", json={"title": "Alert on pool usage"})
    _publish(api, past, "deployment", "Connection pool exhausted after the deploy")
    unrelated = declare(api, title="Search is slow", services=["search"], severity="SEV3")
    clock.advance(timedelta(days=3))
    new = declare(
        api,
        title="Checkout errors again",
        summary="connection pool exhausted",
        services=["payments"],
        labels={"team": "core"},
    )
    matches = api.ok("GET", f"/api/v1/incidents/{new}/similar")["matches"]
    assert [m["incident"] for m in matches] == [past]
    (match,) = matches
    assert match["reasons"][0] == "same service: payments"
    assert "shared labels: team=core" in match["reasons"]
    assert any(r.startswith("similar text") and "exhausted" in r for r in match["reasons"])
    assert match["postmortem"] == {"status": "published", "root_cause_category": "deployment"}
    assert [(i["title"], i["done"]) for i in match["action_items"]] == [
        ("Add a canary stage", True),
        ("Alert on pool usage", False),
    ]
    assert match["action_items_done"] == 1
    # suggested on the new incident's timeline right after it was declared
    events = api.ok("GET", f"/api/v1/incidents/{new}/timeline")["events"]
    suggested = [e for e in events if e["type"] == "similar_incidents_suggested"]
    assert len(suggested) == 1 and suggested[0]["data"]["matches"][0]["incident"] == past
    # a description before declaring
    found = api.ok(
        "POST", "/api/v1/similar", json={"title": "pool exhausted", "services": ["payments"]}
    )["matches"]
    assert {m["incident"] for m in found} == {past, new}
    assert unrelated not in [m["incident"] for m in found]
    assert api.get("/api/v1/incidents/INC-20990101-001/similar")[0] == 404


def test_recurring_pattern_and_critical_patterns_file(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    for n in range(3):
        incident = declare(api, title=f"Payments outage {n}", severity="SEV2")
        api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/resolve",
            json={"summary": "rolled back", "checklist": ALL_CONFIRMED},
        )
        _publish(api, incident, "deployment", f"Bad deploy number {n}")
        clock.advance(timedelta(days=10))
    data = api.ok("GET", "/api/v1/patterns")
    (pattern,) = data["patterns"]
    assert pattern["service"] == "payments" and pattern["category"] == "deployment"
    assert pattern["count"] == 3
    assert "**payments / deployment**: 3 incidents" in data["document"]
    written = (runtime.settings.data_dir / "critical-patterns.md").read_text()
    assert "**payments / deployment**: 3 incidents" in written
    assert "Bad deploy number 2" in written


def test_runbook_draft_endpoint(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    data = api.ok("POST", f"/api/v1/incidents/{incident}/runbook-draft")
    steps = data["runbook"]["steps"]
    assert [s["title"] for s in steps] == ["check-db", "Mitigate: roll back payments to v2.3.0"]
    assert all(s["kind"] == "manual" and s["automatic"] is False for s in steps)
    assert "match:" in data["yaml"]
    extended = api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/runbook-draft",
        json={"extend": {"id": "payments-5xx", "title": "P", "steps": [{"id": "check-db"}]}},
    )["runbook"]
    assert [s["id"] for s in extended["steps"]] == [
        "check-db",
        "mitigate-roll-back-payments-to-v2-3-0",
    ]
    bad = api.post(f"/api/v1/incidents/{incident}/runbook-draft", {"extend": {"steps": "x"}})
    assert bad[0] == 422


def test_incidents_declared_by_an_integration_get_suggestions_from_the_worker(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    from warroom.worker import Worker

    past = declare(api, title="Payments 5xx spike", services=["payments"])
    data = {
        "title": "Payments 5xx spike",
        "severity": "SEV2",
        "type": "service_outage",
        "services": ["payments"],
        "source": "alertmanager",
    }
    with runtime.db.write() as conn:
        _, state = runtime.incidents.insert_declared(conn, "warroom", data, clock.now())
    Worker(runtime).run_once()
    Worker(runtime).run_once()
    events = api.ok("GET", f"/api/v1/incidents/{state.public_id}/timeline")["events"]
    suggested = [e for e in events if e["type"] == "similar_incidents_suggested"]
    assert len(suggested) == 1
    assert suggested[0]["data"]["matches"][0]["incident"] == past
