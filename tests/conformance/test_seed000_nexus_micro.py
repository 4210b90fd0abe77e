"""Seed 000, the NEXUS-Micro incident runbook, on the `nexus-micro` preset.

Each test is named after the section of the process document it proves; docs/processes.md
maps every requirement of the document to the test (or says what is not yet enforced).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from tests.chat.slack_server import SlackServer
from tests.conformance.conftest import Process, channel_texts, received, slack_chat
from tests.support.receiver import Receiver

PRESET = "nexus-micro"


@pytest.fixture
def nexus(process: Callable[..., Process]) -> Process:
    return process(PRESET)


def test_severity_classification(nexus: Process) -> None:
    """P0-P3 with the document's definitions and response times."""
    levels = {s["id"]: s for s in nexus.api.ok("GET", "/api/v1/policy")["severities"]}
    assert list(levels) == ["P0", "P1", "P2", "P3"]
    assert "data loss" in levels["P0"]["definition"]
    assert "workaround available" in levels["P2"]["definition"]
    expected = {"P0": "Immediate", "P1": "< 1h", "P2": "< 4h", "P3": "Next sprint"}
    for severity, label in expected.items():
        incident = nexus.declare(severity)
        assert nexus.show(incident)["targets"]["response"]["label"] == label
    # The runbook gives no resolution time for P2/P3: none is invented.
    p2 = nexus.declare("P2")
    assert nexus.show(p2)["targets"]["resolution"] == {"label": "not set by this process"}


def test_response_teams_by_severity(nexus: Process) -> None:
    """The roles each team needs are checked: missing ones are listed on the incident."""
    expected = {
        "P0": {"commander", "deployer", "investigator", "communications_lead", "executive_liaison"},
        "P1": {"commander", "deployer", "investigator", "communications_lead"},
        "P2": {"investigator", "verifier"},
    }
    for severity, roles in expected.items():
        incident = nexus.declare(severity)
        assert set(nexus.show(incident)["roles_missing"]) == roles
    p1 = nexus.declare("P1")
    nexus.api.ok(
        "POST", f"/api/v1/incidents/{p1}/roles", json={"role": "commander", "person": "ines"}
    )
    assert "commander" not in nexus.show(p1)["roles_missing"]


def test_step1_detection_and_triage(nexus: Process) -> None:
    """Acknowledge, assess scope and impact, classify severity, create the incident record."""
    proposal = nexus.api.ok(
        "POST", "/api/v1/triage", json={"complete_outage": True, "data_at_risk": True}
    )
    assert proposal["severity"] == "P0"
    assert nexus.api.ok("POST", "/api/v1/triage", json={"users_affected_pct": 60})["severity"] == (
        "P1"
    )
    incident = nexus.declare("P1", impact={"users_affected": 1200})
    nexus.advance(minutes=3)
    acked = nexus.api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
    assert acked["status"] == "acknowledged"
    assert datetime.fromisoformat(acked["acknowledged_at"]) == nexus.clock.now()
    status, _ = nexus.api.request("POST", "/api/v1/triage", json={"users_affected_pct": 150})
    assert status == 422


def test_throughout_status_page_update_every_15_minutes(nexus: Process) -> None:
    """The status page template (status, impact, current action, next update) every 15 min."""
    incident = nexus.declare("P1")
    published = nexus.update(
        incident, status="identified", impact="Card payments fail", action="Rolling back"
    )
    now = nexus.clock.now()
    assert published["audience"]["public"] is True
    public = published["public"]
    assert public.startswith("Identified - Card payments fail")
    assert "Rolling back" in public
    assert f"Next update: {(now + timedelta(minutes=15)):%Y-%m-%d %H:%M} UTC" in public
    assert nexus.show(incident)["next_update_due_at"] == (now + timedelta(minutes=15)).isoformat()
    listed = nexus.public.ok("GET", "/status/api/v2/incidents/unresolved.json")["incidents"]
    assert [i["status"] for i in listed] == ["identified"]
    # A missed update escalates (twice the interval without one).
    nexus.advance(minutes=31)
    missed = [
        e for e in nexus.events(incident, "escalated") if e["data"]["kind"] == "missed_update"
    ]
    assert len(missed) == 1


def test_throughout_executive_update_p0_only(nexus: Process) -> None:
    """The executive brief (situation, cause, action with ETA, impact, next update) for P0."""
    p0 = nexus.declare("P0", impact={"users_affected": 5000})
    brief = nexus.update(p0, cause="Disk full on db-1", eta="20 minutes")["brief"]
    for line in ("INCIDENT BRIEF", "SITUATION:", "CAUSE: Known - Disk full", "ETA 20 minutes"):
        assert line in brief
    assert "IMPACT:" in brief and "NEXT UPDATE:" in brief and "5000 users" in brief
    p1 = nexus.declare("P1")
    assert nexus.update(p1)["brief"] is None


