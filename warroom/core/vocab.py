"""The shared vocabulary: incident statuses, types and roles.

The transitions between statuses are `warroom/incidents/lifecycle.py`; docs/cli.md shows them.
"""

from __future__ import annotations

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
