"""Changes and correlation, mitigation suggestions and exhaustion, hotfix gates, verification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import T0
from tests.support.receiver import http_receiver
from tests.workbench.conftest import Bench
from warroom.core.clock import FixedClock

CATALOG: dict[str, Any] = {
    "services": [
        {"name": "db"},
        {
            "name": "payments",
            "dependencies": ["db"],
            "rollback_command": "deploy rollback payments",
        },
        {"name": "web"},
    ],
    "runbooks": {"auto_run": False},
}


def _declare(api: Any, **extra: Any) -> str:
    body = {"title": "Checkout failing", "severity": "SEV2", "services": ["payments"], **extra}
    incident: str = api.ok("POST", "/api/v1/incidents", json=body)["id"]
    return incident


def test_changes_are_correlated_with_reasons(bench: Callable[..., Bench]) -> None:
    wb = bench(CATALOG)
    ci = wb.as_("ci", "ingest")
    alice = wb.as_("alice")
    started = T0 - timedelta(minutes=1)
    for service, kind, version, minutes in [
        ("payments", "deploy", "v2.3.1", 8),
        ("db", "config", "max_conn=50", 30),
        ("web", "deploy", "v9", 2),
        ("payments", "flag", "", 60 * 30),
    ]:
        body = {
            "service": service,
            "kind": kind,
            "version": version,
            "by": "deploy-bot",
            "link": "https://ci.example/1",
            "at": (started - timedelta(minutes=minutes)).isoformat(),
        }
        status, _ = ci.post("/api/v1/changes", json=body)
        assert status == 201
    status, body = ci.post("/api/v1/changes", json={"service": "nope", "kind": "deploy"})
    assert status == 422
    viewer = wb.as_("v", "viewer")
    assert viewer.post("/api/v1/changes", json={"service": "web", "kind": "deploy"})[0] == 403

    incident = _declare(alice, started_at=started.isoformat(), detected_at=T0.isoformat())
    listed = alice.ok("GET", f"/api/v1/incidents/{incident}/changes")["changes"]
    assert [c["reason"] for c in listed] == [
        "deploy of payments v2.3.1, 7 minutes before impact, same service",
        "config change of db max_conn=50, 29 minutes before impact, dependency",
    ] or [c["reason"] for c in listed] == [
        "deploy of payments v2.3.1, 8 minutes before impact, same service",
        "config change of db max_conn=50, 30 minutes before impact, dependency",
    ]
    wb.work()
    correlated = wb.events(incident, "deploy_correlated")
    assert [e["data"]["service"] for e in correlated] == ["payments", "db"]
    assert correlated[0]["data"]["score"] > correlated[1]["data"]["score"]
    # A late change recorded for a dependency re-correlates the open incident, once.
    late = {
        "service": "db",
        "kind": "deploy",
        "version": "pg16",
        "at": (started - timedelta(minutes=3)).isoformat(),
    }
    ci.ok("POST", "/api/v1/changes", json=late)
    wb.work()
    wb.work()
    assert [e["data"]["version"] for e in wb.events(incident, "deploy_correlated")] == [
        "v2.3.1",
        "max_conn=50",
        "pg16",
    ]
    assert [c["service"] for c in alice.ok("GET", "/api/v1/changes?service=db")["items"]] == [
        "db",
        "db",
    ]


def test_suggestions_follow_the_tree_and_exhaustion_flags(bench: Callable[..., Bench]) -> None:
    wb = bench(CATALOG)
    alice = wb.as_("alice")
    alice.ok(
        "POST",
        "/api/v1/changes",
        json={
            "service": "payments",
            "kind": "deploy",
            "version": "v2.3.1",
            "at": (T0 - timedelta(minutes=5)).isoformat(),
        },
    )
    incident = _declare(alice)
    base = f"/api/v1/incidents/{incident}/mitigations"
    found = alice.ok("GET", base + "/suggestions")
    assert [s["action"] for s in found["suggestions"]] == ["rollback"]
    assert found["suggestions"][0]["command"] == "deploy rollback payments"
    assert "v2.3.1" in found["suggestions"][0]["why"]
    with_stuck = alice.ok("GET", base + "/suggestions?signal=stuck")
    assert [s["action"] for s in with_stuck["suggestions"]] == ["rollback", "restart"]
    assert alice.get(base + "/suggestions?signal=bad")[0] == 422

    alice.ok("POST", f"/api/v1/incidents/{incident}/flags", json={"flag": "stuck"})
    first = alice.ok("POST", base, json={"action": "rollback", "outcome": "failed"})
    assert first["mitigation_exhausted"] is False
    second = alice.ok("POST", base, json={"action": "restart", "outcome": "failed"})
    assert second["mitigation_exhausted"] is True
    flags = [e["data"] for e in wb.events(incident, "flag_set")]
    assert {"flag": "mitigation_exhausted", "value": True}.items() <= flags[-1].items()
    assert "rollback, restart" in flags[-1]["reason"]
    outcomes = [
        (e["data"]["action"], e["data"]["outcome"])
        for e in wb.events(incident, "mitigation_applied")
    ]
    assert outcomes == [("rollback", "failed"), ("restart", "failed")]
    assert alice.ok("GET", base + "/suggestions")["exhausted"] is True
    # Something working clears the flag.
    alice.ok("POST", base, json={"action": "failover", "outcome": "succeeded"})
    assert wb.runtime.incidents.get(incident).flags["mitigation_exhausted"] is False
    assert alice.post(base, json={"action": "pray"})[0] == 422


def test_hotfix_gates_review_and_follow_ups(bench: Callable[..., Bench]) -> None:
    wb = bench(CATALOG)
    bob = wb.as_("bob")
    incident = _declare(bob, severity="SEV1")
    hotfixes = f"/api/v1/incidents/{incident}/hotfixes"
    status, body = bob.post(
        hotfixes,
        json={
            "name": "hf-1",
            "author": "bob",
            "gates": {"review": {"status": "passed", "by": "bob"}},
        },
    )
    assert status == 422
    assert body["error"]["code"] == "review_by_reviewer"  # never a typed reviewer name
    assert wb.events(incident, "hotfix_recorded") == []

    recorded = bob.ok(
        "POST",
        hotfixes,
        json={
            "name": "hf-1",
            "author": "bob",
            "gates": {"tests": {"status": "skipped", "reason": "no time at SEV1"}},
        },
    )
    assert "no review by someone other than the author" in recorded["deploy_blockers"]
    status, body = bob.post(f"{hotfixes}/hf-1/deploy")
    assert status == 409
    assert body["error"]["code"] == "hotfix_gates"
    assert wb.events(incident, "hotfix_deployed") == []

    status, body = bob.post(f"{hotfixes}/hf-1/review", {"note": "my own fix"})
    assert status == 403 and body["error"]["code"] == "self_approval"
    bob.ok("POST", f"{hotfixes}/hf-1/gates", json={"gates": {"staging": {"status": "passed"}}})
    wb.as_("carol").ok("POST", f"{hotfixes}/hf-1/review", json={"note": "diff read"})
    deployed = bob.ok("POST", f"{hotfixes}/hf-1/deploy")
    assert deployed["deployed"] is True
    (event,) = wb.events(incident, "hotfix_deployed")
    assert event["data"]["reviewed_by"] == "token:carol"
    follow = {e["data"]["gate"]: e["data"] for e in wb.events(incident, "follow_up_required")}
    assert set(follow) == {"tests", "security_scan", "docs"}
    assert {k: follow["tests"][k] for k in ("type", "source", "gate", "hotfix")} == {
        "type": "prevent",
        "source": "hotfix_gate",
        "gate": "tests",
        "hotfix": "hf-1",
    }
    assert "no time at SEV1" in follow["tests"]["title"]
    (mitigation,) = wb.events(incident, "mitigation_applied")
    assert mitigation["data"]["action"] == "hotfix"
    assert bob.post(f"{hotfixes}/hf-1/deploy")[0] == 409


@pytest.fixture
def health() -> Any:
    with http_receiver() as receiver:
        yield receiver


def _verifying(
    bench: Callable[..., Bench], receiver: Any, chat: str | None = None, **policy: Any
) -> Bench:
    config = {
        "services": [
            {
                "name": "payments",
                "rollback_command": "deploy rollback payments",
                "health_checks": [{"url": receiver.url + "/health", "name": "health"}],
            }
        ],
        "runbooks": {"auto_run": False},
        "verification": {"interval": "5m", "notify_urls": [chat] if chat else []},
        "policy": {"extends": "default", **policy},
    }
    return bench(config)


def test_verification_stable_then_resolve_guard(
    bench: Callable[..., Bench], health: Any, clock: FixedClock
) -> None:
    wb = _verifying(bench, health, resolve_requires_verification=True)
    alice = wb.as_("alice")
    incident = _declare(alice, severity="SEV1")
    resolve = {"summary": "rolled back", "checklist": {}}
    for item in wb.runtime.policy.resolution_checklist:
        resolve["checklist"][item.id] = {"confirmed": True}
    alice.ok(
        "POST",
        f"/api/v1/incidents/{incident}/mitigations",
        json={"action": "rollback", "outcome": "succeeded"},
    )
    wb.work()
    assert len(wb.events(incident, "verification_started")) == 1
    status, body = alice.post(f"/api/v1/incidents/{incident}/resolve", json=resolve)
    assert status == 409
    assert body["error"]["details"]["unmet"][0]["guard"] == "verification"
    for _ in range(6):
        clock.advance(timedelta(minutes=5))
        wb.work()
    (passed,) = wb.events(incident, "verification_passed")
    assert passed["data"]["outcome"] == "stable"
    assert wb.runtime.incidents.get(incident).flags["verification_passed"] is True
    checks = [r for r in health.requests if r.path == "/health"]
    assert len(checks) == 7  # at the start and every 5 minutes up to 30
    assert (
        alice.ok("POST", f"/api/v1/incidents/{incident}/resolve", json=resolve)["status"]
        == "resolved"
    )


def test_verification_regression_suggests_rollback(
    bench: Callable[..., Bench], health: Any, clock: FixedClock
) -> None:
    with http_receiver() as chat:
        _regression(bench, health, chat, clock)


def _regression(
    bench: Callable[..., Bench], health: Any, chat_receiver: Any, clock: FixedClock
) -> None:
    wb = _verifying(bench, health, chat_receiver.json_url("/chat"))
    alice = wb.as_("alice")
    incident = _declare(alice, severity="SEV1", roles={"commander": "carol"})
    alice.ok("POST", f"/api/v1/incidents/{incident}/status", json={"status": "monitoring"})
    wb.work()
    clock.advance(timedelta(minutes=5))
    wb.work()
    health.status = 503
    clock.advance(timedelta(minutes=5))
    wb.work()
    (regressed,) = wb.events(incident, "verification_regressed")
    assert regressed["data"]["outcome"] == "regressed"
    assert regressed["data"]["commander"] == "carol"
    assert regressed["data"]["failures"][0]["status"] == "failed"
    (suggested,) = wb.events(incident, "mitigation_suggested")
    assert suggested["data"]["action"] == "rollback"
    assert suggested["data"]["command"] == "deploy rollback payments"
    assert wb.runtime.incidents.get(incident).flags["verification_regressed"] is True
    chat = chat_receiver.wait_for(1)
    assert len(chat) == 1
    assert "regressed" in chat[0].json()["title"]
    assert wb.events(incident, "notification_sent")
    # The window stops checking after a regression.
    before = len(health.requests)
    clock.advance(timedelta(minutes=30))
    wb.work()
    assert len(health.requests) == before
    # Without the policy switch, resolving needs no verification.
    status = alice.post(
        f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "checked by hand"}
    )[0]
    assert status == 200
    assert alice.ok("GET", f"/api/v1/incidents/{incident}/verification")["passed"] is True


def test_verification_with_a_metric_check_and_without_checks(
    bench: Callable[..., Bench], clock: FixedClock
) -> None:
    from tests.workbench.prometheus import fake_prometheus

    with fake_prometheus() as prom:
        prom.set("error_ratio_payments", current=0.01, baseline=0.01)
        config = {
            "services": [
                {
                    "name": "payments",
                    "health_checks": [
                        {
                            "kind": "metric",
                            "name": "5xx ratio",
                            "query": "error_ratio_payments",
                            "op": "<",
                            "threshold": 0.05,
                            "baseline_window": "1h",
                            "max_ratio": 2,
                        }
                    ],
                },
                {"name": "web"},
            ],
            "runbooks": {"auto_run": False, "prometheus_url": prom.url},
            "verification": {"interval": "5m"},
        }
        wb = bench(config)
        alice = wb.as_("alice")
        checked = _declare(alice, severity="SEV3")  # 15 minute window
        unchecked = _declare(alice, severity="SEV3", services=["web"])
        for incident in (checked, unchecked):
            alice.ok("POST", f"/api/v1/incidents/{incident}/status", json={"status": "monitoring"})
        wb.work()
        clock.advance(timedelta(minutes=5))
        wb.work()
        prom.set("error_ratio_payments", current=0.03, baseline=0.01)  # 3x the baseline
        clock.advance(timedelta(minutes=5))
        wb.work()
        (regressed,) = wb.events(checked, "verification_regressed")
        assert regressed["data"]["failures"][0]["check"] == "5xx ratio"
        assert "3.00x" in regressed["data"]["failures"][0]["output"]
        clock.advance(timedelta(minutes=5))
        wb.work()
        (inconclusive,) = wb.events(unchecked, "verification_inconclusive")
        assert "no health checks" in inconclusive["data"]["reason"]
        assert not wb.runtime.incidents.get(unchecked).flags.get("verification_passed")