def test_escalation_matrix(nexus: Process) -> None:
    """P0 not resolved in 30 min → studio producer; P1 not resolved in 2 hours → shepherd."""
    p0 = nexus.declare("P0")
    p1 = nexus.declare("P1")
    nexus.advance(minutes=29)
    assert "p0-unresolved-30m" not in nexus.escalations(p0)
    nexus.advance(minutes=1)
    assert "p0-unresolved-30m" in nexus.escalations(p0)
    (fired,) = [
        e for e in nexus.events(p0, "escalated") if e["data"].get("rule") == "p0-unresolved-30m"
    ]
    assert fired["data"]["targets"] == ["contact:studio_producer"]
    nexus.advance(minutes=89)
    assert "p1-unresolved-2h" not in nexus.escalations(p1)
    nexus.advance(minutes=1)
    assert "p1-unresolved-2h" in nexus.escalations(p1)


def test_step5_post_mortem_within_48_hours(nexus: Process) -> None:
    """Timeline reconstruction, root cause analysis (5 whys, why not caught earlier), impact
    (users, revenue, reputation, data), prevention measures and action items, within 48 h."""
    incident = nexus.declare(
        "P0",
        impact={"users_affected": 9000, "revenue_per_hour": 4000},
        started_at=(nexus.clock.now() - timedelta(minutes=10)).isoformat(),
    )
    nexus.advance(minutes=40)
    nexus.resolve(incident)
    pm = nexus.postmortem(incident)
    resolved = datetime.fromisoformat(nexus.show(incident)["resolved_at"])
    assert datetime.fromisoformat(pm["due_at"]) == resolved + timedelta(hours=48)
    body = pm["body"]
    for fact in ("| Introduced |", "| Detected |", "| Resolved |", "Duration of impact:"):
        assert fact in body
    assert "**Users affected:** 9,000" in body and "**Revenue estimate:**" in body
    for section in (
        "## Root cause",
        "## Why it was not caught earlier",
        "## Five whys",
        "## Reputation impact",
        "## Data impact",
        "## Prevention",
        "### Monitoring",
        "### Testing",
        "### Process",
        "### Infrastructure",
        "## Action items",
    ):
        assert section in body, section
    status, error = nexus.api.request("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    assert status == 409 and len(error["error"]["details"]["sections"]) == 6
    item = nexus.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/actions",
        json={"title": "Alert on disk usage", "owner": "dana", "type": "detect"},
    )
    assert item["owner"] == "dana" and item["incident"] == incident
    nexus.write_postmortem(incident)
    nexus.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    nexus.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/publish")
    assert nexus.api.ok("POST", f"/api/v1/incidents/{incident}/close")["status"] == "closed"


def test_escalation_matrix_conditions(nexus: Process) -> None:
    """Data breach suspected → legal; user data affected → legal + executive summary;
    revenue impact above the threshold → finance + studio producer. Set from triage answers
    and impact, or by a responder with a reason (`warroom flag`)."""
    answers = {"complete_outage": True, "security_breach": True, "data_at_risk": True}
    breach = nexus.declare("P0", triage=answers)
    flags = nexus.show(breach)["flags"]
    assert flags["data_breach_suspected"] is True and flags["user_data_affected"] is True
    assert {"data-breach", "user-data"} <= set(nexus.escalations(breach))
    (legal,) = [e for e in nexus.events(breach, "escalated") if e["data"]["rule"] == "data-breach"]
    assert legal["data"]["targets"]
    quiet = nexus.declare("P2")
    assert not {"data-breach", "user-data", "revenue"} & set(nexus.escalations(quiet))
    nexus.api.ok("PATCH", f"/api/v1/incidents/{quiet}", json={"impact": {"revenue_per_hour": 500}})
    nexus.work()
    assert "revenue" not in nexus.escalations(quiet)
    nexus.api.ok(
        "PATCH", f"/api/v1/incidents/{quiet}", json={"impact": {"revenue_per_hour": 25000}}
    )
    nexus.work()
    (revenue,) = [e for e in nexus.events(quiet, "escalated") if e["data"]["rule"] == "revenue"]
    assert revenue["data"]["targets"] == ["contact:finance_tracker", "contact:studio_producer"]
    # A responder raises a condition by hand, with the reason on the timeline.
    flagged = nexus.api.ok(
        "POST",
        f"/api/v1/incidents/{quiet}/flags",
        json={"flag": "user_data_affected", "reason": "support saw other users' orders"},
    )
    assert flagged["flags"]["user_data_affected"] is True
    nexus.work()
    assert "user-data" in nexus.escalations(quiet)
    (raised,) = nexus.events(quiet, "flag_set")
    assert raised["data"]["reason"] == "support saw other users' orders"


