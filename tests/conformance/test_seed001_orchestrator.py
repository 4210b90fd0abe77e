"""Seed 001, the incident-orchestrator process, on the `orchestrator` preset.

Each test is named after the section of the process document it proves; docs/processes.md
maps every requirement of the document to the test (or says what is not yet enforced).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conformance.conftest import Process
from tests.conftest import Api
from warroom.core import auth

PRESET = "orchestrator"


@pytest.fixture
def orchestrator(process: Callable[..., Process]) -> Process:
    return process(PRESET)


def test_incident_severity_levels(orchestrator: Process) -> None:
    """SEV-1..SEV-4 with their response times; no resolution time is invented."""
    expected = {"SEV1": "Immediate", "SEV2": "< 1h", "SEV3": "< 4h", "SEV4": "Next business day"}
    for severity, label in expected.items():
        incident = orchestrator.declare(severity)
        targets = orchestrator.show(incident)["targets"]
        assert targets["response"]["label"] == label
        assert targets["resolution"] == {"label": "not set by this process"}
    # The document's own spelling is accepted.
    assert orchestrator.show(orchestrator.declare("sev-1"))["severity"] == "SEV1"


def test_phase2_communicate_update_frequency(orchestrator: Process) -> None:
    """Updates every 15 minutes (SEV-1), 30 (SEV-2), 60 (SEV-3)."""
    for severity, minutes in (("SEV1", 15), ("SEV2", 30), ("SEV3", 60)):
        incident = orchestrator.declare(severity)
        published = orchestrator.update(incident)
        promised = datetime.fromisoformat(published["next_update_at"])
        assert promised == orchestrator.clock.now() + timedelta(minutes=minutes)


def test_phase2_communicate_update_template(orchestrator: Process) -> None:
    """Status (Investigating / Identified / Mitigating / Resolved), impact, current action,
    ETA to resolution (estimate or "investigating"), next update."""
    incident = orchestrator.declare("SEV1")
    first = orchestrator.update(incident, status="investigating")
    assert "ETA to resolution: investigating" in first["internal"]
    assert "ETA to resolution: investigating" in first["public"]
    mitigating = orchestrator.update(
        incident, status="mitigating", action="Disabling the new checkout flag", eta="20 minutes"
    )
    for text in (mitigating["internal"], mitigating["public"]):
        assert "Mitigating" in text and "ETA to resolution: 20 minutes" in text
        assert "Disabling the new checkout flag" in text and "Next update:" in text
    assert "Impact: Payments fail" in mitigating["internal"]
    status, error = orchestrator.api.request(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={"status": "stopped", "impact": "x", "action": "y"},
    )
    assert status == 422, error
    assert len(orchestrator.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]) == 2


def test_phase5_resolve_confirmation_checklist(orchestrator: Process) -> None:
    """Before declaring resolved: issue gone, error rates normal, users can use the feature,
    monitoring confirms stability, stakeholders notified."""
    incident = orchestrator.declare("SEV2")
    status, error = orchestrator.api.request(
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": "fixed", "checklist": {"issue_gone": {"confirmed": True}}},
    )
    assert status == 409, error
    assert orchestrator.show(incident)["status"] != "resolved"
    assert [item.id for item in orchestrator.policy.resolution_checklist] == [
        "issue_gone",
        "error_rates_baseline",
        "users_can_use_feature",
        "monitoring_stable",
        "stakeholders_notified",
    ]


def test_phase5_resolve_resolution_message(orchestrator: Process) -> None:
    """Duration, impact, resolution, root cause in brief, post-mortem date, sent to
    stakeholders ("silent resolution" is an anti-pattern)."""
    incident = orchestrator.declare("SEV1")
    orchestrator.update(incident, status="identified", cause="Bad config push to payments")
    orchestrator.advance(minutes=15)
    # Resolving records the rollback that worked and watches SEV-1's 30 minutes of monitoring.
    orchestrator.resolve(incident, summary="Reverted the config push")
    messages = orchestrator.stakeholder_messages(3)
    (resolution,) = [m for m in messages if "resolved" in m["title"]]
    text = resolution["message"]
    assert "Duration: 45m" in text
    assert "Impact: Payments fail" in text
    assert "What fixed it: Reverted the config push" in text
    assert "Root cause (brief): Bad config push to payments" in text
    assert "Post-mortem: scheduled, due" in text
    assert orchestrator.events(incident, "resolution_message_sent")


def test_phase6_post_mortem_within_48_hours(orchestrator: Process) -> None:
    """Every SEV-1/SEV-2 needs a post-mortem (never skipped), with the document's template."""
    for severity in ("SEV1", "SEV2"):
        incident = orchestrator.declare(severity)
        orchestrator.resolve(incident)
        (scheduled,) = orchestrator.events(incident, "postmortem_scheduled")
        resolved = datetime.fromisoformat(orchestrator.show(incident)["resolved_at"])
        assert datetime.fromisoformat(scheduled["data"]["due_at"]) == resolved + timedelta(hours=48)
        status, _ = orchestrator.api.request("POST", f"/api/v1/incidents/{incident}/close")
        assert status == 409  # not before the post-mortem is published
    sev3 = orchestrator.declare("SEV3")
    orchestrator.resolve(sev3)
    assert orchestrator.api.ok("POST", f"/api/v1/incidents/{sev3}/close")["status"] == "closed"
    body = orchestrator.postmortem(incident)["body"]
    for section in (
        "## Summary",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## What went well",
        "## What went wrong",
        "## Action items",
        "## Lessons learned",
        "## Prevention",
    ):
        assert section in body, section
    assert "- **Severity:** SEV2" in body and "Duration of impact" in body
    status, error = orchestrator.api.request(
        "POST", f"/api/v1/incidents/{incident}/postmortem/submit"
    )
    assert status == 409 and error["error"]["code"] == "postmortem_incomplete"
    orchestrator.write_postmortem(incident)
    orchestrator.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    orchestrator.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/publish")
    assert orchestrator.api.ok("POST", f"/api/v1/incidents/{incident}/close")["status"] == "closed"


