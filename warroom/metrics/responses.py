"""Response models of the metrics API (`warroom/metrics/api.py`); docs/metrics.md explains
each figure. Durations are seconds."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoDate, IsoTime, Number


class Figure(ApiModel):
    """One duration over the incidents: how many had it, and its mean, median and p90."""

    count: int
    mean: Number | None
    median: Number | None
    p90: Number | None
    excluded: int


class Figures(ApiModel):
    time_to_detect: Figure
    time_to_acknowledge: Figure
    time_to_mitigate: Figure
    time_to_resolve: Figure
    mttr: Figure


class TargetCompliance(ApiModel):
    met: int
    missed: int
    pending: int
    unknown: int
    not_set: int
    compliance: Number | None


class Sla(ApiModel):
    response: TargetCompliance
    resolution: TargetCompliance
    met: int
    missed: int
    compliance: Number | None


class UpdateCadence(ApiModel):
    intervals: int
    on_time: int
    compliance: Number | None
    promises_due: int
    promises_kept: int


class PostmortemCompletion(ApiModel):
    required: int
    required_published: int
    completion: Number | None
    recommended: int
    recommended_published: int
    overdue: int


class Cost(ApiModel):
    estimate: Number
    incidents_with_revenue: int


class Totals(ApiModel):
    incidents: int
    open: int
    resolved: int
    flagged: int
    flags: dict[str, int]
    figures: Figures
    sla: Sla
    update_cadence: UpdateCadence
    postmortems: PostmortemCompletion
    cost: Cost


class Group(Totals):
    key: str = Field(description="the severity, service or type of this group")


class Week(ApiModel):
    week: IsoDate
    incidents: int
    by_severity: dict[str, int]
    mttr_mean: Number | None
    mttr_median: Number | None
    mttr_p90: Number | None
    sla_met: int
    sla_missed: int
    sla_compliance: Number | None


class FlaggedIncident(ApiModel):
    id: str
    title: str
    severity: str
    flags: list[str]


class Flagged(ApiModel):
    total: int
    items: list[FlaggedIncident]


class IncidentFigures(ApiModel):
    id: str
    title: str
    severity: str
    type: str
    status: str
    services: list[str]
    declared_at: IsoTime
    time_to_detect: Number | None
    time_to_acknowledge: Number | None
    time_to_mitigate: Number | None
    time_to_resolve: Number | None
    mttr: Number | None
    sla_response: str
    sla_resolution: str
    sla_met: bool | None
    update_intervals: int
    updates_on_time: int
    postmortem: str
    postmortem_published: bool
    cost: Number | None
    flags: list[str]


class ActionItemTotals(ApiModel):
    available: bool
    total: int
    done: int
    overdue: int


class MetricsReport(ApiModel):
    since: IsoTime
    until: IsoTime
    generated_at: IsoTime
    by: str
    timezone: str
    mttr_from: str
    overall: Totals
    groups: list[Group]
    incidents_per_week: Number
    weekly: list[Week]
    flagged: Flagged
    incidents: list[IncidentFigures] | None = Field(
        default=None, description="per incident, with ?incidents=true"
    )
    action_items: ActionItemTotals


class Rebuilt(ApiModel):
    written: int
    incidents: int
    all: bool
