"""Mitigation suggestions (pure): the process's decision tree as data, and exhaustion.

Tree (seeds): recent deploy -> rollback (with the service's rollback command); service stuck
-> restart; zone/region failure -> failover; capacity exhausted -> scale; attack or abuse ->
block traffic; one feature broken -> feature flag; none of these -> hotfix. Every suggestion
says why. Mitigations tried are `mitigation_applied` events; the latest outcome per action
counts. When every suggested option has been tried and failed, mitigation is exhausted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SIGNALS = ("recent_deploy", "stuck", "zone_failure", "capacity", "attack", "feature_broken")


# Incident types that are evidence for a signal of the same meaning.
TYPE_SIGNALS = {
    "deployment_related": "recent_deploy",
    "infrastructure_failure": "infrastructure",
    "third_party_failure": "third_party",
}


@dataclass(frozen=True)
class Rule:
    signal: str
    action: str
    why: str
    # False for a last resort that does not count when deciding every option is exhausted.
    exhausts: bool = True


DECISION_TREE: tuple[Rule, ...] = (
    Rule("recent_deploy", "rollback", "a recent deploy may have caused it: roll it back"),
    Rule("stuck", "restart", "the service is stuck: restart it"),
    Rule("zone_failure", "failover", "a zone or region is failing: fail over"),
    Rule("capacity", "scale", "capacity is exhausted: scale out or up"),
    Rule("attack", "block_traffic", "attack or abuse: block the offending traffic"),
    Rule("feature_broken", "feature_flag", "one feature is broken: turn it off with its flag"),
)
FALLBACK = Rule("", "hotfix", "no faster mitigation applies: ship a minimal hotfix")


@dataclass(frozen=True)
class Signals:
    """What is known about the incident, with the evidence for each signal."""

    present: Mapping[str, str]  # signal -> evidence text


@dataclass(frozen=True)
class Suggestion:
    action: str
    why: str
    command: str | None = None
    outcome: str | None = None  # latest outcome if tried: succeeded | failed | pending
    exhausts: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "why": self.why,
            "command": self.command,
            "outcome": self.outcome,
        }


def tree_from_policy(rules: Sequence[Any]) -> tuple[Rule, ...]:
    """The policy's tree (`mitigation_tree`), or the built-in one when the policy has none."""
    if not rules:
        return DECISION_TREE
    return tuple(
        Rule(r.signal, r.action, r.why or f"{r.signal}: {r.action}", r.exhausts) for r in rules
    )


def derive_signals(
    *,
    incident_type: str,
    flags: Mapping[str, bool],
    triage_answers: Mapping[str, Any],
    correlations: Sequence[Mapping[str, Any]],
    explicit: Iterable[str] = (),
    tree: Sequence[Rule] = DECISION_TREE,
) -> Signals:
    """Signals from the incident's type, triage answers, flags, correlated deploys and what
    the responder states explicitly."""
    present: dict[str, str] = {}
    deploys = [c for c in correlations if c.get("kind") == "deploy"]
    if deploys:
        present["recent_deploy"] = str(deploys[0].get("reason", "a correlated deploy"))
    elif triage_answers.get("recent_deploy"):
        present["recent_deploy"] = "triage: a recent deploy"
    elif incident_type == "deployment_related":
        present["recent_deploy"] = "the incident is deployment-related"
    if incident_type == "security_incident" or triage_answers.get("security_breach"):
        present.setdefault("attack", "security incident")
    if incident_type in TYPE_SIGNALS:
        present.setdefault(TYPE_SIGNALS[incident_type], f"the incident type is {incident_type}")
    for signal in dict.fromkeys([*SIGNALS, *(rule.signal for rule in tree)]):
        if signal == "always":
            present.setdefault(signal, "an option whatever the cause")
        elif flags.get(signal):
            present.setdefault(signal, f"flag {signal} is set")
        elif triage_answers.get(signal) is True:
            present.setdefault(signal, f"triage: {signal.replace('_', ' ')}")
    for signal in explicit:
        present.setdefault(signal, "stated by a responder")
    return Signals(present)


def latest_outcomes(mitigations: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The latest outcome per action from `mitigation_applied` event data, in order."""
    outcomes: dict[str, str] = {}
    for data in mitigations:
        action = data.get("action")
        if action:
            outcomes[str(action)] = str(data.get("outcome", "pending"))
    return outcomes


def suggest(
    signals: Signals,
    *,
    rollback_command: str | None = None,
    tried: Mapping[str, str] | None = None,
    tree: Sequence[Rule] = DECISION_TREE,
) -> list[Suggestion]:
    """The tree's suggestions in order, each with its reason and any outcome so far."""
    tried = tried or {}
    chosen: list[Suggestion] = []
    for rule in tree:
        evidence = signals.present.get(rule.signal)
        if evidence is None:
            continue
        if any(s.action == rule.action for s in chosen):
            continue
        command = rollback_command if rule.action == "rollback" else None
        why = f"{rule.why} ({evidence})"
        if rule.action == "rollback" and not rollback_command:
            why += "; the service has no rollback command in the catalog"
        chosen.append(Suggestion(rule.action, why, command, tried.get(rule.action), rule.exhausts))
    if not chosen:
        chosen.append(Suggestion(FALLBACK.action, FALLBACK.why, None, tried.get("hotfix")))
    return chosen


def exhausted(suggestions: Sequence[Suggestion], tried: Mapping[str, str]) -> bool:
    """Every suggested option was tried and failed, and nothing tried succeeded."""
    if not suggestions or "succeeded" in tried.values():
        return False
    counted = [s for s in suggestions if s.exhausts] or list(suggestions)
    return all(s.outcome == "failed" for s in counted)


def next_option(suggestions: Sequence[Suggestion]) -> Suggestion | None:
    """The first suggested option not tried yet, in the tree's order."""
    return next((s for s in suggestions if s.outcome is None), None)