def test_quality_gates_modified_for_incidents(orchestrator: Process) -> None:
    """Review quick/standard but never skipped; tests may be skipped for SEV-1 only."""
    gates = {
        s["id"]: s["hotfix_gates"]
        for s in orchestrator.api.ok("GET", "/api/v1/policy")["severities"]
    }
    assert gates["SEV1"] == {
        "review": "required",
        "tests": "may_skip",
        "staging": "required",
        "security_scan": "skip",
        "docs": "after",
    }
    assert gates["SEV2"]["security_scan"] == "required" and gates["SEV2"]["docs"] == "after"
    assert gates["SEV3"]["tests"] == "required" and gates["SEV3"]["docs"] == "required"
    assert all(g["review"] == "required" for g in gates.values())


def test_integration_with_beads(orchestrator: Process) -> None:
    """The incident as a bug (priority 0 for SEV-1, labels incident,sev-N), closed with the
    resolution; post-mortem action items as tasks discovered from it."""
    incident = orchestrator.declare("SEV1", title="Site unreachable")
    orchestrator.resolve(incident, summary="Failed over to the standby")
    orchestrator.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/actions",
        json={"title": "Add a health check to the LB", "priority": 1},
    )
    issues = orchestrator.api.ok("GET", "/api/v1/exports/beads", params={"incident": incident})[
        "issues"
    ]
    bug, task = issues
    assert bug["title"] == "[SEV-1] Site unreachable" and bug["issue_type"] == "bug"
    assert bug["priority"] == 0 and bug["labels"] == ["incident", "sev-1"]
    assert bug["status"] == "closed" and "Failed over" in bug["close_reason"]
    assert task["issue_type"] == "task" and task["labels"] == ["post-mortem"]
    assert task["dependencies"][0]["type"] == "discovered-from"
    assert task["dependencies"][0]["depends_on_id"] == bug["id"]


def _commander(orchestrator: Process, incident: str, person: str = "carol") -> None:
    orchestrator.api.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": person}
    )


def _mitigate(orchestrator: Process, incident: str, action: str, outcome: str) -> Any:
    body = {"action": action, "outcome": outcome, "description": f"{action}: see the log"}
    return orchestrator.api.ok("POST", f"/api/v1/incidents/{incident}/mitigations", json=body)


def _escalation(orchestrator: Process, incident: str, rule: str) -> dict[str, Any]:
    (fired,) = [e for e in orchestrator.events(incident, "escalated") if e["data"]["rule"] == rule]
    found: dict[str, Any] = fired["data"]
    return found


