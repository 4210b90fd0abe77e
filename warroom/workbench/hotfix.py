"""The hotfix protocol (pure): quality gates per severity and the deploy guard.

Gate rules come from the policy (`hotfix_gates` per severity): `required` must pass before
deploy; `may_skip` may be skipped with a reason; `after` is done after deploy (recorded as
skipped-for-now); `skip` is not needed. Every skipped gate becomes a follow-up action item.
A hotfix is never deployed without a review by someone other than its author.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from warroom.policy.schema import GATES

GATE_TITLES = {
    "review": "Code review of the hotfix",
    "tests": "Add or run the tests the hotfix skipped",
    "staging": "Test the hotfix in staging",
    "security_scan": "Security scan of the hotfix",
    "docs": "Document the hotfix",
}
GATE_ACTION_TYPE = {
    "review": "process",
    "tests": "prevent",
    "staging": "prevent",
    "security_scan": "detect",
    "docs": "process",
}


@dataclass(frozen=True)
class GateResult:
    gate: str
    rule: str  # required | may_skip | after | skip
    status: str  # passed | skipped | pending
    reason: str = ""
    by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "rule": self.rule,
            "status": self.status,
            "reason": self.reason,
            "by": self.by,
        }


class GateProblem(ValueError):
    """A gate answer the rules do not allow."""


def evaluate(
    rules: Mapping[str, str],
    answers: Mapping[str, Mapping[str, Any]],
    *,
    author: str,
) -> list[GateResult]:
    """Each gate's result from the responder's answers; raise GateProblem for a bad answer.

    An answer is `{"status": "passed"|"skipped", "reason": ..., "by": ...}`. Unanswered gates
    are pending (`required`/`may_skip`), or skipped by rule (`after`, `skip`).
    """
    unknown = sorted(set(answers) - set(GATES))
    if unknown:
        raise GateProblem(f"unknown gate(s) {', '.join(unknown)}; gates are {', '.join(GATES)}")
    results: list[GateResult] = []
    for gate in GATES:
        rule = rules.get(gate, "required")
        answer = answers.get(gate)
        if answer is None:
            if rule == "after":
                results.append(GateResult(gate, rule, "skipped", "policy: done after deploy"))
            elif rule == "skip":
                results.append(GateResult(gate, rule, "skipped", "policy: not needed"))
            else:
                results.append(GateResult(gate, rule, "pending"))
            continue
        status = str(answer.get("status", ""))
        reason = str(answer.get("reason") or "").strip()
        by = str(answer.get("by") or "").strip()
        if status not in ("passed", "skipped"):
            raise GateProblem(f"gate {gate}: status must be passed or skipped")
        if status == "skipped":
            if rule == "required":
                raise GateProblem(
                    f"gate {gate} is required for this severity; it cannot be skipped"
                )
            if not reason:
                raise GateProblem(f"skipping gate {gate} needs a reason")
        if gate == "review" and status == "passed":
            if not by:
                raise GateProblem("a passed review must name its reviewer (by)")
            if by.casefold() == author.strip().casefold():
                raise GateProblem("the review must be by someone other than the hotfix's author")
        results.append(GateResult(gate, rule, status, reason, by))
    return results


def deploy_blockers(
    results: list[GateResult], author: str, *, review_may_skip: bool = False
) -> list[str]:
    """Why a hotfix may not be deployed yet (empty when it may). `review_may_skip` only with
    the policy's safety option (hotfix.skip_review_if_sev1)."""
    blockers: list[str] = []
    for result in results:
        if result.gate == "review":
            if review_may_skip and result.status == "skipped" and result.reason:
                continue
            if result.status != "passed" or not result.by:
                blockers.append("no review by someone other than the author")
            elif result.by.casefold() == author.casefold():
                blockers.append("the review was by the author")
        elif result.status == "pending":
            blockers.append(f"gate {result.gate} ({result.rule}) is neither passed nor skipped")
    return blockers


def follow_ups(results: list[GateResult], hotfix: str) -> list[dict[str, Any]]:
    """The follow-up action items for skipped gates (`follow_up_required` event data)."""
    items: list[dict[str, Any]] = []
    for result in results:
        if result.status != "skipped":
            continue
        items.append(
            {
                "title": f"{GATE_TITLES[result.gate]} ({hotfix})"
                + (f": skipped because {result.reason}" if result.reason else ""),
                "type": GATE_ACTION_TYPE[result.gate],
                "source": "hotfix_gate",
                "gate": result.gate,
                "hotfix": hotfix,
            }
        )
    return items
