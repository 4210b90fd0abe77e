"""Seed 004, the phased incident-response workflow, on the `phased` preset.

Each test is named after the phase or section of the process document it proves;
docs/processes.md maps every requirement of the document to the test (or says what is not
yet enforced).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from tests.chat.slack_server import SlackServer
from tests.conformance.conftest import Process, channel_texts, received, slack_chat
from tests.support.receiver import Receiver

PRESET = "phased"


@pytest.fixture
def phased(process: Callable[..., Process]) -> Process:
    return process(PRESET)


def test_phase1_detection(phased: Process) -> None:
    """Acknowledge, start the incident timer, classify severity (SEV1 immediate, SEV2 15 min,
    SEV3 1 hour, SEV4 4 hours), an incident ticket."""
    expected = {"SEV1": "Immediate", "SEV2": "< 15m", "SEV3": "< 1h", "SEV4": "< 4h"}
    for severity, label in expected.items():
        incident = phased.declare(severity)
        targets = phased.show(incident)["targets"]
        assert targets["response"]["label"] == label
        assert targets["resolution"] == {"label": "not set by this process"}
    incident = phased.declare("SEV2", title="Database errors spiking")
    shown = phased.show(incident)
    assert datetime.fromisoformat(shown["started_at"]) == phased.clock.now()  # timer started
    phased.advance(minutes=10)
    acked = phased.api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
    assert acked["status"] == "acknowledged"
    assert phased.show(incident)["targets"]["response"]["met"] is True


def test_phase2_triage_identify_impact(phased: Process) -> None:
    """Users affected, revenue impact, systems down, duration so far; the response team."""
    incident = phased.declare(
        "SEV2",
        services=["payments", "search"],
        impact={"users_affected": 5000, "revenue_per_hour": 2000},
    )
    shown = phased.show(incident)
    assert shown["impact"]["users_affected"] == 5000
    assert shown["impact"]["revenue_per_hour"] == 2000
    assert shown["services"] == ["payments", "search"]
    assert set(shown["roles_missing"]) == {"commander", "investigator"}


def test_escalation_paths(phased: Process) -> None:
    """SEV1 → engineering manager and VP at once; more than 30 min unmitigated → engineering
    manager; team unreachable (unacknowledged) → backup."""
    sev1 = phased.declare("SEV1")
    (management,) = [e for e in phased.events(sev1, "escalated")
                     if e["data"]["rule"] == "sev1-management"]  # fmt: skip
    assert management["data"]["targets"] == ["contact:engineering_manager", "contact:vp"]
    sev3 = phased.declare("SEV3")
    phased.advance(minutes=14)
    assert "team-unreachable" not in phased.escalations(sev3)
    phased.advance(minutes=1)
    assert "team-unreachable" in phased.escalations(sev3)
    acked = phased.declare("SEV3")
    phased.api.ok("POST", f"/api/v1/incidents/{acked}/acknowledge")
    phased.advance(minutes=16)
    assert "team-unreachable" not in phased.escalations(acked)
    phased.advance(minutes=14)
    assert "unmitigated-30m" in phased.escalations(acked)
    mitigated = phased.declare("SEV2")
    phased.api.ok("POST", f"/api/v1/incidents/{mitigated}/status", json={"status": "monitoring"})
    phased.advance(minutes=31)
    assert "unmitigated-30m" not in phased.escalations(mitigated)


def test_phase5_recovery_close_incident(phased: Process) -> None:
    """Notify stakeholders, stop the incident timer, the duration recorded."""
    incident = phased.declare("SEV2")
    phased.update(incident, status="identified", cause="Batch job holding connections")
    phased.advance(minutes=47)
    phased.resolve(incident, summary="Added a connection timeout to the batch job")
    shown = phased.show(incident)
    duration = datetime.fromisoformat(shown["resolved_at"]) - datetime.fromisoformat(
        shown["started_at"]
    )
    assert duration == timedelta(minutes=47)
    resolution = [m for m in phased.stakeholder_messages(2) if "resolved" in m["title"]]
    assert resolution and "Duration: 47m" in resolution[0]["message"]


def test_phase6_post_mortem(phased: Process) -> None:
    """Mandatory for every severity; the template (date, duration, severity, impact,
    timeline, root cause, contributing factors, action items with owners and deadlines,
    lessons learned); a blameless review scheduled."""
    rules = {s["id"]: s["postmortem"] for s in phased.api.ok("GET", "/api/v1/policy")["severities"]}
    assert {r["requirement"] for r in rules.values()} == {"required"}
    sev4 = phased.declare("SEV4")
    phased.resolve(sev4)
    assert phased.postmortem(sev4)["requirement"] == "required"
    incident = phased.declare("SEV2", impact={"users_affected": 5000})
    phased.advance(minutes=47)
    phased.resolve(incident)
    body = phased.postmortem(incident)["body"]
    for part in (
        "- **Severity:** SEV2",
        "Duration of impact",
        "## Impact",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## Action items",
        "## Lessons learned",
        "Blameless review",
    ):
        assert part in body, part
    due = (phased.clock.now() + timedelta(days=3)).isoformat()
    item = phased.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/actions",
        json={"title": "Add connection pool monitoring", "owner": "sre", "due_at": due},
    )
    assert item["owner"] == "sre" and item["due_at"] == due
    meeting = phased.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/postmortem/meeting",
        json={
            "starts_at": (phased.clock.now() + timedelta(days=1)).isoformat(),
            "facilitator": "lead",
            "attendees": ["sre", "qa"],
        },
    )
    assert "BEGIN:VEVENT" in meeting["ics"]
    status, _ = phased.api.request("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    assert status == 409
    phased.write_postmortem(incident)
    phased.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    phased.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/publish")
    assert phased.api.ok("POST", f"/api/v1/incidents/{incident}/close")["status"] == "closed"


def test_postmortem_due_date_moves_only_with_a_reason(phased: Process) -> None:
    """Deadlines are tracked: moving one needs a reason and lands on the timeline."""
    incident = phased.declare("SEV1")
    phased.resolve(incident)
    later = (phased.clock.now() + timedelta(days=5)).isoformat()
    path = f"/api/v1/incidents/{incident}/postmortem/schedule"
    status, error = phased.api.request("POST", path, json={"owner": "dana", "due_at": later})
    assert status == 422 and error["error"]["code"] == "reason_required"
    phased.api.ok(
        "POST", path, json={"owner": "dana", "due_at": later, "reason": "waiting for vendor RCA"}
    )
    moved = phased.events(incident, "postmortem_scheduled")[-1]
    assert moved["data"]["reason"] == "waiting for vendor RCA"


def test_phase3_mitigation(phased: Process) -> None:
    """A mitigation that works is the mitigated milestone (MTTM), whatever the status, and the
    "more than 30 minutes unmitigated" escalation does not fire for it."""
    mitigated = phased.declare("SEV2")
    left_alone = phased.declare("SEV2")
    phased.advance(minutes=10)
    phased.api.ok(
        "POST",
        f"/api/v1/incidents/{mitigated}/mitigations",
        json={"action": "rollback", "outcome": "succeeded"},
    )
    shown = phased.show(mitigated)
    assert shown["mitigated_at"] == phased.clock.now().isoformat()
    assert shown["status"] == "triggered"
    phased.advance(minutes=21)
    assert "unmitigated-30m" not in phased.escalations(mitigated)
    assert "unmitigated-30m" in phased.escalations(left_alone)


def test_phase5_recovery_verify(phased: Process) -> None:
    """Systems healthy, metrics normalized, user impact ended, critical paths tested: confirmed
    in a verification before the incident is resolved."""
    checklist = {item.id for item in phased.policy.resolution_checklist}
    assert {"systems_healthy", "metrics_normalized", "user_impact_ended"} <= checklist
    assert "critical_paths_tested" in checklist
    incident = phased.declare("SEV3")
    phased.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "restart", "outcome": "succeeded"},
    )
    resolve = f"/api/v1/incidents/{incident}/resolve"
    body = {
        "summary": "restarted",
        "checklist": {i: {"confirmed": True} for i in checklist},
        "root_cause": "a batch job held every connection",
        "permanent_fix": "connection timeout on the batch job, deployed",
    }
    status, error = phased.api.request("POST", resolve, json=body)
    assert status == 409 and "verification" in error["error"]["message"], error
    assert phased.show(incident)["status"] != "resolved"
    phased.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/verification/confirm",
        json={"note": "checkout and login paths tested"},
    )
    phased.api.ok("POST", resolve, json=body)
    assert phased.show(incident)["status"] == "resolved"


def test_phase4_resolution_root_cause_and_permanent_fix(phased: Process) -> None:
    """Phase 4 is mandatory and its outputs are "root cause identified" and "fix deployed": the
    incident is not resolved without both (guard `root_cause_and_fix`); blank or missing
    ones are refused and change nothing; both are kept on the incident and the timeline."""
    incident = phased.declare("SEV2")
    phased.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "restart", "outcome": "succeeded"},
    )
    phased.api.ok(
        "POST", f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "healthy"}
    )
    resolve = f"/api/v1/incidents/{incident}/resolve"
    checklist = {item.id: {"confirmed": True} for item in phased.policy.resolution_checklist}
    base = {"summary": "Pool exhaustion fixed", "checklist": checklist}
    version = phased.show(incident)["event_count"]
    for extra, missing in (
        ({}, ["root_cause", "permanent_fix"]),
        ({"root_cause": "batch job holding connections"}, ["permanent_fix"]),
        ({"root_cause": "   ", "permanent_fix": "timeout added"}, ["root_cause"]),
    ):
        status, error = phased.api.request("POST", resolve, json={**base, **extra})
        assert status == 409, error
        unmet = {u["guard"]: u for u in error["error"]["details"]["unmet"]}
        assert set(unmet) == {"root_cause_and_fix"}, unmet
        assert unmet["root_cause_and_fix"]["details"]["missing"] == missing
        assert "resolve_requires_root_cause" in error["error"]["message"]
    status, error = phased.api.request(
        "POST", resolve, json={**base, "root_cause": "x" * 4001, "permanent_fix": "y"}
    )
    assert status == 422, error
    shown = phased.show(incident)
    assert shown["status"] != "resolved" and shown["event_count"] == version
    resolved = phased.api.ok(
        "POST",
        resolve,
        json={
            **base,
            "root_cause": "A new batch job held database connections: pool exhaustion",
            "permanent_fix": "Connection timeout added to the batch job, deployed in v2.3.2",
        },
    )
    assert resolved["status"] == "resolved"
    assert resolved["root_cause"].startswith("A new batch job")
    assert resolved["permanent_fix"].startswith("Connection timeout")
    (event,) = phased.events(incident, "resolved")
    assert event["data"]["root_cause"] == resolved["root_cause"]
    assert event["data"]["permanent_fix"] == resolved["permanent_fix"]


def test_escalation_paths_by_condition(phased: Process) -> None:
    """Customer-facing → customer success; data breach → security and legal."""
    incident = phased.declare("SEV3")
    assert not {"customer-facing", "data-breach"} & set(phased.escalations(incident))
    phased.api.ok(
        "PATCH", f"/api/v1/incidents/{incident}", json={"impact": {"customer_facing": True}}
    )
    phased.work()
    (customers,) = [
        e for e in phased.events(incident, "escalated") if e["data"]["rule"] == "customer-facing"
    ]
    assert customers["data"]["targets"] == ["contact:customer_success"]
    phased.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/flags",
        json={"flag": "data_breach_suspected", "reason": "dump of the users table posted"},
    )
    phased.work()
    (breach,) = [
        e for e in phased.events(incident, "escalated") if e["data"]["rule"] == "data-breach"
    ]
    assert breach["data"]["targets"] == ["contact:security", "contact:legal"]


def test_phase3_identify_mitigation_options(phased: Process) -> None:
    """Rollback when a recent deployment caused it, restart when the service is stuck,
    failover on a region/zone failure, scale when capacity is exhausted, block on attack."""
    strategies = {
        "recent_deploy": "rollback",
        "stuck": "restart",
        "zone_failure": "failover",
        "capacity": "scale",
        "attack": "block_traffic",
    }
    for situation, strategy in strategies.items():
        incident = phased.declare("SEV2")
        path = f"/api/v1/incidents/{incident}/mitigations/suggestions"
        before = [s["action"] for s in phased.api.ok("GET", path)["suggestions"]]
        assert strategy not in before, situation
        phased.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/flags",
            json={"flag": situation, "reason": "seen in triage"},
        )
        found = phased.api.ok("GET", path)["suggestions"]
        assert found[0]["action"] == strategy, (situation, found)
        assert found[0]["why"]


def test_phase2_triage_page_on_call_and_notify_commander(
    staffed: Callable[[str], Process], inboxes: dict[str, Receiver]
) -> None:
    """Step 2.2: page the on-call, notify the incident commander (mandatory, SEV2 too), and
    assemble the team within SEV2's 15 minutes."""
    phased = staffed(PRESET)
    incident = phased.declare("SEV2", roles={"commander": "carol"})
    (paged,) = phased.events(incident, "paged")
    assert paged["data"]["targets"] == ["schedule:primary", "role:commander"]
    assert sorted(paged["data"]["notified"]) == ["ann", "carol"]
    assert inboxes["carol"].wait_for(1) and received(inboxes["bob"]) == []
    phased.advance(minutes=15)
    (reminder,) = [
        e for e in phased.events(incident, "reminder") if e["data"]["kind"] == "missing_roles"
    ]
    assert reminder["data"]["missing"] == ["investigator"]
    assert reminder["data"]["notified"] == ["carol"]


