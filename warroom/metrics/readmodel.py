"""The per-incident metrics row, as pure functions of the incident's state and events.

The row (table `incident_metrics`) keeps what the report needs from the timeline so that a
report reads one row per incident instead of the events:
- `Extra`: the status updates, milestone corrections and backdated milestone events, each
  with its time (so the report can still leave out events before its margin);
- the facts folded from the events (milestones, reopen count, revenue, post-mortem status);
- its figures under the policy's rules (`rules_key`), with what depends on `now` kept as
  due times the report compares with now (see `figures`).

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
    """Names the rules an incident's stored figures were computed under."""
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


FIGURE_COLUMNS = (
    "rules",
    "time_to_detect",
    "time_to_acknowledge",
    "time_to_mitigate",
    "time_to_resolve",
    "mttr",
    "flags",
    "sla_response",
    "response_due",
    "sla_resolution",
    "resolution_due",
    "update_intervals",
    "updates_on_time",
    "cadence_interval",
    "cadence_last",
    "promises_due",
    "promises_kept",
    "last_promise",
    "last_update",
    "postmortem_rule",
    "postmortem_done",
    "postmortem_due",
    "cost",
)


def row(
    who: Identity, version: int, folded: Folded, extra: Extra, policy: Policy, mttr_from: str
) -> dict[str, Any]:
    """The `incident_metrics` row of an incident at `version`: its facts, and its figures
    under the policy's rules with what depends on `now` left as due times (see `figures`)."""
    rules = compute._rules(policy, who.severity)
    return {
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
        "rules": rules_key(policy, who.severity, mttr_from),
        **figures(facts(who, folded, extra, None), rules, compute._origin(mttr_from)),
    }


def services_text(services: Iterable[str]) -> str:
    return json.dumps(list(services), separators=(",", ":"))


def _verdict(start: int | None, end: int | None, target: int | None) -> tuple[str | None, Any]:
    """(verdict, None), or (None, due) when the verdict waits on `now`: missed once
    now > due, pending until then (compute._verdict with the end still missing)."""
    if target is None:
        return None, None
    if start is None:
        return "unknown", None
    if end is None:
        return None, start + target
    if end < start:
        return "unknown", None
    return ("met" if end - start <= target else "missed"), None


def figures(f: IncidentFacts, rules: compute._Rules | None, origin: int) -> dict[str, Any]:
    """An incident's figures with `now` left out. What depends on it is kept as:
    - `response_due` / `resolution_due`: the verdict is `missed` once now > due, else
      `pending` (set when the milestone that ends the target is missing);
    - for an unresolved incident (the update cadence runs until now): `update_intervals`
      and `updates_on_time` up to the last update, `cadence_last` (that update, or the
      declaration) and `cadence_interval`, so that every full interval from `cadence_last`
      to now but the one still running is one more missed interval; `promises_due` without
      the last update's promise, `last_promise`, due once now is past it; `last_update`, the
      latest update (these hold while it is not after now);
    - `postmortem_due`: a required post-mortem still unpublished is overdue once now > due.
    The report finishes them in SQL (projection.measured_rows)."""
    item = compute._measure(f, rules, origin, 0)  # `now` only reaches what is recomputed below
    values: dict[str, Any] = {
        "time_to_detect": item.phases[0],
        "time_to_acknowledge": item.phases[1],
        "time_to_mitigate": item.phases[2],
        "time_to_resolve": item.phases[3],
        "mttr": item.mttr,
        "flags": "\n".join(item.flags) or None,
        "postmortem_rule": item.postmortem_rule,
        "postmortem_done": item.postmortem_done,
        "postmortem_due": None,
        "cost": item.cost,
        "sla_response": None,
        "response_due": None,
        "sla_resolution": None,
        "resolution_due": None,
        "update_intervals": 0,
        "updates_on_time": 0,
        "cadence_interval": None,
        "cadence_last": None,
        "promises_due": 0,
        "promises_kept": 0,
        "last_promise": None,
        "last_update": max((at for at, _ in f.updates), default=None),
    }
    if rules is None:
        return values
    values["sla_response"], values["response_due"] = _verdict(
        f.detected, f.acknowledged, rules.response
    )
    values["sla_resolution"], values["resolution_due"] = _verdict(
        f.detected, f.resolved, rules.resolution
    )
    if (
        rules.postmortem == "required"
        and not item.postmortem_done
        and f.resolved is not None
        and rules.postmortem_due is not None
    ):
        values["postmortem_due"] = f.resolved + rules.postmortem_due
    if f.resolved is not None:  # the cadence ended at the resolution
        values["update_intervals"] = item.cadence_intervals
        values["updates_on_time"] = item.cadence_on_time
        values["promises_due"] = item.promises_made
        values["promises_kept"] = item.promises_kept
        return values
    interval = rules.interval or 0
    intervals = on_time = made = kept = 0
    start = last = f.declared
    ordered = f.updates
    count = len(ordered)
    for n in range(count):  # compute._updates up to its last update
        moment, promised = ordered[n]
        if promised is not None:
            if n + 1 < count:
                made += 1  # due before the next update, itself no later than now
                if ordered[n + 1][0] <= promised:
                    kept += 1
            else:
                values["last_promise"] = promised
        if interval > 0 and start <= moment:
            gap = moment - last
            if gap <= interval:
                intervals += 1
                on_time += 1
            else:
                intervals += gap // interval
            last = moment
    values.update(
        update_intervals=intervals,
        updates_on_time=on_time,
        promises_due=made,
        promises_kept=kept,
        cadence_interval=interval or None,
        cadence_last=last,
    )
    return values
