"""Response models of the incident API (`warroom/incidents/api.py`)."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime, JsonObject, Number


class IncidentSummary(ApiModel):
    """One row of the incident list."""

    id: str = Field(examples=["INC-20261123-001"])
    title: str
    severity: str
    type: str
    status: str
    services: list[str]
    declared_at: IsoTime
    started_at: IsoTime
    acknowledged_at: IsoTime | None
    resolved_at: IsoTime | None
    updated_at: IsoTime
    commander: str | None


class IncidentList(ApiModel):
    items: list[IncidentSummary]
    next_cursor: int | None = Field(
        description="the cursor of the next page (also in the Link header); null on the last"
    )


class Impact(ApiModel):
    users_affected: int | None = None
    customer_facing: bool | None = None
    data_at_risk: bool | None = None
    revenue_per_hour: Number | None = None


class IncidentTarget(ApiModel):
    """A response or resolution target of the severity; no due time when it has none."""

    label: str
    due_at: IsoTime | None = None
    met: bool | None = None
    overdue: bool | None = None


class Targets(ApiModel):
    response: IncidentTarget
    resolution: IncidentTarget


class Monitoring(ApiModel):
    """The verification window before resolve (when the policy requires one)."""

    window_seconds: Number
    ends_at: IsoTime | None
    passed: bool
    resolve_allowed: bool


class IncidentPostmortem(ApiModel):
    status: str
    owner: str | None = None
    due_at: IsoTime | None = None
    published_at: IsoTime | None = None


class Incident(ApiModel):
    """An incident: its folded state plus what the policy says about it right now."""

    id: str = Field(examples=["INC-20261123-001"])
    title: str
    summary: str
    severity: str
    type: str
    status: str
    services: list[str]
    labels: dict[str, str]
    impact: Impact
    declared_at: IsoTime
    started_at: IsoTime
    detected_at: IsoTime
    acknowledged_at: IsoTime | None
    mitigated_at: IsoTime | None
    resolved_at: IsoTime | None
    closed_at: IsoTime | None
    roles: dict[str, str] = Field(description="role -> person")
    resolution_summary: str | None
    resolution_checklist: dict[str, JsonObject] = Field(
        description="item -> {confirmed: true} or {waived: reason}"
    )
    postmortem: IncidentPostmortem | None
    reopen_count: int
    flags: dict[str, bool]
    flag_reasons: dict[str, str]
    stops: dict[str, JsonObject] = Field(
        description="raised MUST STOP rules not yet acknowledged: rule -> {text, reason, ...}"
    )
    triage: JsonObject | None
    source: str
    last_update_at: IsoTime | None
    next_update_at: IsoTime | None
    event_count: int
    last_event_at: IsoTime | None
    extra: JsonObject
    roles_missing: list[str]
    allowed_moves: list[str]
    severity_name: str
    targets: Targets
    stopped: bool
    monitoring: Monitoring | None = None
    next_update_due_at: IsoTime | None


class Event(ApiModel):
    seq: int
    type: str
    actor: str
    occurred_at: IsoTime
    recorded_at: IsoTime | None
    data: JsonObject


class Timeline(ApiModel):
    id: str
    events: list[Event]


class TriageProposal(ApiModel):
    severity: str | None  # None when every answer is unknown (nothing to propose from)
    type: str
    severity_rule: str
    type_rule: str
    reasons: list[str]
