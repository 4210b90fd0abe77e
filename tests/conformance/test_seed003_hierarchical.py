"""Seed 003, the hierarchical incident-response workflow, on the `hierarchical` preset.

Each test is named after the section of the process document it proves; docs/processes.md
maps every requirement of the document to the test (or says what is not yet enforced).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conformance.conftest import Process

PRESET = "hierarchical"


@pytest.fixture
def hierarchical(process: Callable[..., Process]) -> Process:
    return process(PRESET)


def test_severity_levels(hierarchical: Process) -> None:
    """SEV-1 immediate, SEV-2 < 30 min, SEV-3 < 4 hours, SEV-4 next sprint; the agents each
    level involves are the roles it requires."""
    expected = {
        "SEV1": ("Immediate", {"commander", "deployer", "investigator", "communications_lead",
                               "verifier"}),
        "SEV2": ("< 30m", {"commander", "investigator", "deployer"}),
        "SEV3": ("< 4h", {"commander", "investigator"}),
        "SEV4": ("Next sprint", {"investigator", "verifier"}),
    }  # fmt: skip
    for severity, (label, roles) in expected.items():
        incident = hierarchical.declare(severity)
        shown = hierarchical.show(incident)
        assert shown["targets"]["response"]["label"] == label
        assert shown["targets"]["resolution"] == {"label": "not set by this process"}
        assert set(shown["roles_missing"]) == roles


def test_stage1_triage_assess_and_classify(hierarchical: Process) -> None:
    """Services affected, users impacted, data loss, blast radius → the severity."""
    assert hierarchical.api.ok("POST", "/api/v1/triage", json={"data_loss": True})["severity"] == (
        "SEV1"
    )
    assert (
        hierarchical.api.ok("POST", "/api/v1/triage", json={"complete_outage": True})["severity"]
        == "SEV1"
    )
    incident = hierarchical.declare(
        "SEV2", services=["payments", "search"], impact={"users_affected": 800}
    )
    shown = hierarchical.show(incident)
    assert shown["services"] == ["payments", "search"]
    assert shown["impact"]["users_affected"] == 800


def test_stage1_triage_initial_communication(hierarchical: Process) -> None:
    """ "INCIDENT DECLARED - SEV-N / Impact / Affected / Status: Investigating" is drafted at
    declaration and the responders are prompted to send it."""
    incident = hierarchical.declare("SEV2", title="Search returns errors", services=["search"])
    (drafted,) = hierarchical.events(incident, "initial_update_drafted")
    internal = drafted["data"]["internal"]
    assert "(SEV2)" in internal and "search" in internal
    assert "Status: Investigating" in internal and "Impact:" in internal
    assert f"warroom update {incident} --initial" in drafted["data"]["prompt"]
    sent = hierarchical.api.ok("POST", f"/api/v1/incidents/{incident}/updates/initial")
    assert sent["status"] == "investigating"
    (update,) = hierarchical.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]
    assert update["actor"] == "token:alice"


def test_escalation_path(hierarchical: Process) -> None:
    """0-15 min on-call; 15-30 team lead; 30-60 engineering manager; 60+ executives (SEV-1)."""
    sev1 = hierarchical.declare("SEV1")
    sev2 = hierarchical.declare("SEV2")
    hierarchical.advance(minutes=14)
    assert hierarchical.escalations(sev1) == []
    hierarchical.advance(minutes=1)
    assert "team-lead-15m" in hierarchical.escalations(sev1)
    hierarchical.advance(minutes=15)
    assert "manager-30m" in hierarchical.escalations(sev1)
    assert "executives-60m" not in hierarchical.escalations(sev1)
    hierarchical.advance(minutes=30)
    assert "executives-60m" in hierarchical.escalations(sev1)
    assert "executives-60m" not in hierarchical.escalations(sev2)
    assert {"team-lead-15m", "manager-30m"} <= set(hierarchical.escalations(sev2))


def test_stage5_postmortem(hierarchical: Process) -> None:
    """Date, duration, severity, responders, summary, timeline, root cause, impact (users,
    revenue, SLA impact), resolution, what went well / poorly, action items."""
    incident = hierarchical.declare(
        "SEV1", impact={"users_affected": 4000, "revenue_per_hour": 2000}
    )
    hierarchical.api.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": "ines"}
    )
    hierarchical.advance(minutes=50)
    hierarchical.resolve(incident, summary="Rolled back the agents chart")
    body = hierarchical.postmortem(incident)["body"]
    for part in (
        "- **Severity:** SEV1",
        "Duration of impact",
        "**Responders:**",
        "## Summary",
        "## Timeline",
        "## Root cause",
        "**Users affected:** 4,000",
        "**Revenue estimate:**",
        "**SLA impact:** response target (Immediate)",
        "**Resolution:** Rolled back the agents chart",
        "## What went well",
        "## What went poorly",
        "## Action items",
    ):
        assert part in body, part
    status, error = hierarchical.api.request(
        "POST", f"/api/v1/incidents/{incident}/postmortem/submit"
    )
    assert status == 409
    assert [s["section"] for s in error["error"]["details"]["sections"]] == [
        "Root cause",
        "What went well",
        "What went poorly",
    ]
    hierarchical.write_postmortem(incident)
    hierarchical.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    hierarchical.api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/publish")