def _runbooks(nexus: Process, incident: str) -> list[str]:
    items = nexus.api.ok("GET", f"/api/v1/incidents/{incident}/runbooks")["items"]
    return [str(item["id"]) for item in items]


def test_step2_parallel_investigation(nexus: Process) -> None:
    """Infrastructure Maintainer, Backend Architect and DevOps Automator each work their own
    checklist in parallel: a built-in runbook every incident of this process is offered."""
    incident = nexus.declare("P1")
    assert "nexus_parallel_investigation" in _runbooks(nexus, incident)
    runbook = nexus.api.ok("GET", "/api/v1/runbooks/nexus_parallel_investigation")
    checklists = {s["id"]: s["checklist"] for s in runbook["steps"] if s["kind"] == "manual"}
    assert set(checklists) == {"infrastructure-maintainer", "backend-architect", "devops-automator"}
    assert "Check CI/CD pipeline status" in checklists["devops-automator"]
    assert "Check database health" in checklists["backend-architect"]
    assert all(checklists.values())


def _suggested(nexus: Process, incident: str) -> list[str]:
    found = nexus.api.ok("GET", f"/api/v1/incidents/{incident}/mitigations/suggestions")
    return [str(s["action"]) for s in found["suggestions"]]


def test_step3_mitigation_decision_tree(nexus: Process) -> None:
    """Recent deployment → rollback; infrastructure → scale / restart / failover; code bug →
    hotfix; external dependency → fallback and tell users."""
    flags_for = {
        "recent_deploy": ["rollback"],
        "infrastructure": ["scale", "restart", "failover"],
        "code_bug": ["hotfix"],
        "third_party": ["fallback_cache"],
    }
    for flag, actions in flags_for.items():
        incident = nexus.declare("P1")
        nexus.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/flags",
            json={"flag": flag, "reason": f"diagnosed: {flag}"},
        )
        assert _suggested(nexus, incident) == actions, flag
    answered = nexus.declare("P1", triage={"infrastructure": True}, override_reason="P1 agreed")
    assert _suggested(nexus, answered) == ["scale", "restart", "failover"]
    found = nexus.api.ok("GET", f"/api/v1/incidents/{answered}/mitigations/suggestions")
    assert "communicate to users" not in " ".join(s["why"] for s in found["suggestions"])


def test_step4_monitor_30_minutes_post_fix(nexus: Process) -> None:
    """The fix is watched for 30 minutes before the incident is resolved; only the commander
    may waive the window, with a reason that stays on the timeline."""
    incident = nexus.declare("P1")
    nexus.api.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": "bob"}
    )
    nexus.advance(minutes=5)
    nexus.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "rollback", "outcome": "succeeded"},
    )
    assert nexus.show(incident)["mitigated_at"] == nexus.clock.now().isoformat()
    nexus.api.ok("POST", f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "ok"})
    checklist = {item.id: {"confirmed": True} for item in nexus.policy.resolution_checklist}
    resolve = f"/api/v1/incidents/{incident}/resolve"
    nexus.advance(minutes=29)
    status, error = nexus.api.request(
        "POST", resolve, json={"summary": "rolled back", "checklist": checklist}
    )
    assert status == 409 and "30 minutes" in error["error"]["message"], error
    status, error = nexus.api.request(
        "POST",
        resolve,
        json={"summary": "rolled back", "checklist": checklist, "waive_verification": "fine"},
    )
    assert status == 403, error  # alice is not the commander
    assert nexus.show(incident)["status"] != "resolved"
    nexus.advance(minutes=1)
    nexus.api.ok("POST", resolve, json={"summary": "rolled back", "checklist": checklist})
    assert nexus.show(incident)["status"] == "resolved"
    # The commander may resolve at once, saying why.
    waived = nexus.declare("P2")
    nexus.api.ok(
        "POST", f"/api/v1/incidents/{waived}/roles", json={"role": "commander", "person": "bob"}
    )
    nexus.bob.ok(
        "POST",
        f"/api/v1/incidents/{waived}/resolve",
        json={"summary": "false alarm", "checklist": checklist, "waive_verification": "no fix"},
    )
    (event,) = nexus.events(waived, "guard_waived")
    assert (event["data"]["role"], event["data"]["reason"]) == ("commander", "no fix")