def test_phase3_mitigate_options_in_order(orchestrator: Process) -> None:
    """Rollback, feature flag, config change, scale, hotfix, in that order; a configuration
    change in production is documented; when every option failed the agent MUST STOP and
    surface it, and work goes on only after a person acknowledges with a decision."""
    incident = orchestrator.declare("SEV2")
    _commander(orchestrator, incident)
    path = f"/api/v1/incidents/{incident}/mitigations"
    suggested = orchestrator.api.ok("GET", f"{path}/suggestions")["suggestions"]
    assert [s["action"] for s in suggested] == [
        "rollback",
        "feature_flag",
        "config_change",
        "scale",
        "hotfix",
    ]
    status, error = orchestrator.api.request(
        "POST", path, json={"action": "config_change", "outcome": "failed"}
    )
    assert status == 422 and error["error"]["code"] == "description_required"
    for action in ("rollback", "feature_flag", "config_change"):
        _mitigate(orchestrator, incident, action, "failed")
        remaining = orchestrator.api.ok("GET", f"{path}/suggestions")["suggestions"]
        assert {s["action"]: s["outcome"] for s in remaining}[action] == "failed"
    assert orchestrator.show(incident)["stopped"] is False
    assert _mitigate(orchestrator, incident, "scale", "failed")["mitigation_exhausted"] is True
    shown = orchestrator.show(incident)
    assert shown["stopped"] is True and list(shown["stops"]) == ["mitigation-exhausted"]
    orchestrator.work()
    surfaced = _escalation(orchestrator, incident, "must-stop")
    assert surfaced["targets"] == ["role:commander", "contact:engineering_manager"]
    ack = f"/api/v1/incidents/{incident}/stops/mitigation-exhausted/acknowledge"
    status, _ = orchestrator.api.request("POST", ack, json={"decision": " "})
    assert status == 422 and orchestrator.show(incident)["stopped"] is True
    decision = "accept the risk of a hotfix; vendor called"
    done = orchestrator.bob.ok("POST", ack, json={"decision": decision})
    assert done["stopped"] is False
    (acknowledged,) = orchestrator.events(incident, "stop_acknowledged")
    assert acknowledged["data"]["decision"] == decision
    assert acknowledged["actor"] == "token:bob"


def test_must_stop_and_surface(orchestrator: Process) -> None:
    """Data loss, a security breach, rollback impossible with a risky hotfix, recurrence after
    resolution, an ETA beyond the response window: each stops the incident until a person
    (never an agent) acknowledges it with a decision."""
    lost = orchestrator.declare("SEV1", triage={"complete_outage": True, "data_loss": True})
    assert "data-loss" in orchestrator.show(lost)["stops"]
    breach = orchestrator.declare("SEV2")
    orchestrator.api.ok(
        "POST",
        f"/api/v1/incidents/{breach}/flags",
        json={"flag": "data_breach_suspected", "reason": "unknown admin login"},
    )
    assert list(orchestrator.show(breach)["stops"]) == ["security-breach"]
    risky = orchestrator.declare("SEV1")
    orchestrator.api.ok(
        "POST",
        f"/api/v1/incidents/{risky}/hotfixes",
        json={"name": "hf-1", "why_not_rollback": "migration ran", "risk": "significant"},
    )
    assert list(orchestrator.show(risky)["stops"]) == ["rollback-impossible-hotfix-risky"]
    slow = orchestrator.declare("SEV3")  # response window < 4 hours
    update = {"status": "identified", "impact": "Slow search", "action": "Reindexing"}
    orchestrator.update(slow, **update, eta="3h")
    assert orchestrator.show(slow)["stopped"] is False
    orchestrator.update(slow, **update, eta="in 6h")
    assert list(orchestrator.show(slow)["stops"]) == ["eta-beyond-window"]
    # SEV-1's "Immediate" counts as 5 minutes (a deliberate deviation, docs/processes.md).
    urgent = orchestrator.declare("SEV1")
    orchestrator.update(urgent, **update, eta="in 4m")
    assert orchestrator.show(urgent)["stopped"] is False
    orchestrator.update(urgent, **update, eta="in 10m")
    assert list(orchestrator.show(urgent)["stops"]) == ["eta-beyond-window"]
    recurring = orchestrator.declare("SEV3")
    orchestrator.resolve(recurring)
    reopened = orchestrator.api.ok(
        "POST", f"/api/v1/incidents/{recurring}/reopen", json={"reason": "errors are back"}
    )
    assert list(reopened["stops"]) == ["recurred"]
    with orchestrator.runtime.db.write() as conn:
        _, token = auth.create_token(
            conn,
            name="helper-bot",
            scopes=["responder"],
            created_by="conformance",
            now=orchestrator.clock.now(),
            kind="agent",
        )
    agent = Api(orchestrator.client, token)
    status, error = agent.request(
        "POST", f"/api/v1/incidents/{lost}/stops/data-loss/acknowledge", json={"decision": "go"}
    )
    assert status == 403, error
    assert orchestrator.show(lost)["stopped"] is True


