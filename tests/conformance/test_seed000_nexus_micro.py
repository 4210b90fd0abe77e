"""Seed 000, the NEXUS-Micro incident runbook, on the `nexus-micro` preset.

Each test is named after the section of the process document it proves; docs/processes.md
maps every requirement of the document to the test (or says what is not yet enforced).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from tests.conformance.conftest import Process

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
