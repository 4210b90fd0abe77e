"""The per-incident metrics row, as pure functions of the incident's state and events.

The row (table `incident_metrics`) keeps what the report needs from the timeline so that a
report reads one row per incident instead of the events:
- `Extra`: the status updates, milestone corrections and backdated milestone events, each
  with its time (so the report can still leave out events before its margin);
- the facts folded from the events (milestones, reopen count, revenue, post-mortem status);
- for a settled incident, its figures under the policy's rules (`rules_key`).

Every value is computed from event times (`occurred_at`, and `recorded_at` for backdating),
never from row update times. Nothing here does I/O; `now` is never needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warroom.incidents.model import Event, IncidentState
from warroom.metrics import compute
from warroom.metrics.compute import IncidentFacts, ms
from warroom.policy.schema import Policy

MILESTONE_EVENTS = ("acknowledged", "status_changed", "resolved", "closed", "reopened")
UPDATE_EVENT = "status_update_published"
CORRECTION_EVENT = "milestone_corrected"
# The event types the row keeps (besides what the fold puts in the incident state).
EXTRA_EVENTS = (UPDATE_EVENT, CORRECTION_EVENT, *MILESTONE_EVENTS)


def promised_ms(value: Any) -> int | None:
    """`data.next_update_at` of a status update in epoch milliseconds (None when absent or
    not an ISO datetime; a datetime without an offset is UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return ms(parsed)


@dataclass(slots=True)
class Extra:
    """The events metrics read besides the fold, with their times (epoch milliseconds)."""

    updates: list[tuple[int, int, int | None]] = field(default_factory=list)  # at, seq, promised
    corrected: list[tuple[int, str]] = field(default_factory=list)  # at, milestone
    backdated: list[tuple[int, str]] = field(default_factory=list)  # at, event type

    def add(self, event: Event) -> None:
        """Take in one event (with `seq` and `recorded_at`, as stored)."""
        kind = event.type
        if kind == UPDATE_EVENT:
            at = ms(event.occurred_at)
            assert at is not None
            self.updates.append((at, event.seq or 0, promised_ms(event.data.get("next_update_at"))))
            self.updates.sort(key=_at_seq)
        elif kind == CORRECTION_EVENT:
            at = ms(event.occurred_at)
            assert at is not None
            self.corrected.append((at, str(event.data.get("milestone"))))
        elif kind in MILESTONE_EVENTS and event.recorded_at is not None:
            at, recorded = ms(event.occurred_at), ms(event.recorded_at)
            assert at is not None and recorded is not None
            if recorded - at > _TOLERANCE:
                self.backdated.append((at, kind))

    @property
    def earliest(self) -> int | None:
        times = [u[0] for u in self.updates[:1]]
        times += [c[0] for c in self.corrected] + [b[0] for b in self.backdated]
        return min(times) if times else None

    def to_text(self) -> str | None:
        if not (self.updates or self.corrected or self.backdated):
            return None
        data: dict[str, Any] = {}
        if self.updates:
            data["u"] = self.updates
        if self.corrected:  # sorted: the same text whatever order the events came in
            data["c"] = sorted(self.corrected)
        if self.backdated:
            data["b"] = sorted(self.backdated)
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_text(text: str | None) -> Extra:
        if not text:
            return Extra()
        data = json.loads(text)
        return Extra(
            [(int(a), int(s), None if p is None else int(p)) for a, s, p in data.get("u", ())],
            [(int(a), str(m)) for a, m in data.get("c", ())],
            [(int(a), str(k)) for a, k in data.get("b", ())],
        )

    @staticmethod
    def of(events: Iterable[Event]) -> Extra:
        extra = Extra()
        for event in events:
            extra.add(event)
        return extra


_TOLERANCE = round(compute.BACKDATE_TOLERANCE.total_seconds() * 1000)


def _at_seq(item: tuple[int, int, int | None]) -> tuple[int, int]:
    return item[0], item[1]


@dataclass(frozen=True, slots=True)
class Folded:
    """The facts the fold of the events puts in the incident state (epoch milliseconds)."""

    declared: int
    started: int | None
    detected: int | None
    acknowledged: int | None
    mitigated: int | None
    resolved: int | None
    reopen_count: int
    revenue_per_hour: float | None
    postmortem_status: str | None

    @staticmethod
    def of(state: IncidentState) -> Folded:
        declared = ms(state.declared_at)
        assert declared is not None
        revenue = state.impact.revenue_per_hour
        postmortem = state.postmortem or {}
        status = postmortem.get("status") if isinstance(postmortem, Mapping) else None
        return Folded(
            declared,
            ms(state.started_at),
            ms(state.detected_at),
            ms(state.acknowledged_at),
            ms(state.mitigated_at),
            ms(state.resolved_at),
            state.reopen_count or 0,
            None if revenue is None else float(revenue),
            None if status is None else str(status),
        )

    @property
    def settled(self) -> bool:
        """No figure depends on `now` (except the post-mortem due date, kept apart)."""
        return self.acknowledged is not None and self.resolved is not None


@dataclass(frozen=True, slots=True)
class Identity:
    """The incident projection's columns the report groups and lists by."""

    id: int
    public_id: str
    title: str
    severity: str
    type: str
    status: str
    services: tuple[str, ...]


def facts(who: Identity, folded: Folded, extra: Extra, cutoff: int | None) -> IncidentFacts:
    """The incident's facts, keeping only the events at or after `cutoff` (None: all)."""
    if cutoff is None:
        updates = extra.updates
        corrected = {m for _, m in extra.corrected}
        backdated = {k for _, k in extra.backdated}
    else:
        updates = [u for u in extra.updates if u[0] >= cutoff]
        corrected = {m for at, m in extra.corrected if at >= cutoff}
        backdated = {k for at, k in extra.backdated if at >= cutoff}
    return IncidentFacts(
        who.id,
        who.public_id,
        who.title,
        who.severity,
        who.type,
        who.status,
        who.services,
        folded.declared,
        folded.started,
        folded.detected,
        folded.acknowledged,
        folded.mitigated,
        folded.resolved,
        folded.reopen_count,
        folded.revenue_per_hour,
        folded.postmortem_status,
        tuple(sorted(corrected)),
        tuple(sorted(backdated)),
        tuple((at, promised) for at, _, promised in updates),
    )


def rules_key(policy: Policy, severity: str, mttr_from: str) -> str:
    """Names the rules a settled incident's figures were computed under."""
    rules = compute._rules(policy, severity)
    if rules is None:
        return f"{mttr_from}|-"
    return "|".join(
        str(v)
        for v in (
            mttr_from,
            rules.response,
            rules.resolution,
            rules.interval,
            rules.postmortem,
            rules.postmortem_due,
        )
    )


def row(
    who: Identity, version: int, folded: Folded, extra: Extra, policy: Policy, mttr_from: str
) -> dict[str, Any]:
    """The `incident_metrics` row of an incident at `version`."""
    values: dict[str, Any] = {
        "incident_id": who.id,
        "version": version,
        "severity": who.severity,
        "type": who.type,
        "status": who.status,
        "services": services_text(who.services),
        "declared": folded.declared,
        "started": folded.started,
        "detected": folded.detected,
        "acknowledged": folded.acknowledged,
        "mitigated": folded.mitigated,
        "resolved": folded.resolved,
        "reopen_count": folded.reopen_count,
        "revenue_per_hour": folded.revenue_per_hour,
        "postmortem_status": folded.postmortem_status,
        "extra": extra.to_text(),
        "earliest": extra.earliest,
        **dict.fromkeys(SETTLED_COLUMNS),
    }
    if folded.settled:
        rules = compute._rules(policy, who.severity)
        item = compute._measure(
            facts(who, folded, extra, None), rules, compute._origin(mttr_from), 0
        )
        values.update(settled_values(item, rules))
        values["rules"] = rules_key(policy, who.severity, mttr_from)
    return values


SETTLED_COLUMNS = (
    "rules",
    "time_to_detect",
    "time_to_acknowledge",
    "time_to_mitigate",
    "time_to_resolve",
    "mttr",
    "flags",
    "sla_response",
    "sla_resolution",
    "sla_met",
    "update_intervals",
    "updates_on_time",
    "promises_due",
    "promises_kept",
    "postmortem_rule",
    "postmortem_done",
    "postmortem_due",
    "cost",
)


def services_text(services: Iterable[str]) -> str:
    return json.dumps(list(services), separators=(",", ":"))


def settled_values(item: compute.Measured, rules: compute._Rules | None) -> dict[str, Any]:
    f = item.facts
    due = None
    if (
        rules is not None
        and rules.postmortem == "required"
        and not item.postmortem_done
        and f.resolved is not None
        and rules.postmortem_due is not None
    ):
        due = f.resolved + rules.postmortem_due
    return {
        "time_to_detect": item.phases[0],
        "time_to_acknowledge": item.phases[1],
        "time_to_mitigate": item.phases[2],
        "time_to_resolve": item.phases[3],
        "mttr": item.mttr,
        "flags": "\n".join(item.flags) or None,
        "sla_response": item.sla_response,
        "sla_resolution": item.sla_resolution,
        "sla_met": item.met,
        "update_intervals": item.cadence_intervals,
        "updates_on_time": item.cadence_on_time,
        "promises_due": item.promises_made,
        "promises_kept": item.promises_kept,
        "postmortem_rule": item.postmortem_rule,
        "postmortem_done": item.postmortem_done,
        "postmortem_due": due,
        "cost": item.cost,
    }