def test_must_stop_estimated_resolution_exceeds_the_response_window(orchestrator: Process) -> None:
    """ "Estimated resolution time exceeds the severity-defined response window": the ETA is
    read as people write it (words, durations, clock times); an ETA warroom cannot read is
    surfaced as such (a stop naming the words), never silently ignored."""
    update = {"status": "identified", "impact": "Slow search", "action": "Reindexing"}
    published = orchestrator.clock.now()
    within = {"2 hours", "in 2h30", "about 90 minutes", "investigating", "TBD"}
    for eta in sorted(within):
        incident = orchestrator.declare("SEV3")  # response window < 4 hours
        orchestrator.update(incident, **update, eta=eta)
        assert orchestrator.show(incident)["stopped"] is False, eta
    clock = (published + timedelta(hours=6)).strftime("%H:%M")
    for eta in ("6 hours", "in 4h30", "half a day", f"by {clock} UTC"):
        incident = orchestrator.declare("SEV3")
        orchestrator.update(incident, **update, eta=eta)
        shown = orchestrator.show(incident)
        assert list(shown["stops"]) == ["eta-beyond-window"], eta
        (raised,) = orchestrator.events(incident, "stop_raised")
        assert raised["data"]["eta_text"] == eta
        assert raised["data"]["eta"] is not None
    vague = orchestrator.declare("SEV3")
    orchestrator.update(vague, **update, eta="when the vendor calls back")
    shown = orchestrator.show(vague)
    assert list(shown["stops"]) == ["eta-beyond-window"]
    (raised,) = orchestrator.events(vague, "stop_raised")
    assert raised["data"]["eta"] is None
    assert "'when the vendor calls back'" in raised["data"]["reason"]
    assert "cannot be read as a time" in raised["data"]["reason"]
    # The update itself is published as written.
    assert orchestrator.events(vague, "status_update_published")[-1]["data"]["eta"] == (
        "when the vendor calls back"
    )


def test_phase4_hotfix_protocol(orchestrator: Process) -> None:
    """A hotfix only for SEV-1/SEV-2, saying why rollback and the flag are impossible; never
    deployed without a review by someone other than its author; staging time-boxed to 15
    minutes at SEV-1; follow-up tasks (tests, cleanup, docs, merge to main) once deployed."""
    minor = orchestrator.declare("SEV3")
    status, error = orchestrator.api.request(
        "POST",
        f"/api/v1/incidents/{minor}/hotfixes",
        json={"name": "hf-1", "why_not_rollback": "schema changed"},
    )
    assert status == 409 and error["error"]["code"] == "hotfix_not_allowed"
    incident = orchestrator.declare("SEV1")
    _commander(orchestrator, incident)
    base = f"/api/v1/incidents/{incident}/hotfixes"
    status, error = orchestrator.api.request("POST", base, json={"name": "hf-1"})
    assert status == 422 and error["error"]["code"] == "reason_required"
    view = orchestrator.api.ok(
        "POST", base, json={"name": "hf-1", "why_not_rollback": "no flag guards the code"}
    )
    assert view["staging_time_box"]["minutes"] == 15
    status, error = orchestrator.api.request("POST", f"{base}/hf-1/review", json={"note": "mine"})
    assert status == 403 and error["error"]["code"] == "self_approval"
    status, error = orchestrator.api.request("POST", f"{base}/hf-1/deploy")
    assert status == 409 and error["error"]["code"] == "hotfix_gates"
    orchestrator.advance(minutes=16)  # staging not passed within 15 minutes
    assert _escalation(orchestrator, incident, "staging-time-box")["targets"] == ["role:commander"]
    gates = {
        "staging": {"status": "passed"},
        "tests": {"status": "skipped", "reason": "SEV-1, tests after"},
        "security_scan": {"status": "passed"},
    }
    orchestrator.api.ok("POST", f"{base}/hf-1/gates", json={"gates": gates})
    orchestrator.bob.ok("POST", f"{base}/hf-1/review", json={"note": "diff read"})
    assert orchestrator.api.ok("POST", f"{base}/hf-1/deploy")["deployed"] is True
    (deployed,) = orchestrator.events(incident, "hotfix_deployed")
    assert deployed["data"]["reviewed_by"] == "token:bob"
    orchestrator.work()
    items = orchestrator.api.ok("GET", "/api/v1/actions", params={"incident": incident})["items"]
    titles = [item["title"] for item in items]
    for wanted in ("Add proper tests", "Code cleanup", "Document the hotfix", "Merge the hotfix"):
        assert any(t.startswith(wanted) for t in titles), (wanted, titles)
    # Verify in production 15-30 minutes before resolving.
    windows = {s.id: s.verification_window for s in orchestrator.policy.severities}
    assert windows["SEV1"] == timedelta(minutes=30) and windows["SEV3"] == timedelta(minutes=15)