def test_phase1_create_incident_channel_and_phase5_archive_it(
    process: Callable[..., Process], slack: SlackServer
) -> None:
    """Step 1.1 "Create incident channel" and step 5.2 (close the incident) "Archive incident
    channel": the channel opens at declaration (a local server speaking Slack's Web API) and
    is archived when the incident is resolved (the document's close, before its post-mortem
    phase); a reopened incident gets a channel again."""
    phased = process(PRESET, chat=slack_chat(slack))
    incident = phased.declare("SEV2", title="Database errors spiking")
    (channel,) = phased.api.ok("GET", f"/api/v1/incidents/{incident}/chat")
    made = slack.state.channels[channel["channel_id"]]
    assert "database-errors-spiking" in made["name"] and not made["is_archived"]
    assert any(incident in t for t in channel_texts(slack, made["id"]))
    phased.resolve(incident)
    assert made["is_archived"]
    (archived,) = phased.events(incident, "chat_channel_archived")
    assert archived["data"]["channel"] == made["name"]
    phased.api.ok("POST", f"/api/v1/incidents/{incident}/reopen", json={"reason": "errors back"})
    phased.work()
    (current,) = phased.api.ok("GET", f"/api/v1/incidents/{incident}/chat")
    assert current["archived_at"] is None
    assert not slack.state.channels[current["channel_id"]]["is_archived"]
