"""Structured status updates: three renderings, the promise, stakeholder delivery for real."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.comms.conftest import Env
from tests.support.receiver import http_receiver
from warroom.cli.main import app
from warroom.core.config import check_config_file
from warroom.incidents.views import next_update_due

UPDATE = {
    "status": "identified",
    "impact": "Card payments fail for about 30% of users",
    "action": "Rolling back payments v2.3.1",
    "next": "30m",
    "cause": "A bad deploy of payments v2.3.1",
    "eta": "20 minutes",
}


def test_update_renders_internal_public_and_brief_and_keeps_the_promise(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    incident = env.declare(severity="SEV1", summary="pg-prod-7 primary OOM")
    published = env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={**UPDATE, "note": "on-call suspects hunter2 creds"},
    )
    now = env.runtime.clock.now()
    assert published["next_update_at"] == (now + timedelta(minutes=30)).isoformat()
    assert "Status: Identified" in published["internal"]
    assert "hunter2" in published["internal"]  # internal notes stay internal...
    assert "hunter2" not in published["public"]  # ...and never reach the public wording
    assert published["public"].startswith("Identified - Card payments fail")
    brief = published["brief"]
    assert "INCIDENT BRIEF" in brief and "SITUATION: payments is down" in brief
    assert "CAUSE: Known - A bad deploy" in brief and "ETA 20 minutes" in brief
    assert published["audience"] == {"public": True, "brief": True, "stakeholders": []}
    # The event drives the cadence promise (on-call reminders read next_update_due).
    state = env.runtime.incidents.get(incident)
    assert state.last_update_at == now
    assert next_update_due(state, env.runtime.policy) == now + timedelta(minutes=15)  # SEV1 cadence
    events = env.api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    event = next(e for e in events if e["type"] == "status_update_published")
    assert event["data"]["next_update_at"] == published["next_update_at"]
    assert event["data"]["audience"]["public"] is True


def test_policy_decides_brief_and_public_per_severity(make_env: Callable[..., Env]) -> None:
    env = make_env()
    sev3 = env.declare(severity="SEV3")
    data = env.api.ok("POST", f"/api/v1/incidents/{sev3}/updates", json=UPDATE)
    assert data["brief"] is None and data["public"] is None
    assert data["public_incident"] is None
    forced = env.api.ok(
        "POST", f"/api/v1/incidents/{sev3}/updates", json={**UPDATE, "brief": True, "next": None}
    )
    assert forced["brief"] is not None
    # Without --next the policy cadence (1h for SEV3) is the promise.
    assert forced["next_update_at"] == (env.runtime.clock.now() + timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"status": "fixed"}, "status"),
        ({"impact": "   "}, "impact"),
        ({"next": "soon"}, "next update"),
        ({"next": "2020-01-01T00:00:00Z"}, "future"),
        ({"components": ["nope"]}, "unknown component"),
    ],
)
def test_bad_updates_change_nothing(
    make_env: Callable[..., Env], change: dict[str, object], fragment: str
) -> None:
    env = make_env()
    incident = env.declare()
    status, body = env.api.post(f"/api/v1/incidents/{incident}/updates", json={**UPDATE, **change})
    assert status == 422, body
    assert fragment in body["error"]["message"]
    assert env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"] == []
    assert env.public.ok("GET", "/status/api/v2/incidents.json")["incidents"] == []


def test_viewers_cannot_publish(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident = env.declare()
    status, _ = env.viewer.post(f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    assert status == 403
    status, _ = env.public.post(f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    assert status == 401


def test_stakeholder_groups_receive_updates_for_real(make_env: Callable[..., Env]) -> None:
    with http_receiver() as ops, http_receiver() as execs, http_receiver() as search_team:
        env = make_env(
            {
                "stakeholders": [
                    {"name": "ops", "urls": [ops.json_url()]},
                    {
                        "name": "execs",
                        "urls": [execs.json_url()],
                        "severities": ["SEV1"],
                        "format": "brief",
                    },
                    {
                        "name": "search-team",
                        "urls": [search_team.json_url()],
                        "services": ["search"],
                    },
                ]
            }
        )
        incident = env.declare(severity="P0")
        data = env.api.ok(
            "POST", f"/api/v1/incidents/{incident}/updates", json={**UPDATE, "note": "secret-note"}
        )
        assert data["audience"]["stakeholders"] == ["ops", "execs"]
        env.work()
        got_ops = ops.wait_for(1)
        got_execs = execs.wait_for(1)
    assert len(got_ops) == 1 and len(got_execs) == 1 and search_team.requests == []
    assert "Current action: Rolling back" in got_ops[0].json()["message"]
    assert "secret-note" in got_ops[0].json()["message"]  # internal group: internal text
    brief = got_execs[0].json()["message"]
    assert brief.startswith("INCIDENT BRIEF") and "secret-note" not in brief
    events = env.api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    sent = [e["data"]["recipient"] for e in events if e["type"] == "notification_sent"]
    assert sorted(sent) == ["stakeholders:execs", "stakeholders:ops"]
    assert "127.0.0.1" not in json.dumps(events)  # group URLs never reach the timeline


def test_edited_templates_render_and_are_sandboxed(
    make_env: Callable[..., Env], tmp_path: Path
) -> None:
    env = make_env({"templates": {"public": "{{ status_label | upper }}: {{ impact }}"}})
    incident = env.declare()
    data = env.api.ok("POST", f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    assert data["public"] == "IDENTIFIED: Card payments fail for about 30% of users"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "comms:\n"
        "  templates:\n"
        "    public: \"{{ ''.__class__.__mro__ }}\"\n"
        "    internal: '{{ incident.summary }}'\n"
        "    brief: '{% if %}'\n"
        "  stakeholders:\n"
        "    - {name: execs, urls: ['json://127.0.0.1/x'], severities: [SEV9]}\n"
    )
    problems = {p["path"]: p["message"] for p in check_config_file(bad)}
    assert "SecurityError" in problems["comms.templates.public"]
    assert "summary" in problems["comms.templates.internal"]  # not offered: strict undefined
    assert "comms.templates.brief" in problems
    assert "SEV9" in problems["comms.stakeholders.0.severities"]


def test_cli_update_and_updates_listing(
    make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    monkeypatch.setenv("WARROOM_ACTOR", "alice")
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    declared = runner.invoke(app, ["declare", "Checkout failing", "-s", "SEV2", "--json"])
    incident = json.loads(declared.stdout)["id"]
    result = runner.invoke(
        app,
        [
            "update",
            incident,
            "--status",
            "identified",
            "--impact",
            "Card payments fail",
            "--action",
            "Rolling back",
            "--next",
            "30m",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "update published" in result.output and "Status: Identified" in result.output
    bad = runner.invoke(
        app, ["update", incident, "--status", "done", "--impact", "x", "--action", "y"]
    )
    assert bad.exit_code == 2
    shown = json.loads(runner.invoke(app, ["show", incident, "--json"]).stdout)
    assert shown["next_update_at"] is not None and shown["last_update_at"] is not None
