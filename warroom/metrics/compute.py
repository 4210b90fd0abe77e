"""Metric math over plain incident facts: pure, no I/O, `now` passed in.

One `IncidentFacts` per incident (milestones folded from its timeline events, plus the few
events metrics need: status updates, milestone corrections, backdated entries). `measure`
turns facts into per-incident figures (MTTx phases, SLA, update cadence, cost, flags);
`report_rows` aggregates measured rows into breakdowns (count, mean, median, p90), weekly
trends and the flagged list. Definitions are in docs/metrics.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from warroom.core.errors import InvalidInput
from warroom.incidents.mttx import MOMENTS, PHASE_NAMES, phases_of
from warroom.policy.schema import Policy, SeverityLevel

FIGURES = (*PHASE_NAMES, "mttr")
GROUPINGS = ("severity", "service", "team", "type", "week", "month")
# A milestone event recorded this much later than it says it happened counts as backdated.
BACKDATE_TOLERANCE = timedelta(minutes=1)
NO_SERVICE = "(no service)"
NO_TEAM = "(no team)"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(moment: datetime | None) -> int | None:
    """Epoch milliseconds of an aware datetime (metrics do their arithmetic on these), half a
    millisecond rounded up, in exact integer arithmetic (as the databases round)."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + (delta.microseconds + 500) // 1000


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


