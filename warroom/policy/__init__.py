"""The incident policy: schema, built-in presets, validation and triage."""

from warroom.policy.schema import (
    ChecklistItem,
    Policy,
    SeverityLevel,
    Target,
    TriageAnswers,
    duration_text,
)

__all__ = [
    "ChecklistItem",
    "Policy",
    "SeverityLevel",
    "Target",
    "TriageAnswers",
    "duration_text",
]
