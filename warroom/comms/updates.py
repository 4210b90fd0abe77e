"""Structured status updates: the request shape and the pure parts (contexts, audiences).

An update carries status, impact, current action and the next update time. It renders into
an internal text, a public text (only from public wording: never notes, titles or summaries)
and, for the severities the policy names, an executive brief.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.comms.config import CommsConfig, StakeholderGroup
from warroom.core.clock import ensure_utc
from warroom.core.durations import format_duration, parse_duration
from warroom.core.errors import InvalidInput
from warroom.incidents.model import IncidentState
from warroom.policy import Policy

# The statuses of a public (Statuspage) incident.
PublicStatus = Literal["investigating", "identified", "monitoring", "resolved"]
# The statuses of a status update: the public ones plus `mitigating` (a fix is being applied),
# which the public status page shows as `identified` (Statuspage has no such status).
UpdateStatus = Literal["investigating", "identified", "mitigating", "monitoring", "resolved"]
STATUS_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "mitigating": "Mitigating",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}


def public_status(status: str) -> str:
    """The Statuspage status of a public incident for an update's status."""
    return "identified" if status == "mitigating" else status


ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
COMPONENT_STATUSES: tuple[str, ...] = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
IMPACTS = ("none", "minor", "major", "critical")
IMPACT_TO_COMPONENT = {
    "none": "operational",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}


class UpdateIn(BaseModel):
    """A status update as given by a person (CLI, API, web)."""

    model_config = ConfigDict(extra="forbid")

    status: UpdateStatus
    impact: str = Field(min_length=1, max_length=2000, description="Impact on users (internal)")
    action: str = Field(min_length=1, max_length=2000, description="What is being done")
    next: str | None = Field(
        default=None, description="Next update in (30m) or at (ISO); default: the policy cadence"
    )
    note: str = Field(default="", max_length=10000, description="Internal only, never public")
    cause: str | None = Field(default=None, max_length=2000, description="Known cause, if any")
    eta: str | None = Field(default=None, max_length=200)
    business_impact: str | None = Field(default=None, max_length=2000)
    public_impact: str | None = Field(
        default=None, max_length=2000, description="Public wording of the impact (else impact)"
    )
    public_action: str | None = Field(
        default=None, max_length=2000, description="Public wording of the action (else action)"
    )
    public_title: str | None = Field(default=None, max_length=300)
    public: bool | None = Field(default=None, description="Post to the status page (policy)")
    brief: bool | None = Field(default=None, description="Write an executive brief (policy)")
    notify: bool = Field(default=True, description="Send to the matching stakeholder groups")
    components: list[str] | None = Field(
        default=None, description="Status page components affected (default: by service)"
    )
    component_status: ComponentStatus | None = None

    @field_validator("impact", "action")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def next_update_at(
    text: str | None, status: str, interval: timedelta | None, now: datetime
) -> datetime | None:
    """The promised time: a duration from now, an ISO time, or the policy's cadence."""
    if status == "resolved":
        return None
    if text is None or not text.strip():
        return now + interval if interval else None
    value = text.strip()
    try:
        delta = parse_duration(value)
    except ValueError:
        delta = None
    if delta is None:
        try:
            moment = ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except (ValueError, OverflowError):
            raise InvalidInput(
                f"next update {value!r}: give a duration like 30m or an ISO time"
            ) from None
        if moment <= now:
            raise InvalidInput("the next update time must be in the future")
        return moment
    if delta <= timedelta(0):
        raise InvalidInput("the next update must be some time from now")
    if delta > timedelta(days=7):
        raise InvalidInput("the next update must be within a week")
    return now + delta


def clock_text(moment: datetime | None) -> str:
    if moment is None:
        return "none planned"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Audience:
    public: bool
    brief: bool
    groups: tuple[StakeholderGroup, ...]


def matching_groups(
    config: CommsConfig, policy: Policy, state: IncidentState, *, purpose: str
) -> tuple[StakeholderGroup, ...]:
    """Stakeholder groups whose severities and services match the incident."""
    severity = policy.severity(state.severity).id
    chosen = []
    for group in config.stakeholders:
        if purpose == "updates" and not group.updates:
            continue
        if purpose == "resolution" and not group.resolution:
            continue
        if group.severities and severity not in {policy.severity(s).id for s in group.severities}:
            continue
        if group.services and not set(group.services) & set(state.services):
            continue
        chosen.append(group)
    return tuple(chosen)


