"""Action items: CRUD, filters, follow-ups from events, tracker sync, beads export, stats."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import T0, Api
from tests.postmortems.conftest import api_for, declare, record_incident
from tests.postmortems.fake_trackers import fake_tracker
from warroom.core import tables
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.incidents.model import Event
from warroom.postmortems.service import action_item_stats, postmortem_completion
from warroom.worker import Worker

BEADS_FIELDS = {
    "id",
    "title",
    "description",
    "design",
    "acceptance_criteria",
    "notes",
    "status",
    "priority",
    "issue_type",
    "assignee",
    "estimated_minutes",
    "created_at",
    "updated_at",
    "closed_at",
    "close_reason",
    "external_ref",
    "labels",
    "dependencies",
    "comments",
}


def add_item(api: Api, incident: str, **overrides: Any) -> dict[str, Any]:
    body = {"title": "Alert on pool saturation", "owner": "dave", "type": "detect", **overrides}
    status, data = api.post(f"/api/v1/incidents/{incident}/actions", body)
    assert status == 201, data
    return data  # type: ignore[no-any-return]


def test_crud_and_filters(api: Api, viewer_api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = declare(api)
    due = (T0 + timedelta(days=7)).isoformat()
    first = add_item(api, incident, due_at=due, priority=1)
    assert first["incident"] == incident and first["status"] == "open"
    assert first["type"] == "detect" and first["priority"] == 1 and first["overdue"] is False
    second = add_item(api, incident, title="Load test checkout", owner="erin", type="prevent")
    assert api.post(f"/api/v1/incidents/{incident}/actions", {"title": " "})[0] == 422
    assert (
        api.post(f"/api/v1/incidents/{incident}/actions", {"title": "x", "type": "blame"})[0] == 422
    )
    assert viewer_api.post(f"/api/v1/incidents/{incident}/actions", {"title": "x"})[0] == 403
    assert api.post("/api/v1/incidents/INC-20990101-001/actions", {"title": "x"})[0] == 404

    def ids(**params: Any) -> list[int]:
        return [i["id"] for i in api.ok("GET", "/api/v1/actions", params=params)["items"]]

    assert ids() == [first["id"], second["id"]]
    assert ids(owner="erin") == [second["id"]]
    assert ids(overdue=True) == []
    clock.advance(timedelta(days=8))
    assert ids(overdue=True) == [first["id"]]
    assert api.ok("GET", f"/api/v1/actions/{first['id']}")["overdue"] is True
    done = api.ok("PATCH", f"/api/v1/actions/{first['id']}", json={"status": "done"})
    assert done["status"] == "done" and done["done_at"] and done["overdue"] is False
    assert ids(overdue=True) == []
    assert ids(status=["done"]) == [first["id"]]
    assert api.request("PATCH", f"/api/v1/actions/{first['id']}", json={})[0] == 422
    assert api.request("PATCH", f"/api/v1/actions/{first['id']}", json={"status": "meh"})[0] == 422
    assert api.request("DELETE", f"/api/v1/actions/{second['id']}")[0] == 204
    assert api.request("DELETE", f"/api/v1/actions/{second['id']}")[0] == 404
    assert ids() == [first["id"]]
    items = api.ok("GET", f"/api/v1/incidents/{incident}/actions")["items"]
    assert [i["id"] for i in items] == [first["id"]]


def test_follow_up_events_become_one_action_item_each(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = declare(api)
    event = Event(
        "follow_up_required",
        "dave",
        clock.now(),
        {
            "title": "Run the skipped test suite on the hotfix",
            "type": "prevent",
            "source": "hotfix_gate",
            "gate": "tests",
        },
    )
    runtime.incidents.append_events(SYSTEM, incident, [event])
    worker = Worker(runtime)
    worker.run_once()
    worker.run_once()
    # The same event delivered again (at-least-once) does not make a second item.
    from warroom.postmortems.config import PostmortemsConfig
    from warroom.postmortems.effects import FOLLOW_UP, plan_effects

    state = runtime.incidents.get(incident)
    with runtime.db.write() as conn:
        row = conn.execute(
            select(tables.incidents.c.id).where(tables.incidents.c.public_id == incident)
        ).one()
        from warroom.core import outbox

        effects = plan_effects(
            PostmortemsConfig(), incident_id=row.id, after=state, events=[event], now=clock.now()
        )
        assert [e.kind for e in effects] == [FOLLOW_UP]
        assert outbox.enqueue(conn, effects, clock.now()) == 0  # dedup key already used
    items = api.ok("GET", "/api/v1/actions")["items"]
    assert len(items) == 1
    (item,) = items
    assert item["title"] == "Run the skipped test suite on the hotfix"
    assert item["type"] == "prevent" and item["source"] == "hotfix_gate" and item["priority"] == 1
    assert "gate: tests" in item["description"]
    types = [e["type"] for e in api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]]
    assert types.count("action_item_created") == 1
    # a second, different follow-up makes a second item
    runtime.incidents.append_events(
        SYSTEM,
        incident,
        [Event("follow_up_required", "dave", clock.now(), {"title": "Security scan", "type": "x"})],
    )
    worker.run_once()
    titles = [i["title"] for i in api.ok("GET", "/api/v1/actions")["items"]]
    assert titles == ["Run the skipped test suite on the hotfix", "Security scan"]
    assert api.ok("GET", "/api/v1/actions")["items"][1]["type"] == "process"


def test_stats_for_metrics(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    first = add_item(api, incident, due_at=(clock.now() + timedelta(days=1)).isoformat())
    add_item(api, incident, due_at=(clock.now() + timedelta(days=30)).isoformat())
    api.ok("PATCH", f"/api/v1/actions/{first['id']}", json={"status": "done"})
    third = add_item(api, incident, due_at=(clock.now() + timedelta(days=1)).isoformat())
    assert third
    since, until = T0 - timedelta(days=1), clock.now() + timedelta(days=2)
    with runtime.db.read() as conn:
        assert action_item_stats(conn, since, until) == {"total": 3, "done": 1, "overdue": 1}
        figures = postmortem_completion(conn, since, clock.now() + timedelta(days=3))
    assert figures["total"] == 1 and figures["required"] == 1
    assert figures["published"] == 0 and figures["overdue"] == 1
    assert figures["completion_rate"] == 0.0


# ---- trackers --------------------------------------------------------------------------


@pytest.fixture
def github_runtime(
    make_runtime: Callable[[dict[str, Any]], Runtime], monkeypatch: pytest.MonkeyPatch
) -> Any:
    def build(url: str) -> Runtime:
        monkeypatch.setenv("WR_TEST_GH_TOKEN", "secret-token")
        return make_runtime(
            {
                "postmortems": {
                    "github": {"api_url": url, "repo": "acme/shop", "token_env": "WR_TEST_GH_TOKEN"}
                }
            }
        )

    return build


def test_github_sync_creates_updates_and_closes(github_runtime: Any, clock: FixedClock) -> None:
    with fake_tracker("github") as github:
        runtime = github_runtime(github.url)
        api = api_for(runtime)
        incident = declare(api)
        item = add_item(api, incident)
        Worker(runtime).run_once()  # the outbox sync effect
        assert github.issues["1"]["title"] == "Alert on pool saturation"
        labels = [label["name"] for label in github.issues["1"]["labels"]]
        assert labels == ["post-mortem", "type:detect", "P2"]
        assert incident in github.issues["1"]["body"]
        synced = api.ok("GET", f"/api/v1/actions/{item['id']}")["external"]["github"]
        assert synced["ref"] == "acme/shop#1" and synced["error"] is None
        api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"status": "done"})
        Worker(runtime).run_once()
        assert len(github.issues) == 1
        assert github.issues["1"]["state"] == "closed"
        assert github.issues["1"]["state_reason"] == "completed"
        assert github.requests[-1][0:2] == ("PATCH", "/repos/acme/shop/issues/1")


@pytest.mark.parametrize(
    ("status", "body", "headers", "retryable", "text"),
    [
        (401, {"message": "Bad credentials"}, {}, False, "token was rejected"),
        (404, {"message": "Not Found"}, {}, False, "not found"),
        (410, {"message": "Issues are disabled for this repo"}, {}, False, "disabled"),
        (
            422,
            {"message": "Validation Failed", "errors": [{"field": "title", "code": "missing"}]},
            {},
            False,
            "Validation Failed; title: missing",
        ),
        (
            403,
            {"message": "API rate limit exceeded"},
            {"x-ratelimit-remaining": "0"},
            True,
            "rate limit",
        ),
        (429, {"message": "secondary rate limit"}, {"retry-after": "60"}, True, "rate limit"),
        (502, {"message": "Server Error"}, {}, True, "server error"),
    ],
)
def test_github_error_responses(
    github_runtime: Any,
    status: int,
    body: Any,
    headers: dict[str, str],
    retryable: bool,
    text: str,
) -> None:
    with fake_tracker("github") as github:
        runtime = github_runtime(github.url)
        api = api_for(runtime)
        item = add_item(api, declare(api))
        github.fail_with = (status, body, headers)
        result = api.ok("POST", f"/api/v1/actions/{item['id']}/sync")["results"]["github"]
        assert result["ok"] is False and result["retryable"] is retryable
        assert text in result["message"]
        assert "secret-token" not in result["message"]
        recorded = api.ok("GET", f"/api/v1/actions/{item['id']}")["external"]["github"]
        assert text in recorded["error"]
        # the worker's attempt: retryable failures stay due, permanent ones are dead
        Worker(runtime).run_once()
        with runtime.db.read() as conn:
            (row,) = conn.execute(
                select(tables.outbox.c.status).where(tables.outbox.c.kind == "action_item_sync")
            ).all()
        assert row.status == ("failed" if retryable else "dead")


def test_github_real_rejection_of_a_bad_token(
    make_runtime: Callable[[dict[str, Any]], Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_tracker("github") as github:
        monkeypatch.setenv("WR_TEST_GH_TOKEN", "wrong")
        runtime = make_runtime(
            {
                "postmortems": {
                    "github": {
                        "api_url": github.url,
                        "repo": "acme/shop",
                        "token_env": "WR_TEST_GH_TOKEN",
                    }
                }
            }
        )
        api = api_for(runtime)
        item = add_item(api, declare(api))
        result = api.ok("POST", f"/api/v1/actions/{item['id']}/sync")["results"]["github"]
        assert result["ok"] is False and "401" in result["message"]
        assert "Bad credentials" in result["message"]
        assert github.issues == {}


@pytest.fixture
def jira_runtime(
    make_runtime: Callable[[dict[str, Any]], Runtime], monkeypatch: pytest.MonkeyPatch
) -> Any:
    def build(url: str, project: str = "OPS") -> Runtime:
        monkeypatch.setenv("WR_TEST_JIRA_TOKEN", "secret-token")
        return make_runtime(
            {
                "postmortems": {
                    "jira": {
                        "url": url,
                        "project": project,
                        "email": "ops@example.com",
                        "token_env": "WR_TEST_JIRA_TOKEN",
                    }
                }
            }
        )

    return build


def test_jira_sync_creates_updates_and_transitions(jira_runtime: Any, clock: FixedClock) -> None:
    with fake_tracker("jira") as jira:
        runtime = jira_runtime(jira.url)
        api = api_for(runtime)
        incident = declare(api)
        due = (clock.now() + timedelta(days=14)).isoformat()
        item = add_item(api, incident, due_at=due)
        Worker(runtime).run_once()
        fields = jira.issues["OPS-1"]["fields"]
        assert fields["summary"] == "Alert on pool saturation"
        assert fields["issuetype"] == {"name": "Task"}
        assert fields["duedate"] == due[:10]
        assert fields["labels"] == ["post-mortem", "type-detect"]
        external = api.ok("GET", f"/api/v1/actions/{item['id']}")["external"]["jira"]
        assert external["key"] == "OPS-1" and external["url"].endswith("/browse/OPS-1")
        api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"title": "Alert earlier"})
        Worker(runtime).run_once()
        assert jira.issues["OPS-1"]["fields"]["summary"] == "Alert earlier"
        api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"status": "done"})
        Worker(runtime).run_once()
        assert jira.issues["OPS-1"]["status"] == "Done"
        assert len(jira.issues) == 1


def test_jira_error_responses(jira_runtime: Any) -> None:
    with fake_tracker("jira") as jira:
        runtime = jira_runtime(jira.url, project="NOPE")
        api = api_for(runtime)
        item = add_item(api, declare(api))
        result = api.ok("POST", f"/api/v1/actions/{item['id']}/sync")["results"]["jira"]
        assert result["ok"] is False and result["retryable"] is False
        assert (
            "400" in result["message"] and "project: valid project is required" in result["message"]
        )
        jira.fail_with = (503, {"errorMessages": ["maintenance"]}, {})
        result = api.ok("POST", f"/api/v1/actions/{item['id']}/sync")["results"]["jira"]
        assert result["retryable"] is True and "maintenance" in result["message"]
        jira.fail_with = (401, {"errorMessages": ["You are not authenticated."]}, {})
        result = api.ok("POST", f"/api/v1/actions/{item['id']}/sync")["results"]["jira"]
        assert result["retryable"] is False and "not authenticated" in result["message"]


def test_jira_without_a_done_transition(jira_runtime: Any) -> None:
    with fake_tracker("jira") as jira:
        jira.transitions = [{"id": "11", "name": "In Progress", "to": {"name": "In Progress"}}]
        runtime = jira_runtime(jira.url)
        api = api_for(runtime)
        item = add_item(api, declare(api), status="done")
        result = api.ok("POST", f"/api/v1/actions/{item['id']}/sync")["results"]["jira"]
        assert result["ok"] is False and "no transition named 'Done'" in result["message"]
        assert jira.issues["OPS-1"]["status"] == "To Do"


def test_sync_without_trackers_is_refused(api: Api) -> None:
    item = add_item(api, declare(api))
    status, body = api.post(f"/api/v1/actions/{item['id']}/sync")
    assert status == 422 and "no tracker" in body["error"]["message"]


# ---- beads -----------------------------------------------------------------------------


def test_beads_export_shape(api: Api, runtime: Runtime, clock: FixedClock) -> None:
    incident = record_incident(api, runtime, clock)
    item = add_item(api, incident, priority=1, due_at=(clock.now() + timedelta(days=3)).isoformat())
    other = add_item(api, incident, title="Document rollback", type="process", priority=3)
    api.ok("PATCH", f"/api/v1/actions/{other['id']}", json={"status": "done"})
    issues = api.ok("GET", "/api/v1/exports/beads")["issues"]
    assert len(issues) == 3
    for issue in issues:
        assert set(issue) <= BEADS_FIELDS, set(issue) - BEADS_FIELDS
        json.dumps(issue)
    bug, task, done = issues
    assert bug["issue_type"] == "bug"
    assert bug["title"] == "[SEV-1] Checkout returns 500 errors"
    assert bug["priority"] == 0
    assert bug["labels"] == ["incident", "sev-1"]
    assert bug["status"] == "closed"
    assert bug["close_reason"].startswith("rolled back to v2.3.0")
    assert bug["closed_at"].endswith("Z") and bug["external_ref"] == incident
    assert bug["id"].startswith("inc-")
    assert task["issue_type"] == "task" and task["priority"] == 1
    assert task["labels"] == ["post-mortem"] and task["status"] == "open"
    assert task["assignee"] == "dave"
    assert task["dependencies"] == [
        {
            "issue_id": task["id"],
            "depends_on_id": bug["id"],
            "type": "discovered-from",
            "created_at": task["created_at"],
            "created_by": "warroom",
        }
    ]
    assert done["priority"] == 2 and done["status"] == "closed" and done["close_reason"] == "Done"
    assert item["id"] != other["id"]
    # stable ids across exports
    assert api.ok("GET", "/api/v1/exports/beads")["issues"][0]["id"] == bug["id"]


@pytest.mark.parametrize(
    ("severity", "priority", "label"),
    [("SEV1", 0, "sev-1"), ("SEV2", 1, "sev-2"), ("SEV3", 2, "sev-3"), ("SEV4", 3, "sev-4")],
)
def test_beads_priority_from_severity(api: Api, severity: str, priority: int, label: str) -> None:
    incident = declare(api, severity=severity)
    (bug,) = api.ok("GET", "/api/v1/exports/beads", params={"incident": incident})["issues"]
    assert bug["priority"] == priority and bug["labels"] == ["incident", label]
    assert bug["status"] == "open" and "closed_at" not in bug


def test_github_sync_keeps_labels_people_edit_in_github(
    github_runtime: Any, clock: FixedClock
) -> None:
    """Labels (docs.github.com/en/rest/issues/labels): warroom adds and removes only its own
    changed labels; an update never replaces the set people edited in GitHub."""
    with fake_tracker("github") as github:
        runtime = github_runtime(github.url)
        api = api_for(runtime)
        incident = declare(api)
        item = add_item(api, incident)
        Worker(runtime).run_once()
        issue = github.issues["1"]
        # The issue body links the web war room, not the JSON API.
        assert f"/incidents/{incident}" in issue["body"]
        assert "/api/v1/" not in issue["body"]
        # Someone triages in GitHub: adds "needs-design", removes "post-mortem".
        issue["labels"] = [{"name": "type:detect"}, {"name": "P2"}, {"name": "needs-design"}]
        api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"title": "Alert earlier"})
        Worker(runtime).run_once()
        assert issue["title"] == "Alert earlier"
        names = [label["name"] for label in issue["labels"]]
        assert names == ["type:detect", "P2", "needs-design"]
        # A priority change in warroom swaps only its own priority label.
        api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"priority": 1})
        Worker(runtime).run_once()
        names = [label["name"] for label in issue["labels"]]
        assert names == ["type:detect", "needs-design", "P1"]
        assert not any(
            method == "PATCH" and "labels" in (body or {}) for method, _, body in github.requests
        )


def test_jira_project_without_a_due_date_field_still_syncs(
    jira_runtime: Any, clock: FixedClock
) -> None:
    """Jira answers 400 {"errors": {"duedate": "Field 'duedate' cannot be set..."}} when the
    project's screen has no due date (REST v2 create/edit issue): not a permanent failure."""
    with fake_tracker("jira") as jira:
        jira.no_duedate = True
        runtime = jira_runtime(jira.url)
        api = api_for(runtime)
        incident = declare(api)
        due = (clock.now() + timedelta(days=14)).isoformat()
        item = add_item(api, incident, due_at=due)
        Worker(runtime).run_once()
        fields = jira.issues["OPS-1"]["fields"]
        assert "duedate" not in fields
        assert f"Due: {due[:10]}" in fields["description"]  # still told, in the description
        assert f"/incidents/{incident}" in fields["description"]
        external = api.ok("GET", f"/api/v1/actions/{item['id']}")["external"]["jira"]
        assert external["error"] is None and external["no_duedate"] is True
        api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"title": "Alert earlier"})
        Worker(runtime).run_once()
        assert jira.issues["OPS-1"]["fields"]["summary"] == "Alert earlier"
        # Known since: the edit went out without the field, in one request.
        puts = [body for method, _, body in jira.requests if method == "PUT"]
        assert len(puts) == 1 and "duedate" not in puts[0]["fields"]
