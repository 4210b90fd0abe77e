"""Seed conformance of the workbench and the MUST STOP rules, through the API, clock moved.

000 nexus-micro, 001 orchestrator, 002 bmad-p0-p4, 003 hierarchical, 004 phased.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.workbench.conftest import Bench
from warroom.core.clock import FixedClock


def _declare(api: Any, **body: Any) -> str:
    data = api.ok("POST", "/api/v1/incidents", json={"title": "Checkout", **body})
    return str(data["id"])


def _mitigate(api: Any, incident: str, action: str, outcome: str) -> dict[str, Any]:
    body = {"action": action, "outcome": outcome, "description": f"{action} tried"}
    result: dict[str, Any] = api.ok("POST", f"/api/v1/incidents/{incident}/mitigations", json=body)
    return result


def _incident(api: Any, incident: str) -> dict[str, Any]:
    data: dict[str, Any] = api.ok("GET", f"/api/v1/incidents/{incident}")
    return data


def test_seed001_must_stop_all_mitigation_options_exhausted_until_acknowledged(
    bench: Any,
) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV2")
    alice.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": "carol"}
    )
    suggested = alice.ok("GET", f"/api/v1/incidents/{incident}/mitigations/suggestions")
    # "Mitigation Options (Try in Order)".
    assert [s["action"] for s in suggested["suggestions"]] == [
        "rollback",
        "feature_flag",
        "config_change",
        "scale",
        "hotfix",
    ]
    # 001 MUST NOT: modify configuration in production without documenting the change.
    undocumented = {"action": "config_change", "outcome": "failed"}
    status, body = alice.post(f"/api/v1/incidents/{incident}/mitigations", undocumented)
    assert status == 422 and body["error"]["code"] == "description_required"
    assert b.events(incident, "mitigation_applied") == []
    for action in ("rollback", "feature_flag", "config_change"):
        _mitigate(alice, incident, action, "failed")
    assert _incident(alice, incident)["stopped"] is False
    result = _mitigate(alice, incident, "scale", "failed")
    assert result["mitigation_exhausted"] is True  # the hotfix is a last resort
    data = _incident(alice, incident)
    assert data["stopped"] is True
    assert list(data["stops"]) == ["mitigation-exhausted"]
    b.work()
    (escalated,) = [e for e in b.events(incident, "escalated") if e["data"]["rule"] == "must-stop"]
    assert escalated["data"]["targets"] == ["role:commander", "contact:engineering_manager"]
    assert "exhausted" in escalated["data"]["detail"]
    path = f"/api/v1/incidents/{incident}/stops/mitigation-exhausted/acknowledge"
    assert alice.post(path, {"decision": "   "})[0] == 422
    status, _ = alice.post(
        f"/api/v1/incidents/{incident}/stops/recurred/acknowledge", {"decision": "x"}
    )
    assert status == 404
    assert _incident(alice, incident)["stopped"] is True
    done = alice.ok("POST", path, json={"decision": "call the vendor; failover approved"})
    assert done["stopped"] is False and done["stops"] == {}
    (ack,) = b.events(incident, "stop_acknowledged")
    assert ack["data"]["decision"] == "call the vendor; failover approved"


def test_seed001_must_stop_data_loss_from_triage_alone(bench: Any) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, triage={"complete_outage": True, "data_loss": True})
    data = _incident(alice, incident)
    assert data["flags"]["data_loss"] is True
    assert "data-loss" in data["stops"] and data["stopped"] is True


def test_seed001_must_stop_rollback_impossible_and_hotfix_risky(bench: Any) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV1")
    hotfix = {
        "name": "hf-1",
        "why_not_rollback": "the migration cannot be reversed",
        "risk": "significant",
    }
    alice.ok("POST", f"/api/v1/incidents/{incident}/hotfixes", json=hotfix)
    data = _incident(alice, incident)
    assert list(data["stops"]) == ["rollback-impossible-hotfix-risky"]


def test_seed001_must_stop_recurrence_after_resolution_also_on_manual_reopen(
    bench: Any, clock: FixedClock
) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV3")
    _mitigate(alice, incident, "rollback", "succeeded")
    alice.ok("POST", f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "ok"})
    clock.advance(timedelta(minutes=16))  # 001: monitor 15-30 minutes (SEV-3: 15)
    checklist = {
        item: {"confirmed": True}
        for item in (
            "issue_gone",
            "error_rates_baseline",
            "users_can_use_feature",
            "monitoring_stable",
            "stakeholders_notified",
        )
    }
    alice.ok(
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": "rolled back", "checklist": checklist},
    )
    assert _incident(alice, incident)["stopped"] is False
    reopened = alice.ok(
        "POST", f"/api/v1/incidents/{incident}/reopen", json={"reason": "errors are back"}
    )
    assert list(reopened["stops"]) == ["recurred"]
    assert "errors are back" in reopened["stops"]["recurred"]["reason"]


def test_seed001_must_stop_eta_beyond_the_severity_response_window(bench: Any) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV3")  # response window < 4 hours
    update = {"status": "identified", "impact": "slow search", "action": "reindexing"}
    alice.ok("POST", f"/api/v1/incidents/{incident}/updates", json={**update, "eta": "2h"})
    assert _incident(alice, incident)["stopped"] is False
    alice.ok("POST", f"/api/v1/incidents/{incident}/updates", json={**update, "eta": "in 6h"})
    data = _incident(alice, incident)
    assert list(data["stops"]) == ["eta-beyond-window"]


def test_seed001_hotfix_only_for_sev1_sev2_with_reason_and_follow_ups_on_deploy(
    bench: Any,
) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice, carol = b.as_("alice"), b.as_("carol")
    minor = _declare(alice, severity="SEV3")
    status, body = alice.post(
        f"/api/v1/incidents/{minor}/hotfixes", {"name": "hf-1", "why_not_rollback": "schema"}
    )
    assert status == 409 and body["error"]["code"] == "hotfix_not_allowed"
    incident = _declare(alice, severity="SEV2")
    base = f"/api/v1/incidents/{incident}/hotfixes"
    status, body = alice.post(base, {"name": "hf-1"})
    assert status == 422 and body["error"]["code"] == "reason_required"
    assert b.events(incident, "hotfix_recorded") == []
    gates = {"tests": {"status": "skipped", "reason": "add later"}, "staging": {"status": "passed"}}
    gates["security_scan"] = {"status": "passed"}
    alice.ok(
        "POST",
        base,
        json={"name": "hf-1", "why_not_rollback": "no flag for it", "gates": gates},
    )
    carol.ok("POST", f"{base}/hf-1/review", json={"note": "fixes it, no new issue"})
    alice.ok("POST", f"{base}/hf-1/deploy")
    titles = [
        e["data"]["title"]
        for e in b.events(incident, "follow_up_required")
        if e["data"]["source"] == "hotfix_policy"
    ]
    assert any(t.startswith("Merge the hotfix to main") for t in titles)
    assert any(t.startswith("Add proper tests") for t in titles)
    assert any(t.startswith("Proper fix") for t in titles)


def test_seed001_hotfix_staging_time_box_15_minutes_for_sev1(bench: Any, clock: FixedClock) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV1")
    base = f"/api/v1/incidents/{incident}/hotfixes"
    view = alice.ok("POST", base, json={"name": "hf-1", "why_not_rollback": "no flag"})
    assert view["staging_time_box"]["minutes"] == 15
    assert view["staging_time_box"]["exceeded"] is False
    alice.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": "carol"}
    )
    clock.advance(timedelta(minutes=14))
    b.work()
    assert b.events(incident, "hotfix_staging_time_box_passed") == []
    clock.advance(timedelta(minutes=2))
    (listed,) = alice.ok("GET", base)["items"]
    assert listed["staging_time_box"]["exceeded"] is True
    b.work()
    (passed,) = b.events(incident, "hotfix_staging_time_box_passed")
    assert passed["data"]["minutes"] == 15
    (escalated,) = [
        e for e in b.events(incident, "escalated") if e["data"]["rule"] == "staging-time-box"
    ]
    assert escalated["data"]["targets"] == ["role:commander"]
    # Staged in time: nothing to surface.
    staged = _declare(alice, severity="SEV1")
    gates = {"staging": {"status": "passed"}}
    alice.ok(
        "POST",
        f"/api/v1/incidents/{staged}/hotfixes",
        json={"name": "hf-2", "why_not_rollback": "no flag", "gates": gates},
    )
    clock.advance(timedelta(minutes=16))
    b.work()
    assert b.events(staged, "hotfix_staging_time_box_passed") == []


def test_seed000_decision_tree_infrastructure_and_external_dependency(bench: Any) -> None:
    b: Bench = bench({"policy": "nexus-micro"})
    alice = b.as_("alice")
    infra = _declare(alice, severity="P1", triage={"infrastructure": True}, override_reason="x")
    actions = alice.ok("GET", f"/api/v1/incidents/{infra}/mitigations/suggestions")
    assert [s["action"] for s in actions["suggestions"]] == ["scale", "restart", "failover"]
    external = _declare(alice, severity="P1", type="third_party_failure")
    actions = alice.ok("GET", f"/api/v1/incidents/{external}/mitigations/suggestions")
    (fallback,) = actions["suggestions"]
    assert fallback["action"] == "fallback_cache"
    assert "communicate to users" in fallback["why"]


def test_seed002_failed_mitigation_notifies_commander_with_next_option(bench: Any) -> None:
    b: Bench = bench({"policy": "bmad-p0-p4"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="P1", type="deployment_related")
    alice.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": "carol"}
    )
    alice.ok(
        "POST",
        f"/api/v1/incidents/{incident}/flags",
        json={"flag": "capacity", "reason": "CPU at 100%"},
    )
    failed = _mitigate(alice, incident, "rollback", "failed")
    assert failed["next_option"]["action"] == "scale"
    (nxt,) = b.events(incident, "mitigation_next_option")
    assert (nxt["data"]["failed"], nxt["data"]["next"]) == ("rollback", "scale")
    b.work()
    (escalated,) = [
        e for e in b.events(incident, "escalated") if e["data"]["rule"] == "mitigation-failed"
    ]
    assert escalated["data"]["targets"] == ["role:commander"]
    assert "next option: scale" in escalated["data"]["detail"]


def test_seed003_immediate_relief_options_and_canary_monitor_window(
    bench: Any, clock: FixedClock
) -> None:
    b: Bench = bench({"policy": "hierarchical"})
    alice, carol = b.as_("alice"), b.as_("carol")
    incident = _declare(alice, severity="SEV2")
    actions = alice.ok("GET", f"/api/v1/incidents/{incident}/mitigations/suggestions")
    assert [s["action"] for s in actions["suggestions"]] == [
        "scale",
        "restart",
        "circuit_breaker",
        "redirect_traffic",
    ]
    base = f"/api/v1/incidents/{incident}/hotfixes"
    gates = {"staging": {"status": "passed"}, "tests": {"status": "passed"}}
    gates["security_scan"] = {"status": "passed"}
    view = alice.ok(
        "POST",
        base,
        json={"name": "hf-1", "description": "guard nil", "root_cause": "nil map", "gates": gates},
    )
    pr = view["emergency_pr"]
    assert pr["labels"] == ["hotfix", "urgent"]
    assert f"## Hotfix for {incident}" in pr["body"] and "**Root Cause:** nil map" in pr["body"]
    carol.ok("POST", f"{base}/hf-1/review", json={})
    alice.ok("POST", f"{base}/hf-1/deploy")
    b.work()
    (started,) = [
        e for e in b.events(incident, "verification_started") if e["data"]["trigger"] == "canary"
    ]
    ends = started["data"]["ends_at"]
    assert ends == (clock.now() + timedelta(minutes=5)).isoformat()


def test_seed003_skip_review_if_sev1_is_a_recorded_safety_option(bench: Any) -> None:
    b: Bench = bench({"policy": "hierarchical"})
    alice = b.as_("alice")
    sev2 = _declare(alice, severity="SEV2")
    skipped = {"review": {"status": "skipped", "reason": "site down"}}
    status, _ = alice.post(f"/api/v1/incidents/{sev2}/hotfixes", {"name": "hf-1", "gates": skipped})
    assert status == 422  # only at SEV-1
    incident = _declare(alice, severity="SEV1")
    base = f"/api/v1/incidents/{incident}/hotfixes"
    gates = {**skipped, "staging": {"status": "passed"}, "tests": {"status": "passed"}}
    gates["security_scan"] = {"status": "passed"}
    alice.ok("POST", base, json={"name": "hf-1", "gates": gates})
    (used,) = b.events(incident, "safety_option_used")
    assert used["data"]["option"] == "policy.hotfix.skip_review_if_sev1"
    assert alice.ok("POST", f"{base}/hf-1/deploy")["deployed"] is True


def _matching(api: Any, incident: str) -> list[str]:
    items = api.ok("GET", f"/api/v1/incidents/{incident}/runbooks")["items"]
    return [item["id"] for item in items]


def test_seed000_parallel_investigation_checklists_as_a_builtin_runbook(bench: Any) -> None:
    b: Bench = bench({"policy": "nexus-micro"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="P1")
    assert "nexus_parallel_investigation" in _matching(alice, incident)
    runbook = alice.ok("GET", "/api/v1/runbooks/nexus_parallel_investigation")
    checklists = {s["id"]: s["checklist"] for s in runbook["steps"] if s["kind"] == "manual"}
    assert "Check CI/CD pipeline status" in checklists["devops-automator"]
    assert "Check database health" in checklists["backend-architect"]
    other: Bench = bench({"policy": "default"})
    bob = other.as_("bob")
    assert "nexus_parallel_investigation" not in _matching(bob, _declare(bob, severity="SEV2"))


def test_seed002_generic_troubleshooting_when_no_runbook_matches_and_match_by_type_or_service(
    bench: Any,
) -> None:
    b: Bench = bench({"policy": "bmad-p0-p4", "services": [{"name": "postgres-main"}]})
    alice = b.as_("alice")
    data_loss = _declare(alice, severity="P1", type="data_loss")
    assert _matching(alice, data_loss) == ["generic_troubleshooting"]
    slow = _declare(alice, severity="P2", type="performance_degradation")
    assert "high_latency" in _matching(alice, slow)  # by type, without an alert label
    database = _declare(alice, severity="P2", type="data_loss", services=["postgres-main"])
    assert _matching(alice, database) == ["database_issues"]  # by service


def test_seed003_structured_diagnosis_is_a_recordable_step(bench: Any) -> None:
    b: Bench = bench({"policy": "hierarchical"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV2")
    assert {"hierarchical_diagnose", "hierarchical_mitigate"} <= set(_matching(alice, incident))
    path = f"/api/v1/incidents/{incident}/runbooks/hierarchical_diagnose/run"
    status, body = alice.post(path, {"step": "diagnosis-summary"})
    assert status == 422 and body["error"]["code"] == "diagnosis_required"
    bad = {"hypothesis": "pool", "evidence": "x", "confidence": "certain"}
    assert alice.post(path, {"step": "diagnosis-summary", "diagnosis": bad})[0] == 422
    assert b.events(incident, "diagnosis_recorded") == []
    diagnosis = {
        "hypothesis": "connection pool exhausted by the batch job",
        "evidence": "pool wait time 30s since 14:02; batch deploy at 14:00",
        "confidence": "high",
    }
    alice.ok("POST", path, json={"step": "diagnosis-summary", "diagnosis": diagnosis})
    (recorded,) = b.events(incident, "diagnosis_recorded")
    assert recorded["data"]["confidence"] == "high"
    assert recorded["data"]["hypothesis"] == diagnosis["hypothesis"]
