"""The guardrails every preset keeps (issue #18), driven through the API with the clock moved.

Named after the seed section each proves: 000 nexus-micro, 001 orchestrator, 002 bmad-p0-p4,
003 hierarchical, 004 phased.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api
from tests.workbench.conftest import Bench
from warroom.core import auth
from warroom.core.clock import FixedClock

CHECKLIST_000 = (
    "fix_resolves_issue",
    "no_new_issues",
    "metrics_normal",
    "no_cascading_failures",
    "response_times_normal",
)


def _declare(api: Any, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok("POST", "/api/v1/incidents", json={"title": "Checkout", **body})
    return data


def _escalated_rules(bench: Bench, incident: str) -> list[str]:
    return [e["data"].get("rule") for e in bench.events(incident, "escalated")]


def test_seed000_escalation_matrix_breach_and_user_data_fire_from_triage_alone(
    bench: Any,
) -> None:
    b: Bench = bench({"policy": "nexus-micro"})
    alice = b.as_("alice")
    triage = {"complete_outage": True, "security_breach": True, "data_at_risk": True}
    incident = _declare(alice, triage=triage)
    assert incident["severity"] == "P0"
    assert incident["flags"]["data_breach_suspected"] is True
    assert incident["flags"]["user_data_affected"] is True
    reasons = {e["data"]["flag"]: e["data"]["reason"] for e in b.events(incident["id"], "flag_set")}
    assert reasons["data_breach_suspected"] == "triage: security breach suspected"
    b.work()
    rules = _escalated_rules(b, incident["id"])
    assert "data-breach" in rules  # Legal Compliance Checker: regulatory notification
    assert "user-data" in rules  # Legal + Executive Summary: GDPR/CCPA


def test_seed004_customer_facing_from_impact_brings_in_customer_success(bench: Any) -> None:
    b: Bench = bench({"policy": "phased"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV3")
    assert incident["flags"] == {}
    updated = alice.ok(
        "PATCH", f"/api/v1/incidents/{incident['id']}", json={"impact": {"customer_facing": True}}
    )
    assert updated["flags"]["customer_facing"] is True
    b.work()
    assert "customer-facing" in _escalated_rules(b, incident["id"])


def test_seed001_data_loss_answer_sets_data_loss_flag_on_triage_record(bench: Any) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV2")
    body = {"answers": {"data_loss": True}, "severity": "SEV2", "override_reason": "one table"}
    data = alice.ok("POST", f"/api/v1/incidents/{incident['id']}/triage", json=body)
    assert data["flags"]["data_loss"] is True


def test_flag_changes_need_a_valid_name_and_never_touch_system_flags(bench: Any) -> None:
    b: Bench = bench({"policy": "default"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV2")["id"]
    path = f"/api/v1/incidents/{incident}/flags"
    status, body = alice.post(path, {"flag": "verification_passed", "reason": "trust me"})
    assert status == 422 and body["error"]["code"] == "system_flag"
    status, _ = alice.post(path, {"flag": "Not A Flag", "reason": "x"})
    assert status == 422
    assert b.events(incident, "flag_set") == []
    on = alice.ok("POST", path, json={"flag": "user_data_affected", "reason": "emails leaked"})
    assert on["flags"]["user_data_affected"] is True
    off = alice.ok(
        "POST", path, json={"flag": "user_data_affected", "value": False, "reason": "test data"}
    )
    assert off["flags"]["user_data_affected"] is False
    assert [e["data"]["reason"] for e in b.events(incident, "flag_set")] == [
        "emails leaked",
        "test data",
    ]


def _resolve(api: Any, incident: str, checklist: tuple[str, ...], **extra: Any) -> Any:
    body = {
        "summary": "rolled back",
        "checklist": {item: {"confirmed": True} for item in checklist},
        **extra,
    }
    return api.post(f"/api/v1/incidents/{incident}/resolve", body)


def test_seed000_monitor_for_30_minutes_post_fix_before_resolving(
    bench: Any, clock: FixedClock
) -> None:
    b: Bench = bench({"policy": "nexus-micro"})
    alice, bob = b.as_("alice"), b.as_("bob")
    incident = _declare(alice, severity="P1")["id"]
    _commander(alice, incident, "bob")
    clock.advance(timedelta(minutes=5))
    alice.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "rollback", "outcome": "succeeded"},
    )
    alice.ok("POST", f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "ok"})
    clock.advance(timedelta(minutes=10))
    status, body = _resolve(alice, incident, CHECKLIST_000)
    assert status == 409
    assert [u["guard"] for u in body["error"]["details"]["unmet"]] == ["verification"]
    assert "30 minutes" in body["error"]["message"]
    # Waiving needs a role the policy allows (the commander) and a reason.
    status, body = _resolve(alice, incident, CHECKLIST_000, waive_verification="customers ok")
    assert status == 403 and body["error"]["code"] == "waiver_not_allowed"
    status, body = _resolve(bob, incident, CHECKLIST_000, waive_verification="  ")
    assert status == 422 and body["error"]["code"] == "reason_required"
    assert b.runtime.incidents.get(incident).status.value != "resolved"
    clock.advance(timedelta(minutes=21))  # 31 minutes after the fix
    status, body = _resolve(alice, incident, CHECKLIST_000)
    assert status == 200, body
    assert b.events(incident, "guard_waived") == []


def test_seed000_commander_may_waive_the_monitoring_window_with_a_reason(
    bench: Any, clock: FixedClock
) -> None:
    b: Bench = bench({"policy": "nexus-micro"})
    alice, bob = b.as_("alice"), b.as_("bob")
    incident = _declare(alice, severity="P1")["id"]
    _commander(alice, incident, "bob")
    status, body = _resolve(bob, incident, CHECKLIST_000, waive_verification="false alarm")
    assert status == 200, body
    waived = b.events(incident, "guard_waived")
    assert [(e["actor"], e["data"]["role"], e["data"]["reason"]) for e in waived] == [
        ("token:bob", "commander", "false alarm")
    ]


def test_seed004_recovery_phase_needs_a_verification_before_resolving(
    bench: Any, clock: FixedClock
) -> None:
    b: Bench = bench({"policy": "phased"})
    alice = b.as_("alice")
    incident = _declare(alice, severity="SEV3")["id"]
    alice.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "restart", "outcome": "succeeded"},
    )
    items = (
        "systems_healthy",
        "metrics_normalized",
        "user_impact_ended",
        "critical_paths_tested",
        "stakeholders_notified",
    )
    status, body = _resolve(alice, incident, items)
    assert status == 409 and "verification" in body["error"]["message"]
    alice.ok(
        "POST",
        f"/api/v1/incidents/{incident}/verification/confirm",
        json={"note": "critical paths tested"},
    )
    status, body = _resolve(
        alice,
        incident,
        items,
        root_cause="a batch job held the connections",
        permanent_fix="a connection timeout, deployed",
    )
    assert status == 200, body


def test_seed004_successful_mitigation_is_mttm_and_cancels_unmitigated_escalation(
    bench: Any, clock: FixedClock
) -> None:
    b: Bench = bench({"policy": "phased"})
    alice = b.as_("alice")
    mitigated = _declare(alice, severity="SEV2")["id"]
    left_alone = _declare(alice, severity="SEV2")["id"]
    clock.advance(timedelta(minutes=10))
    data = alice.ok(
        "POST",
        f"/api/v1/incidents/{mitigated}/mitigations",
        json={"action": "rollback", "outcome": "succeeded"},
    )
    assert data["incident"] == mitigated
    state = b.runtime.incidents.get(mitigated)
    assert state.mitigated_at == clock.now()
    assert state.status.value == "triggered"  # the milestone does not depend on the status
    clock.advance(timedelta(minutes=25))  # 35 minutes after declaring
    b.work()
    assert "unmitigated-30m" not in _escalated_rules(b, mitigated)
    assert "unmitigated-30m" in _escalated_rules(b, left_alone)


def _commander(api: Any, incident: str, person: str) -> None:
    api.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": person}
    )


def test_seed001_a_must_stop_is_acknowledged_by_a_person_never_an_agent(bench: Any) -> None:
    b: Bench = bench({"policy": "orchestrator"})
    alice = b.as_("alice")
    incident = _declare(alice, triage={"complete_outage": True, "data_loss": True})["id"]
    with b.runtime.db.write() as conn:
        _, token = auth.create_token(
            conn,
            name="helper-bot",
            scopes=["responder"],
            created_by="tests",
            now=b.runtime.clock.now(),
            kind="agent",
        )
    agent = Api(b.client, token)
    path = f"/api/v1/incidents/{incident}/stops/data-loss/acknowledge"
    status, body = agent.post(path, {"decision": "carry on"})
    assert status == 403 and body["error"]["details"]["rule"] == "must_stop_needs_a_person"
    assert b.runtime.incidents.get(incident).stopped is True
