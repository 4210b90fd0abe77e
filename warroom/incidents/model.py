"""Incident state as a pure fold over its timeline events.

Events are immutable facts. `apply(state, event)` is the only way state changes, and
`fold(events)` replays a whole timeline. Nothing here reads the clock or touches storage.
Event types that carry no state (notes, notifications, ...) pass through unchanged, so other
packages can add timeline entries without touching the fold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from warroom.core.clock import ensure_utc
from warroom.core.vocab import Status


@dataclass(frozen=True)
class Event:
    """One immutable timeline entry."""

    type: str
    actor: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    recorded_at: datetime | None = None
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "actor": self.actor,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Impact:
    users_affected: int | None = None
    customer_facing: bool | None = None
    data_at_risk: bool | None = None
    revenue_per_hour: float | None = None

    def merged(self, changes: Mapping[str, Any]) -> Impact:
        known = {k: v for k, v in changes.items() if k in Impact.__dataclass_fields__}
        return replace(self, **known)


MILESTONES = (
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
)


@dataclass(frozen=True)
class IncidentState:
    """Everything known about an incident, derived from its events."""

    public_id: str
    title: str
    summary: str
    severity: str
    type: str
    status: Status
    services: tuple[str, ...]
    labels: Mapping[str, str]
    impact: Impact
    declared_at: datetime
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    resolution_summary: str | None = None
    # Given at resolve (required where the policy's resolve_requires_root_cause is on).
    root_cause: str | None = None
    permanent_fix: str | None = None
    resolution_checklist: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    postmortem: Mapping[str, Any] | None = None
    reopen_count: int = 0
    flags: Mapping[str, bool] = field(default_factory=dict)
    # Why each flag has its current value (the reason of its latest `flag_set`).
    flag_reasons: Mapping[str, str] = field(default_factory=dict)
    # MUST STOP rules raised and not yet acknowledged: rule id -> {text, reason, raised_at}.
    stops: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    triage: Mapping[str, Any] | None = None
    source: str = "manual"
    last_update_at: datetime | None = None
    # The promised time of the next status update (set by a published update).
    next_update_at: datetime | None = None
    event_count: int = 0
    last_event_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def stopped(self) -> bool:
        """A MUST STOP rule is raised and no person has acknowledged it with a decision."""
        return bool(self.stops)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self._fields())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """`to_dict()` as JSON text, in one pass (the incident's row keeps it, rewritten with
        every event appended)."""
        return json.dumps(self._fields(), default=_json_default)

    def _fields(self) -> dict[str, Any]:
        # Field by field rather than dataclasses.asdict (which deep-copies every value first):
        # the containers are rebuilt, or written out, anyway.
        data = {name: getattr(self, name) for name in _STATE_FIELDS}
        data["status"] = self.status.value
        data["impact"] = asdict(self.impact)
        return data

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> IncidentState:
        values = dict(data)
        for key in (
            "declared_at",
            "last_update_at",
            "next_update_at",
            "last_event_at",
            *MILESTONES,
        ):
            if values.get(key) is not None:
                values[key] = ensure_utc(datetime.fromisoformat(values[key]))
        values["status"] = Status(values["status"])
        values["services"] = tuple(values.get("services", ()))
        values["impact"] = Impact(**values.get("impact", {}))
        return IncidentState(**values)


_STATE_FIELDS = tuple(f.name for f in fields(IncidentState))


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # most values: no isinstance checks (Mapping's is slow)
        return value
    if kind is dict:
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    """What `json.dumps` cannot write itself, as `_jsonable` would give it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return ensure_utc(value)
    return ensure_utc(datetime.fromisoformat(str(value)))


Handler = Callable[[IncidentState, Event], IncidentState]


def _acknowledged(state: IncidentState, event: Event) -> IncidentState:
    return replace(
        state,
        status=Status.ACKNOWLEDGED,
        acknowledged_at=state.acknowledged_at or event.occurred_at,
    )


def _status_changed(state: IncidentState, event: Event) -> IncidentState:
    target = Status(event.data["to"])
    mitigated_at = state.mitigated_at
    if target is Status.MONITORING and mitigated_at is None:
        mitigated_at = event.occurred_at
    acknowledged_at = state.acknowledged_at
    if acknowledged_at is None and target is not Status.TRIGGERED:
        # Working on an incident is acknowledging it.
        acknowledged_at = event.occurred_at
    return replace(state, status=target, mitigated_at=mitigated_at, acknowledged_at=acknowledged_at)


def _severity_changed(state: IncidentState, event: Event) -> IncidentState:
    return replace(state, severity=str(event.data["to"]))


def _type_changed(state: IncidentState, event: Event) -> IncidentState:
    return replace(state, type=str(event.data["to"]))


def _role_assigned(state: IncidentState, event: Event) -> IncidentState:
    roles = dict(state.roles)
    person = event.data.get("person")
    if person:
        roles[str(event.data["role"])] = str(person)
    else:
        roles.pop(str(event.data["role"]), None)
    return replace(state, roles=roles)


def _details_updated(state: IncidentState, event: Event) -> IncidentState:
    data = event.data
    return replace(
        state,
        title=str(data.get("title", state.title)),
        summary=str(data.get("summary", state.summary)),
        services=tuple(data.get("services", state.services)),
        labels=dict(data.get("labels", state.labels)),
        impact=state.impact.merged(data.get("impact", {})),
    )


def _milestone_corrected(state: IncidentState, event: Event) -> IncidentState:
    milestone = str(event.data["milestone"])
    at = event.data.get("at")
    changes: dict[str, Any] = {milestone: _dt(at) if at is not None else None}
    return replace(state, **changes)


