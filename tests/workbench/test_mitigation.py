"""The mitigation decision tree and exhaustion as tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from warroom.workbench.mitigation import (
    DECISION_TREE,
    derive_signals,
    exhausted,
    latest_outcomes,
    suggest,
    tree_from_policy,
)


def signals(**kwargs: Any) -> Any:
    base: dict[str, Any] = {
        "incident_type": "service_outage",
        "flags": {},
        "triage_answers": {},
        "correlations": [],
    }
    base.update(kwargs)
    return derive_signals(**base)


DEPLOY = {"kind": "deploy", "reason": "deploy of payments v2.3.1, 7 minutes before impact"}


@pytest.mark.parametrize(
    ("given", "actions"),
    [
        ({"correlations": [DEPLOY]}, ["rollback"]),
        ({"correlations": [{"kind": "config", "reason": "x"}]}, ["hotfix"]),
        ({"triage_answers": {"recent_deploy": True}}, ["rollback"]),
        ({"incident_type": "deployment_related"}, ["rollback"]),
        ({"flags": {"stuck": True}}, ["restart"]),
        ({"explicit": ["zone_failure"]}, ["failover"]),
        ({"explicit": ["capacity"]}, ["scale"]),
        ({"incident_type": "security_incident"}, ["block_traffic"]),
        ({"triage_answers": {"security_breach": True}}, ["block_traffic"]),
        ({"explicit": ["feature_broken"]}, ["feature_flag"]),
        ({}, ["hotfix"]),
        (
            {"correlations": [DEPLOY], "explicit": ["capacity", "stuck"]},
            ["rollback", "restart", "scale"],
        ),
    ],
)
def test_decision_tree(given: dict[str, Any], actions: list[str]) -> None:
    found = suggest(signals(**given), rollback_command="deploy rollback payments")
    assert [s.action for s in found] == actions
    assert all(s.why for s in found)


def test_rollback_carries_the_command_and_evidence() -> None:
    (rollback,) = suggest(signals(correlations=[DEPLOY]), rollback_command="kubectl rollout undo")
    assert rollback.command == "kubectl rollout undo"
    assert "v2.3.1" in rollback.why
    (bare,) = suggest(signals(correlations=[DEPLOY]))
    assert bare.command is None
    assert "no rollback command" in bare.why


@pytest.mark.parametrize(
    ("tried", "expected"),
    [
        ({}, False),
        ({"rollback": "failed"}, False),
        ({"rollback": "failed", "restart": "pending"}, False),
        ({"rollback": "failed", "restart": "failed"}, True),
        ({"rollback": "failed", "restart": "failed", "scale": "succeeded"}, False),
    ],
)
def test_exhaustion(tried: dict[str, str], expected: bool) -> None:
    found = suggest(signals(correlations=[DEPLOY], flags={"stuck": True}), tried=tried)
    assert exhausted(found, tried) is expected


def test_latest_outcome_wins() -> None:
    outcomes = latest_outcomes(
        [
            {"action": "rollback", "outcome": "pending"},
            {"action": "restart", "outcome": "failed"},
            {"action": "rollback", "outcome": "failed"},
        ]
    )
    assert outcomes == {"rollback": "failed", "restart": "failed"}


def test_a_policy_tree_replaces_the_builtin_one() -> None:
    from warroom.policy.schema import MitigationRule

    tree = tree_from_policy(
        [
            MitigationRule(signal="recent_deploy", action="feature_flag", why="flags first"),
            MitigationRule(signal="recent_deploy", action="rollback"),
            MitigationRule(signal="queue_backlog", action="scale", why="drain the queue"),
        ]
    )
    found = suggest(
        signals(correlations=[DEPLOY], flags={"queue_backlog": True}, tree=tree), tree=tree
    )
    assert [s.action for s in found] == ["feature_flag", "rollback", "scale"]
    assert found[2].why.startswith("drain the queue")
    assert tree_from_policy([]) == DECISION_TREE
