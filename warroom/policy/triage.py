"""Triage: the assessment answers in, a proposed severity and type out, with the deciding rule."""

from __future__ import annotations

from dataclasses import dataclass, field

from warroom.core.vocab import IncidentType
from warroom.policy.schema import Policy, TriageAnswers


@dataclass(frozen=True)
class TriageProposal:
    severity: str
    type: IncidentType
    severity_rule: str
    type_rule: str
    reasons: list[str] = field(default_factory=list)


def propose(policy: Policy, answers: TriageAnswers) -> TriageProposal:
    """The first matching rule decides each of severity and type; the fallbacks otherwise."""
    reasons: list[str] = []
    severity = None
    severity_rule = ""
    for rule in policy.triage.severity_rules:
        if rule.when.matches(answers):
            severity = policy.severity(rule.severity).id
            severity_rule = rule.id
            reasons.append(f"severity {severity}: rule '{rule.id}' ({rule.when.describe()})")
            break
    if severity is None:
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