@dataclass(slots=True)
class IncidentFacts:
    """What metrics need to know about one incident; moments in epoch milliseconds."""

    id: int
    public_id: str
    title: str
    severity: str
    type: str
    status: str
    services: tuple[str, ...]
    declared: int
    started: int | None
    detected: int | None
    acknowledged: int | None = None
    mitigated: int | None = None
    resolved: int | None = None
    reopen_count: int = 0
    revenue_per_hour: float | None = None
    postmortem_status: str | None = None
    # Milestones changed by `milestone_corrected` events.
    corrected: tuple[str, ...] = ()
    # Milestone event types recorded later than they occurred (occurred_at << recorded_at).
    backdated: tuple[str, ...] = ()
    # Published status updates in time order: (occurred, promised next update or None).
    updates: tuple[tuple[int, int | None], ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status not in ("resolved", "closed")


@dataclass(slots=True)
class Measured:
    """The figures of one incident (durations in seconds)."""

    facts: IncidentFacts
    phases: list[float | None]
    mttr: float | None
    flags: list[str]
    sla_response: str | None = None  # met / missed / pending / unknown; None: no target
    sla_resolution: str | None = None
    cadence_intervals: int = 0
    cadence_on_time: int = 0
    promises_made: int = 0
    promises_kept: int = 0
    postmortem_rule: str = "optional"
    postmortem_done: bool = False
    postmortem_overdue: bool = False
    cost: float | None = None
    is_open: bool = True
    # "SLA met": see sla_met (stored once computed, read per group)
    met: bool | None = None

    @property
    def seconds(self) -> dict[str, float | None]:
        return {**dict(zip(PHASE_NAMES, self.phases, strict=True)), "mttr": self.mttr}

    @property
    def sla_met(self) -> bool | None:
        """True when every measurable target was met, False if one was missed, else None."""
        verdicts = [v for v in (self.sla_response, self.sla_resolution) if v is not None]
        if "missed" in verdicts:
            return False
        if verdicts and all(v == "met" for v in verdicts):
            return True
        return None


@dataclass(frozen=True)
class Options:
    since: datetime
    until: datetime
    now: datetime
    by: str = "severity"
    tz: tzinfo | None = None
    mttr_from: str = "started_at"
    # service name -> owning team (the service catalog until the on-call package owns teams)
    teams: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Rules:
    """A severity level's measurable targets, in milliseconds."""

    response: int | None
    resolution: int | None
    interval: int | None
    postmortem: str
    postmortem_due: int | None


def _td_ms(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds() * 1000)


_RULES: dict[int, tuple[Policy, dict[str, _Rules | None]]] = {}


def _rules(policy: Policy, severity: str) -> _Rules | None:
    cached = _RULES.get(id(policy))
    if cached is None or cached[0] is not policy:
        cached = (policy, {})
        _RULES[id(policy)] = cached
    table = cached[1]
    if severity not in table:
        try:
            level: SeverityLevel | None = policy.severity(severity)
        except InvalidInput:
            level = None
        table[severity] = (
            None
            if level is None
            else _Rules(
                _td_ms(level.response_target.within),
                _td_ms(level.resolution_target.within),
                _td_ms(level.update_interval),
                level.postmortem.requirement,
                _td_ms(level.postmortem.due_within),
            )
        )
    return table[severity]


# ---- per incident ---------------------------------------------------------------------------


# The verdict of a target the policy does not set (no measurable duration).
NOT_SET = "not_set"


def _verdict(start: int | None, end: int | None, target: int | None, now: int) -> str | None:
    if target is None:
        return None
    if start is None:
        return "unknown"
    if end is None:
        return "missed" if now - start > target else "pending"
    if end < start:
        return "unknown"
    return "met" if end - start <= target else "missed"


def cadence(start: int, end: int, interval: int, updates: Iterable[int]) -> tuple[int, int]:
    """(intervals, on time): each update within `interval` of the previous one (or of `start`)
    is one on-time interval; every full interval that passes without an update is one missed
    interval (a late update restarts the clock). After the last update, only the due times
    strictly before `end` count (an update due at the moment of resolution is not missed).
    Updates outside [start, end] are ignored. Moments and interval in the same unit."""
    intervals, on_time, _, _ = _updates(start, end, interval, [(u, None) for u in sorted(updates)])
    return intervals, on_time


def promises(updates: Sequence[tuple[int, int | None]], end: int) -> tuple[int, int]:
    """(promises due, kept): a promised next update is kept when the next update came by then.
    A promise whose time falls after the incident ended (or after now) is not counted."""
    _, _, made, kept = _updates(end, end, 0, sorted(updates, key=lambda u: u[0]))
    return made, kept


def _updates(
    start: int, end: int, interval: int, ordered: Sequence[tuple[int, int | None]]
) -> tuple[int, int, int, int]:
    """Cadence (when interval > 0) and promises in one pass over updates in time order."""
    intervals = on_time = made = kept = 0
    measured = interval > 0 and end > start
    last = start
    count = len(ordered)
    for n in range(count):
        moment, promised = ordered[n]
        if promised is not None:
            following = ordered[n + 1][0] if n + 1 < count else None
            if following is not None and following <= promised:
                made += 1
                kept += 1
            elif promised < end:
                made += 1
        if measured and start <= moment <= end:
            gap = moment - last
            if gap <= interval:
                intervals += 1
                on_time += 1
            else:
                intervals += gap // interval
            last = moment
    if measured:
        intervals += max(0, -(-(end - last) // interval) - 1)
    return intervals, on_time, made, kept


def measure(facts: IncidentFacts, policy: Policy, opts: Options) -> Measured:
    rules = _rules(policy, facts.severity)
    return _measure(facts, rules, _origin(opts.mttr_from), ms(opts.now) or 0)


def _origin(mttr_from: str) -> int:
    return MOMENTS.index(mttr_from)


_CLOSED = frozenset(("resolved", "closed"))


def _measure(facts: IncidentFacts, rules: _Rules | None, origin: int, now: int) -> Measured:
    f = facts
    raw, total, flags = phases_of(
        (f.started, f.detected, f.acknowledged, f.mitigated, f.resolved), f.reopen_count, origin
    )
    for milestone in f.corrected:
        flags.append(f"corrected {milestone}")
    for kind in f.backdated:
        flags.append(f"backdated {kind}")
    phases = [None if v is None else v / 1000 for v in raw]
    mttr = None if total is None else total / 1000
    item = Measured(f, phases, mttr, flags, is_open=f.status not in _CLOSED)
    if f.revenue_per_hour is not None and total is not None:
        item.cost = f.revenue_per_hour * total / 3_600_000
    if rules is None:
        return item
    end = f.resolved if f.resolved is not None else now
    item.sla_response = _verdict(f.detected, f.acknowledged, rules.response, now)
    item.sla_resolution = _verdict(f.detected, f.resolved, rules.resolution, now)
    interval = rules.interval or 0
    if f.updates:
        (
            item.cadence_intervals,
            item.cadence_on_time,
            item.promises_made,
            item.promises_kept,
        ) = _updates(f.declared, end, interval, f.updates)
    elif interval and end > f.declared:
        item.cadence_intervals = max(0, -(-(end - f.declared) // interval) - 1)
    item.postmortem_rule = rules.postmortem
    item.postmortem_done = f.postmortem_status == "published"
    item.postmortem_overdue = (
        rules.postmortem == "required"
        and not item.postmortem_done
        and f.resolved is not None
        and rules.postmortem_due is not None
        and now > f.resolved + rules.postmortem_due
    )
    response, resolution = item.sla_response, item.sla_resolution
    if response == "missed" or resolution == "missed":
        item.met = False
    elif (response == "met" or resolution == "met") and (
        response in _MET_OR_NONE and resolution in _MET_OR_NONE
    ):
        item.met = True
    return item


_MET_OR_NONE = frozenset(("met", None))


# ---- statistics -----------------------------------------------------------------------------


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile of sorted values (None when empty)."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(values: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)
    count = len(ordered)
    return {
        "count": count,
        "mean": (math.fsum(ordered) / count) if count else None,
        "median": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def week_of(moment: datetime, tz: tzinfo | None) -> date:
    """The Monday (in `tz`, UTC by default) of the ISO week containing `moment`."""
    local = moment.astimezone(tz) if tz is not None else moment.astimezone(UTC)
    day = local.date()
    return day - timedelta(days=day.weekday())


def month_of(moment: datetime, tz: tzinfo | None) -> str:
    local = moment.astimezone(tz) if tz is not None else moment.astimezone(UTC)
    return f"{local.year:04d}-{local.month:02d}"


class _Calendar:
    """Week and month keys of epoch milliseconds, cached per quarter hour (every UTC offset
    is a multiple of 15 minutes, so a quarter hour never straddles a local day boundary),
    and per UTC day when the whole day has one offset and one key."""

    def __init__(self, tz: tzinfo | None) -> None:
        self.tz = tz
        self._weeks: dict[int, date] = {}
        self._months: dict[int, str] = {}
        self._week_days: dict[int, date | None] = {}
        self._month_days: dict[int, str | None] = {}

    def _offset(self, value: int) -> timedelta | None:
        return None if self.tz is None else from_ms(value).astimezone(self.tz).utcoffset()

    def _uniform_day(self, day: int) -> bool:
        start = day * 86_400_000
        return self._offset(start) == self._offset(start + 86_399_999)

    def week(self, value: int) -> date:
        day = value // 86_400_000
        found = self._week_days.get(day)
        if found is not None:
            return found
        if day not in self._week_days:
            start = day * 86_400_000
            first, last = self._week_slot(start), self._week_slot(start + 86_399_999)
            uniform = first == last and self._uniform_day(day)
            self._week_days[day] = first if uniform else None
            if uniform:
                return first
        return self._week_slot(value)

    def _week_slot(self, value: int) -> date:
        slot = value // 900_000
        found = self._weeks.get(slot)
        if found is None:
            found = self._weeks[slot] = week_of(from_ms(slot * 900_000), self.tz)
        return found

    def month(self, value: int) -> str:
        day = value // 86_400_000
        found = self._month_days.get(day)
        if found is not None:
            return found
        if day not in self._month_days:
            start = day * 86_400_000
            first, last = self._month_slot(start), self._month_slot(start + 86_399_999)
            uniform = first == last and self._uniform_day(day)
            self._month_days[day] = first if uniform else None
            if uniform:
                return first
        return self._month_slot(value)

    def _month_slot(self, value: int) -> str:
        slot = value // 900_000
        found = self._months.get(slot)
        if found is None:
            found = self._months[slot] = month_of(from_ms(slot * 900_000), self.tz)
        return found


def _flag_kind(flag: str) -> str:
    if flag.startswith("missing"):
        return "missing_milestone"
    if " before " in flag:
        return "out_of_order"
    if flag.startswith("reopened"):
        return "reopened"
    if flag.startswith("corrected"):
        return "corrected"
    if flag.startswith("backdated"):
        return "backdated"
    return "other"


# ---- CSV ------------------------------------------------------------------------------------

GROUP_COLUMNS = (
    "group",
    "incidents",
    "open",
    "resolved",
    "flagged",
    *(f"{name}_{stat}" for name in FIGURES for stat in ("count", "mean", "median", "p90")),
    "sla_response_met",
    "sla_response_missed",
    "sla_resolution_met",
    "sla_resolution_missed",
    "sla_compliance",
    "update_intervals",
    "updates_on_time",
    "update_compliance",
    "postmortems_required",
    "postmortems_published",
    "postmortem_completion",
    "postmortems_overdue",
    "cost_estimate",
)

INCIDENT_COLUMNS = (
    "id",
    "title",
    "severity",
    "type",
    "status",
    "services",
    "declared_at",
    *FIGURES,
    "sla_response",
    "sla_resolution",
    "sla_met",
    "update_intervals",
    "updates_on_time",
    "postmortem",
    "postmortem_published",
    "cost",
    "flags",
)


def _group_csv_row(key: str, group: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "group": key,
        "incidents": group["incidents"],
        "open": group["open"],
        "resolved": group["resolved"],
        "flagged": group["flagged"],
    }
    for name in FIGURES:
        for stat in ("count", "mean", "median", "p90"):
            value = group["figures"][name][stat]
            row[f"{name}_{stat}"] = round(value, 3) if isinstance(value, float) else value
    sla, cad, pm = group["sla"], group["update_cadence"], group["postmortems"]
    row.update(
        sla_response_met=sla["response"]["met"],
        sla_response_missed=sla["response"]["missed"],
        sla_resolution_met=sla["resolution"]["met"],
        sla_resolution_missed=sla["resolution"]["missed"],
        sla_compliance=sla["compliance"],
        update_intervals=cad["intervals"],
        updates_on_time=cad["on_time"],
        update_compliance=cad["compliance"],
        postmortems_required=pm["required"],
        postmortems_published=pm["required_published"],
        postmortem_completion=pm["completion"],
        postmortems_overdue=pm["overdue"],
        cost_estimate=group["cost"]["estimate"],
    )
    return row


def to_csv(data: Mapping[str, Any], *, incidents: bool = False) -> str:
    """The report as CSV: one row per group plus `(all)`, or one row per incident."""
    out = io.StringIO()
    if incidents:
        writer = csv.DictWriter(out, fieldnames=INCIDENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in data.get("incidents", []):
            flat = {k: row.get(k) for k in INCIDENT_COLUMNS}
            flat["services"] = " ".join(row.get("services", []))
            flat["flags"] = "; ".join(row.get("flags", []))
            writer.writerow({k: _cell(v) for k, v in flat.items()})
        return out.getvalue()
    writer = csv.DictWriter(out, fieldnames=GROUP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for group in data["groups"]:
        writer.writerow({k: _cell(v) for k, v in _group_csv_row(group["key"], group).items()})
    writer.writerow({k: _cell(v) for k, v in _group_csv_row("(all)", data["overall"]).items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Guard spreadsheet formula injection in user text; None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


# ---- the same report over measured rows (the fast path) ---------------------------------------
#
# The reference computation (facts -> `Measured` objects -> per-group passes) lives in the
# tests (tests/metrics/reference.py). This path (MetricsService.report over the
# `incident_metrics` read model) hands in one plain tuple per incident instead, most of them
# read as stored, and aggregates them column-wise. tests/metrics/test_readmodel.py holds the
# two to the same report.

# Positions in a measured row: the figures of `Measured` as plain values. Durations in seconds;
# services as JSON text (a list); flags as one text, one flag a line (None: no flag).
R_ID, R_DECLARED, R_SEVERITY, R_TYPE, R_SERVICES, R_OPEN = range(6)
R_PHASES = (6, 7, 8, 9)
R_MTTR = 10
R_FLAGS = 11
R_RESPONSE, R_RESOLUTION, R_MET = 12, 13, 14
R_INTERVALS, R_ON_TIME, R_PROMISED, R_KEPT = 15, 16, 17, 18
R_PM_RULE, R_PM_DONE, R_PM_OVERDUE, R_COST = 19, 20, 21, 22
ROW_WIDTH = 23
MeasuredRow = Sequence[Any]


def services_text(services: Iterable[str]) -> str:
    return json.dumps(list(services), separators=(",", ":"))


def measured_row(item: Measured) -> MeasuredRow:
    """The row of a `Measured` incident."""
    f = item.facts
    return (
        f.id,
        f.declared,
        f.severity,
        f.type,
        services_text(f.services),
        item.is_open,
        *item.phases,
        item.mttr,
        "\n".join(item.flags) or None,
        item.sla_response,
        item.sla_resolution,
        item.met,
        item.cadence_intervals,
        item.cadence_on_time,
        item.promises_made,
        item.promises_kept,
        item.postmortem_rule,
        item.postmortem_done,
        item.postmortem_overdue,
        item.cost,
    )


class _Services:
    """Parsed services texts (few distinct ones)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, ...]] = {}

    def __call__(self, text: str) -> tuple[str, ...]:
        found = self._parsed.get(text)
        if found is None:
            found = self._parsed[text] = tuple(json.loads(text))
        return found


@dataclass(slots=True)
class _Partial:
    """The additive figures of a set of measured rows, before they become a summary."""

    count: int
    flagged: int
    flag_kinds: Counter[str]
    values: list[list[float]]  # per figure, sorted
    # (response, resolution, met, post-mortem rule, open, published, overdue) -> incidents
    combos: Counter[tuple[Any, ...]]
    sums: list[int]  # intervals, on time, promises due, promises kept
    costs: list[float]


_FIGURE_COLUMNS = (*R_PHASES, R_MTTR)
_COMBO_COLUMNS = (R_RESPONSE, R_RESOLUTION, R_MET, R_PM_RULE, R_OPEN, R_PM_DONE, R_PM_OVERDUE)
_SUM_COLUMNS = (R_INTERVALS, R_ON_TIME, R_PROMISED, R_KEPT)


def _partial(rows: Sequence[MeasuredRow]) -> _Partial:
    # Rows may carry more values after the measured ones (the shortest row sets the columns).
    cols: list[Sequence[Any]] = list(zip(*rows, strict=False)) if rows else [()] * ROW_WIDTH
    values = []
    for index in _FIGURE_COLUMNS:
        found = [x for x in cols[index] if x is not None]
        found.sort()
        values.append(found)
    flagged = [f for f in cols[R_FLAGS] if f]
    return _Partial(
        count=len(rows),
        flagged=len(flagged),
        flag_kinds=Counter(
            kind for flags in flagged for kind in {_flag_kind(f) for f in flags.split("\n")}
        ),
        values=values,
        combos=Counter(zip(*(cols[n] for n in _COMBO_COLUMNS), strict=True)),
        sums=[sum(cols[n]) for n in _SUM_COLUMNS],
        costs=[c for c in cols[R_COST] if c is not None],
    )


def _combine(parts: Sequence[_Partial]) -> _Partial:
    """The partial of the union of disjoint sets of rows."""
    values = []
    for n in range(len(_FIGURE_COLUMNS)):
        merged = [x for part in parts for x in part.values[n]]
        merged.sort()  # sorted runs: Timsort merges them
        values.append(merged)
    combos: Counter[tuple[Any, ...]] = Counter()
    flag_kinds: Counter[str] = Counter()
    for part in parts:
        combos.update(part.combos)
        flag_kinds.update(part.flag_kinds)
    return _Partial(
        count=sum(p.count for p in parts),
        flagged=sum(p.flagged for p in parts),
        flag_kinds=flag_kinds,
        values=values,
        combos=combos,
        sums=[sum(p.sums[n] for p in parts) for n in range(len(_SUM_COLUMNS))],
        costs=[c for p in parts for c in p.costs],
    )


def _sorted_stats(ordered: list[float]) -> dict[str, float | int | None]:
    """`stats` of values already in order."""
    count = len(ordered)
    return {
        "count": count,
        "mean": (math.fsum(ordered) / count) if count else None,
        "median": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
    }


def _summary(p: _Partial) -> dict[str, Any]:
    figures = {}
    for name, found in zip(FIGURES, p.values, strict=True):
        figure = _sorted_stats(found)
        figure["excluded"] = p.count - len(found)
        figures[name] = figure
    response: Counter[str | None] = Counter()
    resolution: Counter[str | None] = Counter()
    met_counts: Counter[bool | None] = Counter()
    pm: Counter[str] = Counter()
    open_ = 0
    for (resp, res, met, rule, is_open, done, overdue), n in p.combos.items():
        response[resp] += n
        resolution[res] += n
        met_counts[None if met is None else bool(met)] += n
        if is_open:
            open_ += n
        elif rule != "optional":
            pm[rule] += n
            if done:
                pm[rule + "_published"] += n
            if overdue:
                pm["overdue"] += n
    intervals, on_time, made, kept = p.sums

    return _summary_dict(
        count=p.count,
        open_=open_,
        flagged=p.flagged,
        flag_kinds=p.flag_kinds,
        figures=figures,
        response=response,
        resolution=resolution,
        met_counts=met_counts,
        cadence=(intervals, on_time, made, kept),
        pm=pm,
        costs=p.costs,
    )


def _verdicts(counter: Mapping[str | None, int]) -> dict[str, Any]:
    met, missed = counter.get("met", 0), counter.get("missed", 0)
    return {
        "met": met,
        "missed": missed,
        "pending": counter.get("pending", 0),
        "unknown": counter.get("unknown", 0),
        # Incidents whose severity has no measurable target: not set by the process.
        "not_set": counter.get(None, 0),
        "compliance": _share(met, met + missed),
    }


def _summary_dict(
    *,
    count: int,
    open_: int,
    flagged: int,
    flag_kinds: Mapping[str, int],
    figures: dict[str, Any],
    response: Mapping[str | None, int],
    resolution: Mapping[str | None, int],
    met_counts: Mapping[bool | None, int],
    cadence: tuple[int, int, int, int],
    pm: Mapping[str, int],
    costs: Sequence[float],
) -> dict[str, Any]:
    """One group's summary, the same shape from the reference and the read-model paths."""
    sla_met, sla_missed = met_counts.get(True, 0), met_counts.get(False, 0)
    intervals, on_time, made, kept = cadence
    return {
        "incidents": count,
        "open": open_,
        "resolved": count - open_,
        "flagged": flagged,
        "flags": dict(sorted(flag_kinds.items())),
        "figures": figures,
        "sla": {
            "response": _verdicts(response),
            "resolution": _verdicts(resolution),
            "met": sla_met,
            "missed": sla_missed,
            "compliance": _share(sla_met, sla_met + sla_missed),
        },
        "update_cadence": {
            "intervals": intervals,
            "on_time": on_time,
            "compliance": _share(on_time, intervals),
            "promises_due": made,
            "promises_kept": kept,
        },
        "postmortems": {
            "required": pm.get("required", 0),
            "required_published": pm.get("required_published", 0),
            "completion": _share(pm.get("required_published", 0), pm.get("required", 0)),
            "recommended": pm.get("recommended", 0),
            "recommended_published": pm.get("recommended_published", 0),
            "overdue": pm.get("overdue", 0),
        },
        "cost": {"estimate": round(math.fsum(costs), 2), "incidents_with_revenue": len(costs)},
    }


def weekly_rows(
    rows: Sequence[MeasuredRow],
    opts: Options,
    severities: Sequence[str],
    weeks: Sequence[date],
) -> list[dict[str, Any]]:
    """`weekly` over measured rows; `weeks`: the week of each row."""
    counts: dict[date, dict[str, int]] = {}
    for (week, severity), n in Counter(
        zip(weeks, [r[R_SEVERITY] for r in rows], strict=True)
    ).items():
        by_severity = counts.get(week)
        if by_severity is None:
            by_severity = counts[week] = dict.fromkeys(severities, 0)
        by_severity[severity] = by_severity.get(severity, 0) + n
    mttrs: dict[date, list[float]] = defaultdict(list)
    for week, total in zip(weeks, [r[R_MTTR] for r in rows], strict=True):
        if total is not None:
            mttrs[week].append(total)
    verdicts: dict[date, list[int]] = {week: [0, 0] for week in counts}
    for (week, met), n in Counter(zip(weeks, [r[R_MET] for r in rows], strict=True)).items():
        if met is not None:
            verdicts[week][0 if met else 1] += n
    return _weekly_table(counts, mttrs, verdicts, opts, severities)


def _weekly_table(
    counts: dict[date, dict[str, int]],
    mttrs: Mapping[date, list[float]],
    verdicts: Mapping[date, list[int]],
    opts: Options,
    severities: Sequence[str],
) -> list[dict[str, Any]]:
    first = week_of(opts.since, opts.tz)
    last = week_of(max(opts.since, opts.until - timedelta(microseconds=1)), opts.tz)
    if counts:
        first, last = min(first, *counts), max(last, *counts)
    if (last - first).days > 7 * 520:  # cap very long spans at the weeks that have incidents
        weeks = sorted(counts)
    else:
        weeks = [first + timedelta(days=7 * n) for n in range((last - first).days // 7 + 1)]
    table = []
    for week in weeks:
        by_severity = counts.get(week) or dict.fromkeys(severities, 0)
        figure = stats(mttrs.get(week, []))
        met, missed = verdicts.get(week, [0, 0])
        table.append(
            {
                "week": week.isoformat(),
                "incidents": sum(by_severity.values()),
                "by_severity": by_severity,
                "mttr_mean": figure["mean"],
                "mttr_median": figure["median"],
                "mttr_p90": figure["p90"],
                "sla_met": met,
                "sla_missed": missed,
                "sla_compliance": _share(met, met + missed),
            }
        )
    return table


def _groups_of_rows(
    rows: Sequence[MeasuredRow], opts: Options, weeks: Callable[[], Sequence[date]]
) -> tuple[dict[str, list[MeasuredRow]], bool]:
    """The rows of each group, and whether the groups split the rows (each row in one)."""
    groups: dict[str, list[MeasuredRow]] = defaultdict(list)
    by = opts.by
    disjoint = True
    if by in ("severity", "type"):
        index = R_SEVERITY if by == "severity" else R_TYPE
        for r in rows:
            groups[r[index]].append(r)
    elif by in ("service", "team"):
        parse = _Services()
        keys_of: dict[str, list[str]] = {}
        for r in rows:
            text = r[R_SERVICES]
            keys = keys_of.get(text)
            if keys is None:
                services = parse(text)
                if by == "service":
                    keys = list(services) or [NO_SERVICE]
                else:
                    keys = sorted({opts.teams.get(s) or NO_TEAM for s in services}) or [NO_TEAM]
                keys_of[text] = keys
                if len(keys) > 1:
                    disjoint = False
            for key in keys:
                groups[key].append(r)
    elif by == "week":
        labels: dict[date, str] = {}
        for r, week in zip(rows, weeks(), strict=True):
            label = labels.get(week)
            if label is None:
                label = labels[week] = week.isoformat()
            groups[label].append(r)
    elif by == "month":
        calendar = _Calendar(opts.tz)
        for r in rows:
            groups[calendar.month(r[R_DECLARED])].append(r)
    else:
        raise ValueError(f"unknown grouping {by!r}; choose from {', '.join(GROUPINGS)}")
    return groups, disjoint


@dataclass(frozen=True, slots=True)
class Details:
    """What the report lists about an incident beyond its measured row."""

    public_id: str
    title: str
    status: str


def report_rows(
    rows: Sequence[MeasuredRow],
    policy: Policy,
    opts: Options,
    details: Callable[[Sequence[int]], Mapping[int, Details]],
    *,
    include_incidents: bool = False,
    flagged_limit: int = 200,
) -> dict[str, Any]:
    """`report` over measured rows in report order; `details` looks up the listed incidents."""
    if opts.by not in GROUPINGS:
        raise ValueError(f"unknown grouping {opts.by!r}; choose from {', '.join(GROUPINGS)}")
    calendar = _Calendar(opts.tz)
    week = calendar.week
    weeks_of_rows: list[Sequence[date]] = []

    def weeks() -> Sequence[date]:
        if not weeks_of_rows:
            by_day = calendar._week_days  # filled by `week`; a hit is the common case
            weeks_of_rows.append(
                [by_day.get(r[R_DECLARED] // 86_400_000) or week(r[R_DECLARED]) for r in rows]
            )
        return weeks_of_rows[0]

    groups, disjoint = _groups_of_rows(rows, opts, weeks)
    order = {s: n for n, s in enumerate(policy.severity_ids())}
    keys = sorted(groups, key=lambda k: (order.get(k, len(order)), k))
    partials = {key: _partial(groups[key]) for key in keys}
    # When every incident is in one group, the overall figures combine the groups'.
    overall = _combine(list(partials.values())) if disjoint else _partial(rows)
    flagged = [r for r in rows if r[R_FLAGS]]
    listed = flagged[:flagged_limit]
    known = details([r[R_ID] for r in (rows if include_incidents else listed)])
    span_days = max((opts.until - opts.since).total_seconds() / 86400, 1e-9)
    result: dict[str, Any] = {
        "since": opts.since.isoformat(),
        "until": opts.until.isoformat(),
        "generated_at": opts.now.isoformat(),
        "by": opts.by,
        "timezone": str(opts.tz) if opts.tz is not None else "UTC",
        "mttr_from": opts.mttr_from,
        "overall": _summary(overall),
        "groups": [{"key": key, **_summary(partials[key])} for key in keys],
        "incidents_per_week": len(rows) / span_days * 7,
        "weekly": weekly_rows(rows, opts, policy.severity_ids(), weeks()),
        "flagged": {
            "total": len(flagged),
            "items": [
                {
                    "id": known[r[R_ID]].public_id,
                    "title": known[r[R_ID]].title,
                    "severity": r[R_SEVERITY],
                    "flags": r[R_FLAGS].split("\n"),
                }
                for r in listed
            ],
        },
    }
    if include_incidents:
        parse = _Services()
        result["incidents"] = [_incident_row_of(r, known[r[R_ID]], parse) for r in rows]
    return result


def _incident_row_of(r: MeasuredRow, who: Details, parse: _Services) -> dict[str, Any]:
    response, resolution = r[R_RESPONSE], r[R_RESOLUTION]
    verdicts = [v for v in (response, resolution) if v is not None]
    sla_met: bool | None = None
    if "missed" in verdicts:
        sla_met = False
    elif verdicts and all(v == "met" for v in verdicts):
        sla_met = True
    cost = r[R_COST]
    return {
        "id": who.public_id,
        "title": who.title,
        "severity": r[R_SEVERITY],
        "type": r[R_TYPE],
        "status": who.status,
        "services": list(parse(r[R_SERVICES])),
        "declared_at": from_ms(r[R_DECLARED]).isoformat(),
        **{name: r[index] for name, index in zip(FIGURES, (*R_PHASES, R_MTTR), strict=True)},
        "sla_response": response or NOT_SET,
        "sla_resolution": resolution or NOT_SET,
        "sla_met": sla_met,
        "update_intervals": r[R_INTERVALS],
        "updates_on_time": r[R_ON_TIME],
        "postmortem": r[R_PM_RULE],
        "postmortem_published": bool(r[R_PM_DONE]),
        "cost": round(cost, 2) if cost is not None else None,
        "flags": r[R_FLAGS].split("\n") if r[R_FLAGS] else [],
    }