def audience(
    request: UpdateIn, config: CommsConfig, policy: Policy, state: IncidentState
) -> Audience:
    level = policy.severity(state.severity)
    public = level.public_update if request.public is None else request.public
    brief = level.executive_brief if request.brief is None else request.brief
    groups = matching_groups(config, policy, state, purpose="updates") if request.notify else ()
    return Audience(public=public, brief=brief, groups=groups)


def _affected(state: IncidentState) -> str:
    users = state.impact.users_affected
    return f"{users} users" if users else "an unknown number of users"


def _condition(state: IncidentState, policy: Policy) -> str:
    if state.type == "service_outage" and policy.rank(state.severity) == 1:
        return "down"
    return "degraded"


def _incident(state: IncidentState) -> dict[str, Any]:
    return {
        "id": state.public_id,
        "severity": state.severity,
        "title": state.title,
        "type": state.type,
    }


def eta_text(request: UpdateIn, policy: Policy) -> str:
    """The ETA shown in the texts: the one given, "investigating" when the process always shows
    one (`communications.eta_in_updates`), else empty (no ETA line)."""
    if request.eta and request.eta.strip():
        return request.eta.strip()
    if policy.communications.eta_in_updates and request.status != "resolved":
        return "investigating"
    return ""


def internal_context(
    request: UpdateIn,
    state: IncidentState,
    now: datetime,
    promised: datetime | None,
    eta: str = "",
) -> dict[str, Any]:
    return {
        "incident": _incident(state),
        "timestamp": clock_text(now),
        "services": ", ".join(state.services),
        "status": request.status,
        "status_label": STATUS_LABELS[request.status],
        "impact": request.impact,
        "action": request.action,
        "note": request.note,
        "cause": request.cause or "",
        "eta": eta or request.eta or "",
        "business_impact": request.business_impact or "",
        "next_update": clock_text(promised),
        "next_update_at": promised.isoformat() if promised else "",
    }


def public_context(
    request: UpdateIn,
    component_names: Sequence[str],
    now: datetime,
    promised: datetime | None,
    eta: str = "",
) -> dict[str, Any]:
    """Only public wording goes in: no note, title, summary, cause or internal ids."""
    return {
        "timestamp": clock_text(now),
        "components": ", ".join(component_names),
        "status": request.status,
        "status_label": STATUS_LABELS[request.status],
        "impact": request.public_impact or request.impact,
        "action": request.public_action or request.action,
        "eta": eta or request.eta or "",
        "next_update": clock_text(promised),
        "next_update_at": promised.isoformat() if promised else "",
    }


def brief_context(
    request: UpdateIn,
    state: IncidentState,
    policy: Policy,
    now: datetime,
    promised: datetime | None,
) -> dict[str, Any]:
    return {
        "incident": _incident(state),
        "timestamp": clock_text(now),
        "services": ", ".join(state.services),
        "condition": _condition(state, policy),
        "affected": _affected(state),
        "status": request.status,
        "status_label": STATUS_LABELS[request.status],
        "impact": request.impact,
        "action": request.action,
        "cause": request.cause or "",
        "eta": request.eta or "",
        "business_impact": request.business_impact or _business_impact(state),
        "next_update": clock_text(promised),
    }


def _business_impact(state: IncidentState) -> str:
    parts = []
    if state.impact.users_affected:
        parts.append(f"{state.impact.users_affected} users affected")
    if state.impact.revenue_per_hour:
        parts.append(f"about {state.impact.revenue_per_hour:,.0f} revenue at risk per hour")
    if state.impact.data_at_risk:
        parts.append("data at risk")
    return "; ".join(parts)


def impact_for(policy: Policy, state: IncidentState, by_rank: Sequence[str]) -> str:
    rank = policy.rank(state.severity)
    return by_rank[min(rank, len(by_rank)) - 1] if by_rank else "minor"


def duration_text(start: datetime, end: datetime) -> str:
    return format_duration(end - start)
