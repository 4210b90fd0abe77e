"""Request shapes shared by the service, the REST API and the CLI."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.clock import ensure_utc
from warroom.core.inputs import Moment
from warroom.core.vocab import IncidentType, Role, Status

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]{0,99}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _aware(value: datetime | None) -> datetime | None:
    return ensure_utc(value) if value is not None else None


class ImpactIn(Strict):
    users_affected: int | None = Field(default=None, ge=0)
    customer_facing: bool | None = None
    data_at_risk: bool | None = None
    revenue_per_hour: float | None = Field(default=None, ge=0)


class TriageIn(Strict):
    """The assessment questions; unanswered ones stay None."""

    complete_outage: bool | None = None
    data_loss: bool | None = None
    security_breach: bool | None = None
    users_affected_pct: float | None = Field(default=None, ge=0, le=100)
    workaround: bool | None = None
    customer_facing: bool | None = None
    data_at_risk: bool | None = None
    performance_only: bool | None = None
    third_party: bool | None = None
    recent_deploy: bool | None = None
    infrastructure: bool | None = None


def _check_services(services: list[str]) -> list[str]:
    cleaned: list[str] = []
    for service in services:
        if not _SLUG.match(service):
            raise ValueError(
                f"service {service!r} must be a lowercase slug (letters, digits, . _ -)"
            )
        if service not in cleaned:
            cleaned.append(service)
    return cleaned


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not _LABEL_KEY.match(key):
            raise ValueError(f"label name {key!r} is invalid")
    return labels


class DeclareIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    summary: str = Field(default="", max_length=20000)
    severity: str | None = Field(default=None, description="Severity id or alias from the policy")
    type: IncidentType | None = None
    services: list[str] = Field(default_factory=list, max_length=50)
    labels: dict[str, str] = Field(default_factory=dict)
    impact: ImpactIn = Field(default_factory=ImpactIn)
    started_at: Moment | None = None
    detected_at: Moment | None = None
    roles: dict[Role, str] = Field(default_factory=dict)
    triage: TriageIn | None = None
    override_reason: str | None = Field(default=None, max_length=2000)

    _services = field_validator("services")(_check_services)
    _labels = field_validator("labels")(_check_labels)
    _started = field_validator("started_at", "detected_at")(_aware)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must not be blank")
        return value.strip()


class DetailsIn(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    summary: str | None = Field(default=None, max_length=20000)
    services: list[str] | None = Field(default=None, max_length=50)
    labels: dict[str, str] | None = None
    impact: ImpactIn | None = None

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str] | None) -> list[str] | None:
        return _check_services(value) if value is not None else None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_labels(value) if value is not None else None


class StatusIn(Strict):
    status: Status
    reason: str | None = Field(default=None, max_length=2000)


class SeverityIn(Strict):
    severity: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=2000)


class TypeIn(Strict):
    type: IncidentType
    reason: str | None = Field(default=None, max_length=2000)


class RoleIn(Strict):
    role: Role
    person: str | None = Field(
        default=None, max_length=200, description="Who takes the role; null to unassign"
    )


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=20000)
    occurred_at: Moment | None = Field(default=None, description="Backdate the note")

    _occurred = field_validator("occurred_at")(_aware)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("note text must not be blank")
        return value


class ChecklistAnswer(Strict):
    confirmed: bool = False
    waived: str | None = Field(default=None, max_length=2000, description="Reason for waiving")


class ResolveIn(Strict):
    summary: str = Field(default="", max_length=20000)
    root_cause: str = Field(
        default="", max_length=4000, description="What caused it (required by some policies)"
    )
    permanent_fix: str = Field(
        default="",
        max_length=4000,
        description="The permanent fix deployed (required by some policies)",
    )
    checklist: dict[str, ChecklistAnswer] = Field(default_factory=dict)
    waive_verification: str | None = Field(
        default=None,
        max_length=2000,
        description="Reason to resolve before the monitoring window passed (policy roles only)",
    )


class StopAckIn(Strict):
    decision: str = Field(min_length=1, max_length=4000, description="What was decided")

    @field_validator("decision")
    @classmethod
    def _decision(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the decision must not be blank")
        return value


class ReasonIn(Strict):
    reason: str = Field(default="", max_length=2000)


class PostmortemScheduleIn(Strict):
    owner: str = Field(min_length=1, max_length=200)
    due_at: datetime
    # Moving a due date already set needs a reason (recorded on the timeline).
    reason: str | None = Field(default=None, max_length=2000)

    _due = field_validator("due_at")(_aware)


class TriageRecordIn(Strict):
    answers: TriageIn
    severity: str | None = None
    type: IncidentType | None = None
    override_reason: str | None = Field(default=None, max_length=2000)


class MilestoneIn(Strict):
    milestone: str = Field(description="started_at, detected_at, acknowledged_at or mitigated_at")
    at: datetime
    reason: str = Field(min_length=1, max_length=2000)

    _at = field_validator("at")(_aware)


class FlagIn(Strict):
    flag: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    value: bool = True
    reason: str | None = Field(default=None, max_length=2000)


class ListFilter(Strict):
    status: list[Status] = Field(default_factory=list)
    severity: list[str] = Field(default_factory=list)
    service: str | None = None
    open: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=1000)
    before_id: int | None = Field(
        default=None, description="Cursor: only incidents older than this"
    )
