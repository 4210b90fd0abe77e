"""Hotfix quality gates as tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from warroom.workbench.hotfix import GateProblem, deploy_blockers, evaluate, follow_ups

SEV1 = {
    "review": "required",
    "tests": "may_skip",
    "staging": "required",
    "security_scan": "skip",
    "docs": "after",
}
REVIEWED = {"status": "passed", "by": "carol"}


def statuses(results: list[Any]) -> dict[str, str]:
    return {r.gate: r.status for r in results}


def test_defaults_from_rules() -> None:
    results = evaluate(SEV1, {}, author="bob")
    assert statuses(results) == {
        "review": "pending",
        "tests": "pending",
        "staging": "pending",
        "security_scan": "skipped",
        "docs": "skipped",
    }
    assert deploy_blockers(results, "bob") == [
        "no review by someone other than the author",
        "gate tests (may_skip) is neither passed nor skipped",
        "gate staging (required) is neither passed nor skipped",
    ]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"review": {"status": "passed", "by": "bob"}}, "other than the hotfix's author"),
        ({"review": {"status": "passed"}}, "name its reviewer"),
        ({"review": {"status": "skipped", "reason": "hurry"}}, "required"),
        ({"staging": {"status": "skipped", "reason": "no time"}}, "required"),
        ({"tests": {"status": "skipped"}}, "needs a reason"),
        ({"lint": {"status": "passed"}}, "unknown gate"),
    ],
)
def test_refused_answers(answers: dict[str, Any], message: str) -> None:
    with pytest.raises(GateProblem, match=message):
        evaluate(SEV1, answers, author="bob")


def test_deployable_and_follow_ups() -> None:
    answers = {
        "review": REVIEWED,
        "tests": {"status": "skipped", "reason": "no time during SEV1"},
        "staging": {"status": "passed", "by": "dave"},
    }
    results = evaluate(SEV1, answers, author="bob")
    assert deploy_blockers(results, "bob") == []
    items = follow_ups(results, "hf-1")
    assert [(i["gate"], i["type"], i["source"], i["hotfix"]) for i in items] == [
        ("tests", "prevent", "hotfix_gate", "hf-1"),
        ("security_scan", "detect", "hotfix_gate", "hf-1"),
        ("docs", "process", "hotfix_gate", "hf-1"),
    ]
    assert "no time during SEV1" in items[0]["title"]


def test_missing_rules_mean_required() -> None:
    with pytest.raises(GateProblem, match="required"):
        evaluate({}, {"docs": {"status": "skipped", "reason": "later"}}, author="bob")