def test_response_teams_p0_all_hands(
    staffed: Callable[[str], Process], inboxes: dict[str, Receiver]
) -> None:
    """P0 is all hands: every level of the service's escalation policy and every role holder
    is paged at once, without waiting for the levels' delays."""
    nexus = staffed(PRESET)
    roles = {"commander": "carol", "communications_lead": "dave"}
    incident = nexus.declare("P0", roles=roles)
    for name in ("ann", "bob", "carol", "dave"):
        assert len(inboxes[name].wait_for(1)) >= 1, name
    assert received(inboxes["erin"]) == []
    (paged,) = nexus.events(incident, "paged")
    assert paged["data"]["paging"] == "all_hands"
    assert sorted(paged["data"]["notified"]) == ["ann", "bob", "carol", "dave"]
    p1 = nexus.declare("P1", roles={"commander": "erin"})
    (paged,) = nexus.events(p1, "paged")
    assert paged["data"]["notified"] == ["ann"]  # level 2 waits its turn below P0


def test_step1_missing_roles_are_chased(
    staffed: Callable[[str], Process], inboxes: dict[str, Receiver]
) -> None:
    """The response team by severity is activated within the first 5 minutes: a role still
    missing then is a reminder to the commander; a person given a role later is told."""
    nexus = staffed(PRESET)
    incident = nexus.declare("P1", roles={"commander": "carol"})  # P1 needs four roles
    already = len(received(inboxes["carol"]))
    nexus.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/roles",
        json={"role": "communications_lead", "person": "dave"},
    )
    nexus.work()
    (told,) = received(inboxes["dave"])
    assert told["message"].startswith(f"You are now the communications lead of {incident}")
    nexus.advance(minutes=4)
    assert nexus.events(incident, "reminder") == []
    nexus.advance(minutes=1)
    (reminder,) = [
        e for e in nexus.events(incident, "reminder") if e["data"]["kind"] == "missing_roles"
    ]
    assert reminder["data"]["missing"] == ["deployer", "investigator"]
    assert reminder["data"]["notified"] == ["carol"]
    last = inboxes["carol"].wait_for(already + 1)[-1].json()
    assert "still has no deployer, investigator" in last["message"]


def test_response_teams_p3_sprint_prioritizer_adds_to_backlog(nexus: Process) -> None:
    """P3: the sprint prioritizer adds it to the backlog (an action item at declaration)."""
    low = nexus.declare("P3")
    other = nexus.declare("P2")
    nexus.work()
    (item,) = nexus.api.ok("GET", f"/api/v1/incidents/{low}/actions")["items"]
    assert low in item["title"]
    (added,) = nexus.events(low, "added_to_backlog")
    assert added["data"]["action_item"] == item["id"]
    assert nexus.api.ok("GET", f"/api/v1/incidents/{other}/actions")["items"] == []


def test_step1_create_incident_channel(process: Callable[..., Process], slack: SlackServer) -> None:
    """Step 1, "Create incident channel/thread": with a chat platform configured (here a
    local server speaking Slack's Web API), declaring opens the incident's channel, named
    after the incident, with the summary card and the war room link; the process's key
    events are posted there; the incident lists its channel."""
    nexus = process(PRESET, chat=slack_chat(slack))
    incident = nexus.declare("P1", title="Checkout failing")
    (channel,) = nexus.api.ok("GET", f"/api/v1/incidents/{incident}/chat")
    assert channel["platform"] == "slack"
    assert (
        channel["name"].startswith(f"inc-{incident[4:12]}-")
        and "checkout-failing" in (channel["name"])
    )
    made = slack.state.channels[channel["channel_id"]]
    assert made["name"] == channel["name"] and not made["is_archived"]
    assert f"/incidents/{incident}" in made["topic"]  # the war room, one click away
    texts = channel_texts(slack, channel["channel_id"])
    assert any(incident in t and "Checkout failing" in t for t in texts)
    (opened,) = nexus.events(incident, "chat_channel_opened")
    assert opened["data"]["platform"] == "slack"
    nexus.update(incident, status="identified", action="Rolling back payments v2.3.1")
    nexus.work()
    assert any("Rolling back payments v2.3.1" in t for t in channel_texts(slack, made["id"]))
    # Without a chat platform the war room page is the incident's channel (no chat listed).
    plain = process(PRESET)
    assert plain.api.ok("GET", f"/api/v1/incidents/{plain.declare('P1')}/chat") == []
