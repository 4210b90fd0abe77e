"""Seed 003, the hierarchical incident-response workflow, on the `hierarchical` preset.

Each test is named after the section of the process document it proves; docs/processes.md
maps every requirement of the document to the test (or says what is not yet enforced).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from tests.conformance.conftest import SERVICES, Process, received
from tests.support.receiver import Receiver
from tests.workbench.github_server import REPO, TOKEN, fake_github
from tests.workbench.prometheus import fake_prometheus

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


def _runbooks(hierarchical: Process, incident: str) -> list[str]:
    items = hierarchical.api.ok("GET", f"/api/v1/incidents/{incident}/runbooks")["items"]
    return [str(item["id"]) for item in items]


def test_stage2a_diagnose(hierarchical: Process) -> None:
    """The diagnosis summary: hypothesis, evidence, confidence (high / medium / low), recorded
    as a step of the built-in diagnose runbook."""
    incident = hierarchical.declare("SEV2")
    assert {"hierarchical_diagnose", "hierarchical_mitigate"} <= set(
        _runbooks(hierarchical, incident)
    )
    path = f"/api/v1/incidents/{incident}/runbooks/hierarchical_diagnose/run"
    status, error = hierarchical.api.request("POST", path, json={"step": "diagnosis-summary"})
    assert status == 422 and error["error"]["code"] == "diagnosis_required"
    vague = {"hypothesis": "pool", "evidence": "graphs", "confidence": "sure"}
    status, _ = hierarchical.api.request(
        "POST", path, json={"step": "diagnosis-summary", "diagnosis": vague}
    )
    assert status == 422 and hierarchical.events(incident, "diagnosis_recorded") == []
    diagnosis = {
        "hypothesis": "connection pool exhausted by the batch job",
        "evidence": "pool wait 30 s since 14:02; batch deploy at 14:00",
        "confidence": "medium",
    }
    hierarchical.api.ok("POST", path, json={"step": "diagnosis-summary", "diagnosis": diagnosis})
    (recorded,) = hierarchical.events(incident, "diagnosis_recorded")
    assert {k: recorded["data"][k] for k in diagnosis} == diagnosis


def test_stage2b_mitigate(hierarchical: Process) -> None:
    """Immediate relief (scale, restart, circuit breaker, redirect traffic); rollback when a
    recent deploy is the suspected cause; the feature flag for a feature-specific issue."""
    incident = hierarchical.declare("SEV2")
    path = f"/api/v1/incidents/{incident}/mitigations/suggestions"
    relief = ["scale", "restart", "circuit_breaker", "redirect_traffic"]
    assert [s["action"] for s in hierarchical.api.ok("GET", path)["suggestions"]] == relief
    for flag in ("recent_deploy", "feature_broken"):
        hierarchical.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/flags",
            json={"flag": flag, "reason": "seen in the diagnosis"},
        )
    found = [s["action"] for s in hierarchical.api.ok("GET", path)["suggestions"]]
    assert found == [*relief, "rollback", "feature_flag"]


def test_stage3_hotfix_and_stage4_deploy(hierarchical: Process) -> None:
    """The emergency PR (template, labels hotfix/urgent, on-call reviewer), reviewed by someone
    other than its author; after the deploy the canary is watched 5 minutes and stability 30
    minutes before resolving."""
    incident = hierarchical.declare("SEV2")
    base = f"/api/v1/incidents/{incident}/hotfixes"
    gates = {
        "staging": {"status": "passed"},
        "tests": {"status": "passed"},
        "security_scan": {"status": "passed"},
    }
    body = {"name": "hf-1", "description": "guard nil", "root_cause": "nil map", "gates": gates}
    pr = hierarchical.api.ok("POST", base, json=body)["emergency_pr"]
    assert pr["labels"] == ["hotfix", "urgent"]
    assert f"## Hotfix for {incident}" in pr["body"] and "**Root Cause:** nil map" in pr["body"]
    status, error = hierarchical.api.request("POST", f"{base}/hf-1/review", json={})
    assert status == 403 and error["error"]["code"] == "self_approval"
    hierarchical.bob.ok("POST", f"{base}/hf-1/review", json={"note": "minimal, reads fine"})
    hierarchical.api.ok("POST", f"{base}/hf-1/deploy")
    hierarchical.work()
    (canary,) = [
        e
        for e in hierarchical.events(incident, "verification_started")
        if e["data"]["trigger"] == "canary"
    ]
    assert datetime.fromisoformat(canary["data"]["ends_at"]) == hierarchical.clock.now() + (
        timedelta(minutes=5)
    )
    (deployed,) = hierarchical.api.ok("GET", base)["items"]
    assert deployed["rollout"]["stage"] == "canary" and deployed["rollout"]["percent"] == 10
    assert hierarchical.show(incident)["flags"]["canary_in_progress"] is True
    rollout = f"{base}/hf-1/rollout"
    status, error = hierarchical.api.request("POST", rollout, json={"stage": "full"})
    assert status == 409 and error["error"]["code"] == "canary_window", error  # too early
    for bad in ({"stage": "everyone"}, {"stage": "halted"}, {"stage": "halted", "note": " "}):
        status, _ = hierarchical.api.request("POST", rollout, json=bad)
        assert status == 422, bad
    hierarchical.advance(minutes=5)  # the canary looked healthy: the fix worked
    hierarchical.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "hotfix", "outcome": "succeeded", "description": "hf-1 after canary"},
    )
    checklist = {item.id for item in hierarchical.policy.resolution_checklist}
    assert {"latency_within_sla", "no_new_errors"} <= checklist
    hierarchical.api.ok(
        "POST", f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "stable"}
    )
    resolve = f"/api/v1/incidents/{incident}/resolve"
    body = {"summary": "hotfix hf-1", "checklist": {i: {"confirmed": True} for i in checklist}}
    hierarchical.advance(minutes=29)
    status, error = hierarchical.api.request("POST", resolve, json=body)
    assert status == 409 and "30 minutes" in error["error"]["message"], error
    hierarchical.advance(minutes=1)
    # The canary was never promoted: the resolve waits for the rollout (guard canary_rollout).
    status, error = hierarchical.api.request("POST", resolve, json=body)
    assert status == 409, error
    assert [u["guard"] for u in error["error"]["details"]["unmet"]] == ["canary_rollout"]
    promoted = hierarchical.api.ok(
        "POST", rollout, json={"stage": "full", "note": "error rate flat on the 10%"}
    )
    assert promoted["rollout"]["stage"] == "full" and promoted["rollout"]["percent"] == 100
    status, error = hierarchical.api.request("POST", rollout, json={"stage": "full"})
    assert status == 409 and error["error"]["code"] == "no_change"
    (step,) = hierarchical.events(incident, "hotfix_rollout")
    assert step["data"]["stage"] == "full" and step["actor"] == "token:alice"
    hierarchical.api.ok("POST", resolve, json=body)


def test_stage4_deploy_canary_halted(process: Callable[..., Process]) -> None:
    """Stage 4, `deploy_fix` (rolling, 10 % canary, monitor 5m): the canary's monitor window
    checks the service's error rate; a canary that regresses cannot be promoted, and a
    person halts it with the reason, which ends the rollout step."""
    query = 'sum(rate(http_requests_total{service="payments",code=~"5.."}[5m]))'
    with fake_prometheus() as prom:
        check = {"kind": "metric", "name": "error rate", "query": query, "threshold": 0.01,
                 "prometheus_url": prom.url}  # fmt: skip
        services = [{**SERVICES[0], "health_checks": [check]}, *SERVICES[1:]]
        hierarchical = process(PRESET, services=services)
        prom.set(query, 0.001)
        incident = hierarchical.declare("SEV2")
        base = f"/api/v1/incidents/{incident}/hotfixes"
        gates = {g: {"status": "passed"} for g in ("staging", "tests", "security_scan")}
        hierarchical.api.ok("POST", base, json={"name": "hf-1", "gates": gates})
        status, error = hierarchical.api.request(
            "POST", f"{base}/hf-1/rollout", json={"stage": "full"}
        )
        assert status == 409 and error["error"]["code"] == "not_deployed"
        hierarchical.bob.ok("POST", f"{base}/hf-1/review", json={"note": "ok"})
        prom.set(query, 0.2)  # the canary's 10 % errors
        hierarchical.api.ok("POST", f"{base}/hf-1/deploy")
        hierarchical.work()
        status, error = hierarchical.api.request(
            "POST",
            f"/api/v1/incidents/{incident}/flags",
            json={"flag": "canary_in_progress", "value": False, "reason": "skip it"},
        )
        # warroom's own flag: only the rollout step clears it.
        assert status == 422 and error["error"]["code"] == "system_flag", error
        hierarchical.advance(minutes=5)
        assert hierarchical.show(incident)["flags"]["verification_regressed"] is True
        status, error = hierarchical.api.request(
            "POST", f"{base}/hf-1/rollout", json={"stage": "full"}
        )
        assert status == 409 and error["error"]["code"] == "canary_regressed", error
        halted = hierarchical.api.ok(
            "POST", f"{base}/hf-1/rollout", json={"stage": "halted", "note": "5xx on the canary"}
        )
        assert halted["rollout"]["stage"] == "halted" and halted["rollout"]["percent"] == 0
        assert hierarchical.show(incident)["flags"]["canary_in_progress"] is False


def test_stage3_skip_if_sev1(hierarchical: Process) -> None:
    """`skip_if_sev1`: the review may be skipped at SEV-1 only, with a reason, and each use is
    recorded as a safety option on the timeline."""
    skipped = {"review": {"status": "skipped", "reason": "site down, reviewer unreachable"}}
    gates = {
        **skipped,
        "staging": {"status": "passed"},
        "tests": {"status": "passed"},
        "security_scan": {"status": "passed"},
    }
    sev2 = hierarchical.declare("SEV2")
    status, _ = hierarchical.api.request(
        "POST", f"/api/v1/incidents/{sev2}/hotfixes", json={"name": "hf-1", "gates": gates}
    )
    assert status == 422
    assert hierarchical.policy.hotfix.skip_review_if_sev1 is True
    sev1 = hierarchical.declare("SEV1")
    base = f"/api/v1/incidents/{sev1}/hotfixes"
    hierarchical.api.ok("POST", base, json={"name": "hf-1", "gates": gates})
    (used,) = hierarchical.events(sev1, "safety_option_used")
    assert used["data"]["option"] == "policy.hotfix.skip_review_if_sev1"
    assert hierarchical.api.ok("POST", f"{base}/hf-1/deploy")["deployed"] is True


def test_escalation_path_first_15_minutes(
    staffed: Callable[[str], Process], inboxes: dict[str, Receiver]
) -> None:
    """0–15 min: the on-call engineer and the incident responder; SEV-1 brings in every agent
    at once; a team still without its roles at 15 minutes is chased."""
    hierarchical = staffed(PRESET)
    incident = hierarchical.declare("SEV2")
    assert hierarchical.events(incident, "paged")[0]["data"]["notified"] == ["ann"]
    hierarchical.advance(minutes=14)
    assert [e for e in hierarchical.events(incident, "reminder")
            if e["data"]["kind"] == "missing_roles"] == []  # fmt: skip
    hierarchical.advance(minutes=1)
    (reminder,) = [
        e for e in hierarchical.events(incident, "reminder") if e["data"]["kind"] == "missing_roles"
    ]
    assert reminder["data"]["notified"] == ["ann"]  # no commander yet: the on-call engineer
    assert "commander" in reminder["data"]["missing"]
    sev1 = hierarchical.declare("SEV1", roles={"commander": "carol", "investigator": "erin"})
    (paged,) = hierarchical.events(sev1, "paged")
    assert paged["data"]["paging"] == "all_hands"
    assert sorted(paged["data"]["notified"]) == ["ann", "bob", "carol", "erin"]
    assert received(inboxes["erin"])


def test_stage3_create_pr_opened_on_github(process: Callable[..., Process]) -> None:
    """Stage 3 `create_pr` (labels hotfix and urgent, reviewers on-call, the template): the
    emergency pull request is opened on GitHub through its REST API (a local server speaking
    exactly that API), labelled, and the on-call team asked to review; a failure is on the
    timeline and retried through the outbox; a permanent one stays visible; bad requests
    change nothing."""
    with fake_github() as github:
        github.branches.add("hotfix/nil-map")
        github.teams.add("payments-oncall")
        settings = {
            "api_url": github.url,
            "repo": REPO,
            "token": TOKEN,
            "reviewers": {"on-call": ["team:payments-oncall"]},  # the seed's reviewer
        }
        config = {"emergency_pr": {"github": settings}}
        hierarchical = process(PRESET, **config)
        incident = hierarchical.declare("SEV2")
        base = f"/api/v1/incidents/{incident}/hotfixes"
        hotfix = {"name": "hf-1", "description": "guard nil", "root_cause": "nil map"}
        hierarchical.api.ok("POST", base, json=hotfix)
        version = hierarchical.show(incident)["event_count"]
        for path, body, expected in (
            (f"{base}/hf-1/pr", {"head": "hotfix/../etc"}, 422),
            (f"{base}/hf-1/pr", {"head": ""}, 422),
            (f"{base}/hf-1/pr", {"head": "hotfix/nil-map", "extra": 1}, 422),
            (f"{base}/hf-9/pr", {"head": "hotfix/nil-map"}, 404),
        ):
            status, error = hierarchical.api.request("POST", path, json=body)
            assert status == expected, (body, error)
        status, _ = hierarchical.viewer.request("POST", f"{base}/hf-1/pr", json={"head": "x"})
        assert status == 403
        assert hierarchical.show(incident)["event_count"] == version
        assert github.requests == []
        # GitHub is down at first: the failure is on the timeline and the outbox retries.
        github.fail_next.append((502, {"message": "Server Error"}, {}))
        asked = hierarchical.api.request("POST", f"{base}/hf-1/pr", json={"head": "hotfix/nil-map"})
        assert asked[0] == 202, asked
        assert asked[1]["emergency_pr"]["state"] == "requested"
        hierarchical.work()
        (failed,) = hierarchical.events(incident, "hotfix_pr_failed")
        assert failed["data"]["retrying"] is True and "502" in failed["data"]["error"]
        assert TOKEN not in str(hierarchical.events(incident))
        hierarchical.advance(seconds=10)
        (pull,) = github.pulls.values()
        assert pull["title"] == f"Hotfix for {incident}: guard nil"
        assert (pull["head"], pull["base"]) == ("hotfix/nil-map", "main")
        assert f"## Hotfix for {incident}" in pull["body"]
        assert "**Root Cause:** nil map" in pull["body"] and "**Fix:** guard nil" in pull["body"]
        assert pull["labels"] == ["hotfix", "urgent"]
        assert pull["requested_teams"] == ["payments-oncall"]
        sent = [r for r in github.requests if r[1].endswith("/pulls")]
        assert sent[-1][2]["authorization"] == f"Bearer {TOKEN}"
        assert sent[-1][2]["x-github-api-version"] == "2022-11-28"
        (opened,) = hierarchical.events(incident, "hotfix_pr_opened")
        assert opened["data"]["url"] == pull["html_url"]
        (shown,) = hierarchical.api.ok("GET", base)["items"]
        assert shown["emergency_pr"]["state"] == "ready"
        assert shown["emergency_pr"]["requested_reviewers"] == ["team:payments-oncall"]
        assert shown["emergency_pr"]["url"] == pull["html_url"]
        status, error = hierarchical.api.request(
            "POST", f"{base}/hf-1/pr", json={"head": "hotfix/nil-map"}
        )
        assert status == 409 and error["error"]["code"] == "duplicate", error
        # A branch GitHub does not have: refused there (422), not retried, shown as failed.
        hierarchical.api.ok("POST", base, json={**hotfix, "name": "hf-2"})
        hierarchical.api.ok("POST", f"{base}/hf-2/pr", json={"head": "hotfix/not-pushed"})
        hierarchical.work()
        hierarchical.advance(minutes=30)
        (refused,) = [
            e for e in hierarchical.events(incident, "hotfix_pr_failed")
            if e["data"]["hotfix"] == "hf-2"
        ]  # fmt: skip
        assert refused["data"]["retrying"] is False and "422" in refused["data"]["error"]
        shown = {h["hotfix"]: h for h in hierarchical.api.ok("GET", base)["items"]}
        assert shown["hf-2"]["emergency_pr"]["state"] == "failed"
        assert len(github.pulls) == 1
    # Without an `emergency_pr` section the request is refused (409) and nothing changes.
    plain = process(PRESET)
    other = plain.declare("SEV2")
    plain.api.ok("POST", f"/api/v1/incidents/{other}/hotfixes", json=hotfix)
    status, error = plain.api.request(
        "POST", f"/api/v1/incidents/{other}/hotfixes/hf-1/pr", json={"head": "hotfix/x"}
    )
    assert status == 409 and error["error"]["code"] == "not_configured", error
