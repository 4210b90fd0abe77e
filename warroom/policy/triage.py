"""Triage: the assessment answers in, a proposed severity and type out, with the deciding rule."""

from __future__ import annotations

from dataclasses import dataclass, field

from warroom.core.vocab import IncidentType
from warroom.policy.schema import Policy, TriageAnswers

UNANSWERED = "unanswered"
NO_SEVERITY = (
    "severity: not proposed, every answer is unknown; answer at least one question "
    "or choose the severity yourself"
)


@dataclass(frozen=True)
class TriageProposal:
    """`severity` is None when every answer is unknown (rule `unanswered`): knowing nothing
    is no evidence of a small incident, so the lowest severity is never proposed for it."""

    severity: str | None
    type: IncidentType
    severity_rule: str
    type_rule: str
    reasons: list[str] = field(default_factory=list)


def all_unknown(answers: TriageAnswers) -> bool:
    return all(value is None for value in answers.model_dump().values())


def propose(policy: Policy, answers: TriageAnswers) -> TriageProposal:
    """The first matching rule decides each of severity and type; the fallbacks otherwise.
    With every answer unknown no severity is proposed (the type still falls back)."""
    reasons: list[str] = []
    severity = None
    severity_rule = ""
    unanswered = all_unknown(answers)
    if unanswered:
        severity_rule = UNANSWERED
        reasons.append(NO_SEVERITY)
    for rule in [] if unanswered else policy.triage.severity_rules:
        if rule.when.matches(answers):
            severity = policy.severity(rule.severity).id
            severity_rule = rule.id
            reasons.append(f"severity {severity}: rule '{rule.id}' ({rule.when.describe()})")
            break
    if severity is None and not unanswered:
        fallback = policy.triage.fallback_severity
        severity = policy.severity(fallback).id if fallback else policy.lowest().id
        severity_rule = "fallback"
        reasons.append(f"severity {severity}: no rule matched, the policy's fallback")
    incident_type = None
    type_rule = ""
    for trule in policy.triage.type_rules:
        if trule.when.matches(answers):
            incident_type = trule.type
            type_rule = trule.id
            reasons.append(
                f"type {incident_type.value}: rule '{trule.id}' ({trule.when.describe()})"
            )
            break
    if incident_type is None:
        incident_type = policy.triage.fallback_type
        type_rule = "fallback"
        reasons.append(f"type {incident_type.value}: no rule matched, the policy's fallback")
    return TriageProposal(severity, incident_type, severity_rule, type_rule, reasons)