def _triaged(state: IncidentState, event: Event) -> IncidentState:
    data = dict(event.data)
    return replace(
        state,
        triage=data,
        severity=str(data.get("severity", state.severity)),
        type=str(data.get("type", state.type)),
    )


def _resolved(state: IncidentState, event: Event) -> IncidentState:
    return replace(
        state,
        status=Status.RESOLVED,
        resolved_at=event.occurred_at,
        resolution_summary=str(event.data.get("summary", "")),
        root_cause=str(event.data.get("root_cause") or "") or None,
        permanent_fix=str(event.data.get("permanent_fix") or "") or None,
        resolution_checklist=dict(event.data.get("checklist", {})),
        acknowledged_at=state.acknowledged_at or event.occurred_at,
    )


def _closed(state: IncidentState, event: Event) -> IncidentState:
    return replace(state, status=Status.CLOSED, closed_at=event.occurred_at)


def _reopened(state: IncidentState, event: Event) -> IncidentState:
    return replace(
        state,
        status=Status.REOPENED,
        resolved_at=None,
        closed_at=None,
        reopen_count=state.reopen_count + 1,
    )


def _postmortem_scheduled(state: IncidentState, event: Event) -> IncidentState:
    postmortem = dict(state.postmortem or {})
    postmortem.update(
        status=postmortem.get("status") if postmortem.get("status") == "published" else "scheduled",
        owner=event.data.get("owner"),
        due_at=event.data.get("due_at"),
    )
    return replace(state, postmortem=postmortem)


def _postmortem_published(state: IncidentState, event: Event) -> IncidentState:
    postmortem = dict(state.postmortem or {})
    postmortem.update(status="published", published_at=event.occurred_at.isoformat())
    return replace(state, postmortem=postmortem)


def _flag_set(state: IncidentState, event: Event) -> IncidentState:
    name = str(event.data["flag"])
    flags = dict(state.flags)
    flags[name] = bool(event.data.get("value", True))
    reasons = dict(state.flag_reasons)
    reasons[name] = str(event.data.get("reason") or "")
    return replace(state, flags=flags, flag_reasons=reasons)


def _mitigation_applied(state: IncidentState, event: Event) -> IncidentState:
    # A mitigation that worked is the mitigated milestone (MTTM), whatever the status says.
    if event.data.get("outcome") != "succeeded" or state.mitigated_at is not None:
        return state
    return replace(state, mitigated_at=event.occurred_at)


def _stop_raised(state: IncidentState, event: Event) -> IncidentState:
    stops = dict(state.stops)
    stops[str(event.data["rule"])] = {
        "text": str(event.data.get("text", "")),
        "reason": str(event.data.get("reason", "")),
        "raised_at": event.occurred_at.isoformat(),
    }
    return replace(state, stops=stops)


def _stop_acknowledged(state: IncidentState, event: Event) -> IncidentState:
    stops = dict(state.stops)
    stops.pop(str(event.data["rule"]), None)
    return replace(state, stops=stops)


def _status_update_published(state: IncidentState, event: Event) -> IncidentState:
    promised = event.data.get("next_update_at")
    return replace(
        state,
        last_update_at=event.occurred_at,
        next_update_at=_dt(promised) if promised else None,
    )


HANDLERS: dict[str, Handler] = {
    "acknowledged": _acknowledged,
    "status_changed": _status_changed,
    "severity_changed": _severity_changed,
    "type_changed": _type_changed,
    "role_assigned": _role_assigned,
    "details_updated": _details_updated,
    "milestone_corrected": _milestone_corrected,
    "triaged": _triaged,
    "resolved": _resolved,
    "closed": _closed,
    "reopened": _reopened,
    "postmortem_scheduled": _postmortem_scheduled,
    "postmortem_published": _postmortem_published,
    "flag_set": _flag_set,
    "mitigation_applied": _mitigation_applied,
    "stop_raised": _stop_raised,
    "stop_acknowledged": _stop_acknowledged,
    "status_update_published": _status_update_published,
}


def initial_state(event: Event) -> IncidentState:
    """State right after the `declared` event."""
    if event.type != "declared":
        raise ValueError("a timeline must start with a 'declared' event")
    data = event.data
    detected_at = _dt(data.get("detected_at") or event.occurred_at)
    started_at = _dt(data.get("started_at") or detected_at)
    return IncidentState(
        public_id=str(data["public_id"]),
        title=str(data["title"]),
        summary=str(data.get("summary", "")),
        severity=str(data["severity"]),
        type=str(data["type"]),
        status=Status.TRIGGERED,
        services=tuple(data.get("services", ())),
        labels=dict(data.get("labels", {})),
        impact=Impact().merged(data.get("impact", {})),
        declared_at=event.occurred_at,
        started_at=started_at,
        detected_at=detected_at,
        roles=dict(data.get("roles", {})),
        source=str(data.get("source", "manual")),
        event_count=1,
        last_event_at=event.occurred_at,
    )


def apply(state: IncidentState, event: Event) -> IncidentState:
    """The state after one more event."""
    handler = HANDLERS.get(event.type)
    new_state = handler(state, event) if handler else state
    last = event.occurred_at
    if new_state.last_event_at is not None and new_state.last_event_at > last:
        last = new_state.last_event_at
    return replace(new_state, event_count=state.event_count + 1, last_event_at=last)


def fold(events: Iterable[Event]) -> IncidentState:
    """Replay a whole timeline (first event must be `declared`)."""
    iterator = iter(events)
    try:
        first = next(iterator)
    except StopIteration:
        raise ValueError("cannot fold an empty timeline") from None
    state = initial_state(first)
    for event in iterator:
        state = apply(state, event)
    return state
