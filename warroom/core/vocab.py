"""The shared vocabulary: incident statuses, types and roles.

The transitions between statuses are `warroom/incidents/lifecycle.py`; docs/cli.md shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"

    @property
    def is_open(self) -> bool:
        return self not in (Status.RESOLVED, Status.CLOSED)

    @property
    def awaiting_ack(self) -> bool:
        """Nobody has acknowledged it yet (new, or back after a reopen): pages keep going."""
        return self in (Status.TRIGGERED, Status.REOPENED)


class IncidentType(StrEnum):
    """The seven incident types of the process documents."""

    SERVICE_OUTAGE = "service_outage"
    PERFORMANCE_DEGRADATION = "performance_degradation"
    SECURITY_INCIDENT = "security_incident"
    DATA_LOSS = "data_loss"
    THIRD_PARTY_FAILURE = "third_party_failure"
    INFRASTRUCTURE_FAILURE = "infrastructure_failure"
    DEPLOYMENT_RELATED = "deployment_related"


class Role(StrEnum):
    COMMANDER = "commander"
    DEPLOYER = "deployer"
    INVESTIGATOR = "investigator"
    COMMUNICATIONS_LEAD = "communications_lead"
    EXECUTIVE_LIAISON = "executive_liaison"
    VERIFIER = "verifier"
    SCRIBE = "scribe"


ROLE_TITLES: dict[Role, str] = {
    Role.COMMANDER: "Incident commander",
    Role.DEPLOYER: "Deployer (rollback/deploy)",
    Role.INVESTIGATOR: "Investigator",
    Role.COMMUNICATIONS_LEAD: "Communications lead",
    Role.EXECUTIVE_LIAISON: "Executive liaison",
    Role.VERIFIER: "Verifier",
    Role.SCRIBE: "Scribe",
}

TYPE_TITLES: dict[IncidentType, str] = {
    IncidentType.SERVICE_OUTAGE: "Service outage",
    IncidentType.PERFORMANCE_DEGRADATION: "Performance degradation",
    IncidentType.SECURITY_INCIDENT: "Security incident",
    IncidentType.DATA_LOSS: "Data loss/corruption",
    IncidentType.THIRD_PARTY_FAILURE: "Third-party dependency failure",
    IncidentType.INFRASTRUCTURE_FAILURE: "Infrastructure failure",
    IncidentType.DEPLOYMENT_RELATED: "Deployment-related",
}


@dataclass(frozen=True)
class TriageQuestion:
    """One yes/no assessment question: its answer key, its wording, its CLI flags."""

    key: str
    text: str
    yes_flag: str
    no_flag: str


# The assessment questions, asked the same way by the CLI, the web form and the agent tool;
# the policy's triage rules match their answers (plus `users_affected_pct`, a share).
TRIAGE_QUESTIONS: tuple[TriageQuestion, ...] = (
    TriageQuestion(
        "complete_outage",
        "Is the service completely down?",
        "--complete-outage",
        "--no-complete-outage",
    ),
    TriageQuestion(
        "data_loss", "Has data been lost or corrupted?", "--data-loss", "--no-data-loss"
    ),
    TriageQuestion(
        "security_breach", "Is this a security breach?", "--security-breach", "--no-security-breach"
    ),
    TriageQuestion(
        "workaround", "Is there a workaround for users?", "--workaround", "--no-workaround"
    ),
    TriageQuestion("customer_facing", "Are customers affected?", "--customer-facing", "--internal"),
    TriageQuestion("data_at_risk", "Is data at risk?", "--data-at-risk", "--no-data-at-risk"),
    TriageQuestion(
        "performance_only",
        "Is it only slowness (no errors)?",
        "--performance-only",
        "--not-performance-only",
    ),
    TriageQuestion(
        "third_party", "Is a third-party provider failing?", "--third-party", "--no-third-party"
    ),
    TriageQuestion(
        "recent_deploy",
        "Did a deploy happen shortly before?",
        "--recent-deploy",
        "--no-recent-deploy",
    ),
    TriageQuestion(
        "infrastructure",
        "Is infrastructure (network, hosts, cloud) failing?",
        "--infrastructure",
        "--no-infrastructure",
    ),
)
TRIAGE_KEYS: tuple[str, ...] = tuple(q.key for q in TRIAGE_QUESTIONS)
