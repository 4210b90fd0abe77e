"""The reference metrics computation, kept for the tests (and bench/metrics.py) only.

The package computes the report one way: from the `incident_metrics` read model, column-wise
(`MetricsService.report`, `compute.report_rows`). This is the original computation, from the
incidents and their events (`load_facts`) through `Measured` objects and per-group passes
(`report`); tests/metrics/test_readmodel.py holds the package's report equal to it, and
tests/metrics/test_compute.py checks its figures by hand.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import BigInteger, String, and_, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from warroom.core import tables
from warroom.metrics import compute
from warroom.metrics.compute import (
    FIGURES,
    GROUPINGS,
    NO_SERVICE,
    NO_TEAM,
    IncidentFacts,
    Measured,
    Options,
    _Calendar,
    _flag_kind,
    _measure,
    _origin,
    _rules,
    _summary_dict,
    _weekly_table,
    from_ms,
    ms,
    stats,
)
from warroom.metrics.readmodel import CORRECTION_EVENT, MILESTONE_EVENTS, UPDATE_EVENT
from warroom.metrics.service import EVENT_MARGIN, MetricsService, no_gc
from warroom.policy import Policy


class epoch_ms(FunctionElement[int]):
    """Epoch milliseconds of a UTC datetime column, computed by the database."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_ms"


@compiles(epoch_ms, "sqlite")
def _epoch_ms_sqlite(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    # julianday() reads the stored naive-UTC text and ISO strings with offsets alike.
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(ROUND((julianday({arg}) - 2440587.5) * 86400000.0) AS INTEGER)"


@compiles(epoch_ms, "postgresql")
def _epoch_ms_postgresql(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM {arg}) * 1000) AS BIGINT)"


class text_epoch_ms(FunctionElement[int]):
    """Epoch milliseconds of an ISO-8601 text with offset (e.g. from event JSON data)."""

    type = BigInteger()
    inherit_cache = True
    name = "text_epoch_ms"


@compiles(text_epoch_ms, "sqlite")
def _text_epoch_ms_sqlite(element: text_epoch_ms, compiler: Any, **kw: Any) -> str:
    return _epoch_ms_sqlite(element, compiler, **kw)  # type: ignore[arg-type]


@compiles(text_epoch_ms, "postgresql")
def _text_epoch_ms_postgresql(element: text_epoch_ms, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return (
        f"CAST(ROUND(EXTRACT(EPOCH FROM CAST({arg} AS TIMESTAMP WITH TIME ZONE)) * 1000) AS BIGINT)"
    )


class state_fields(FunctionElement[Any]):
    """[reopen_count, impact.revenue_per_hour, postmortem.status] of the state JSON, parsed
    once per row by the database (three separate extractions would parse it three times)."""

    type = String()
    inherit_cache = True
    name = "state_fields"


@compiles(state_fields, "sqlite")
def _state_fields_sqlite(element: state_fields, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return (
        f"json_extract({arg}, '$.reopen_count', '$.impact.revenue_per_hour', '$.postmortem.status')"
    )


@compiles(state_fields, "postgresql")
def _state_fields_postgresql(element: state_fields, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return (
        f"json_build_array({arg} -> 'reopen_count', {arg} #> '{{impact,revenue_per_hour}}', "
        f"{arg} #> '{{postmortem,status}}')::text"
    )


def load_facts(conn: Connection, since: datetime, until: datetime) -> list[IncidentFacts]:
    """Facts of the incidents declared in [since, until), moments in epoch milliseconds."""
    i = tables.incidents
    state = i.c.state
    in_period = and_(i.c.declared_at >= since, i.c.declared_at < until)
    query = (
        select(
            i.c.id,
            i.c.public_id,
            i.c.title,
            i.c.severity,
            i.c.type,
            i.c.status,
            type_coerce(i.c.services, String).label("services"),
            epoch_ms(i.c.declared_at),
            epoch_ms(i.c.started_at),
            epoch_ms(i.c.detected_at),
            epoch_ms(i.c.acknowledged_at),
            epoch_ms(i.c.mitigated_at),
            epoch_ms(i.c.resolved_at),
            state_fields(state),
        )
        .where(in_period)
        .order_by(i.c.declared_at, i.c.id)
    )
    facts: list[IncidentFacts] = []
    append = facts.append
    parsed: dict[str, tuple[str, ...]] = {}
    empty: dict[str, Any] = {}
    rows = _raw(conn, query)
    extra = _event_facts(conn, {row[0] for row in rows}, since)
    for row in rows:
        n, public_id, title, severity, kind, status, services = row[:7]
        declared, started, detected, acked, mitigated, resolved = row[7:13]
        fields = row[13]
        reopens, revenue, pm = json.loads(fields) if isinstance(fields, str) else fields
        if isinstance(services, str):  # SQLite: JSON text (PostgreSQL drivers decode it)
            found = parsed.get(services)
            if found is None:
                found = parsed[services] = tuple(json.loads(services))
        else:
            found = tuple(services or ())
        events = extra.get(n, empty)
        append(
            IncidentFacts(
                n,
                public_id,
                title,
                severity,
                kind,
                status,
                found,
                declared,
                started,
                detected,
                acked,
                mitigated,
                resolved,
                reopens or 0,
                revenue,
                pm,
                events.get("corrected", ()),
                events.get("backdated", ()),
                events.get("updates", ()),
            )
        )
    return facts


def _event_facts(conn: Connection, ids: set[int], since: datetime) -> dict[int, dict[str, Any]]:
    """Status updates, corrections and backdated milestone events of the given incidents."""
    e = tables.events
    found: dict[int, dict[str, Any]] = defaultdict(dict)
    if not ids:
        return found
    after = e.c.occurred_at >= since - EVENT_MARGIN
    updates = _raw(
        conn,
        select(
            e.c.incident_id,
            epoch_ms(e.c.occurred_at),
            e.c.seq,
            text_epoch_ms(e.c.data["next_update_at"].as_string()),
        ).where(e.c.type == UPDATE_EVENT, after),
    )
    pending: dict[int, list[tuple[int, int, int | None]]] = defaultdict(list)
    for incident_id, occurred, seq, promised in updates:
        if incident_id in ids:
            pending[incident_id].append((occurred, seq, promised))
    for incident_id, items in pending.items():
        items.sort(key=_first_two)  # time order; updates at the same time in timeline order
        found[incident_id]["updates"] = tuple((at, promised) for at, _, promised in items)
    corrections = conn.execute(
        select(e.c.incident_id, e.c.data["milestone"].as_string()).where(
            e.c.type == CORRECTION_EVENT, after
        )
    ).all()
    corrected: dict[int, set[str]] = defaultdict(set)
    for incident_id, milestone in corrections:
        if incident_id in ids:
            corrected[incident_id].add(str(milestone))
    for incident_id, names in corrected.items():
        found[incident_id]["corrected"] = tuple(sorted(names))
    # Milestone events recorded later than they say they happened; the comparison runs in SQL
    # so only the (rare) candidates come back, then the tolerance is applied here.
    late = _raw(
        conn,
        select(
            e.c.incident_id, e.c.type, epoch_ms(e.c.occurred_at), epoch_ms(e.c.recorded_at)
        ).where(e.c.type.in_(MILESTONE_EVENTS), after, e.c.occurred_at < e.c.recorded_at),
    )
    tolerance = compute.BACKDATE_TOLERANCE.total_seconds() * 1000
    backdated: dict[int, set[str]] = defaultdict(set)
    for incident_id, kind, occurred, recorded in late:
        if incident_id in ids and recorded - occurred > tolerance:
            backdated[incident_id].add(str(kind))
    for incident_id, kinds in backdated.items():
        found[incident_id]["backdated"] = tuple(sorted(kinds))
    return found


def _raw(conn: Connection, query: Any) -> Sequence[Any]:
    """All rows as plain DBAPI tuples: every selected value is already a plain int, float or
    text (moments come as epoch milliseconds), so SQLAlchemy's row processing is skipped."""
    result = conn.execute(query)
    try:
        rows: Sequence[Any] = result.cursor.fetchall()
    finally:
        result.close()
    return rows


def _first_two(item: tuple[int, int, int | None]) -> tuple[int, int]:
    return item[0], item[1]


def group_keys(
    item: Measured, by: str, opts: Options, calendar: _Calendar | None = None
) -> list[str]:
    facts = item.facts
    if by == "severity":
        return [facts.severity]
    if by == "type":
        return [facts.type]
    if by == "service":
        return list(facts.services) or [NO_SERVICE]
    if by == "team":
        teams = {opts.teams.get(s) or NO_TEAM for s in facts.services}
        return sorted(teams) or [NO_TEAM]
    calendar = calendar or _Calendar(opts.tz)
    if by == "week":
        return [calendar.week(facts.declared).isoformat()]
    if by == "month":
        return [calendar.month(facts.declared)]
    raise ValueError(f"unknown grouping {by!r}; choose from {', '.join(GROUPINGS)}")


def summarise(items: Sequence[Measured]) -> dict[str, Any]:
    """Every figure of one group of incidents (column-wise passes: this runs per group)."""
    values = [[x for it in items if (x := it.phases[n]) is not None] for n in range(4)]
    values.append([x for it in items if (x := it.mttr) is not None])
    open_ = sum(1 for it in items if it.is_open)
    flagged_items = [it for it in items if it.flags]
    flag_kinds: Counter[str] = Counter(
        kind for it in flagged_items for kind in {_flag_kind(f) for f in it.flags}
    )
    verdicts_response = Counter(it.sla_response for it in items)
    verdicts_resolution = Counter(it.sla_resolution for it in items)
    met_counts = Counter(it.met for it in items)
    with_updates = [it for it in items if it.cadence_intervals or it.promises_made]
    intervals = sum(it.cadence_intervals for it in with_updates)
    on_time = sum(it.cadence_on_time for it in with_updates)
    made = sum(it.promises_made for it in with_updates)
    kept = sum(it.promises_kept for it in with_updates)
    pm: Counter[str] = Counter()
    for it in items:
        if it.postmortem_rule != "optional" and not it.is_open:
            pm[it.postmortem_rule] += 1
            if it.postmortem_done:
                pm[it.postmortem_rule + "_published"] += 1
            if it.postmortem_overdue:
                pm["overdue"] += 1
    costs = [c for it in items if (c := it.cost) is not None]
    figures = {}
    for name, found in zip(FIGURES, values, strict=True):
        figure = stats(found)
        # Not counted in this figure: the incident is open, or a milestone is missing or
        # out of order (see `flagged`).
        figure["excluded"] = len(items) - len(found)
        figures[name] = figure

    return _summary_dict(
        count=len(items),
        open_=open_,
        flagged=len(flagged_items),
        flag_kinds=flag_kinds,
        figures=figures,
        response=verdicts_response,
        resolution=verdicts_resolution,
        met_counts=met_counts,
        cadence=(intervals, on_time, made, kept),
        pm=pm,
        costs=costs,
    )


def weekly(
    items: Sequence[Measured],
    opts: Options,
    severities: Sequence[str],
    calendar: _Calendar | None = None,
) -> list[dict[str, Any]]:
    """One row per week from `since` to `until` (empty weeks included), by declared time."""
    calendar = calendar or _Calendar(opts.tz)
    weeks_of = calendar._weeks
    counts: dict[date, dict[str, int]] = {}
    mttrs: dict[date, list[float]] = defaultdict(list)
    verdicts: dict[date, list[int]] = {}
    for item in items:
        facts = item.facts
        week = weeks_of.get(facts.declared // 900_000) or calendar.week(facts.declared)
        by_severity = counts.get(week)
        if by_severity is None:
            by_severity = counts[week] = dict.fromkeys(severities, 0)
            verdicts[week] = [0, 0]
        by_severity[facts.severity] = by_severity.get(facts.severity, 0) + 1
        if item.mttr is not None:
            mttrs[week].append(item.mttr)
        if item.met is not None:
            verdicts[week][0 if item.met else 1] += 1
    return _weekly_table(counts, mttrs, verdicts, opts, severities)


def incident_row(item: Measured) -> dict[str, Any]:
    facts = item.facts
    return {
        "id": facts.public_id,
        "title": facts.title,
        "severity": facts.severity,
        "type": facts.type,
        "status": facts.status,
        "services": list(facts.services),
        "declared_at": from_ms(facts.declared).isoformat(),
        **item.seconds,
        "sla_response": item.sla_response or "not_set",
        "sla_resolution": item.sla_resolution or "not_set",
        "sla_met": item.sla_met,
        "update_intervals": item.cadence_intervals,
        "updates_on_time": item.cadence_on_time,
        "postmortem": item.postmortem_rule,
        "postmortem_published": item.postmortem_done,
        "cost": round(item.cost, 2) if item.cost is not None else None,
        "flags": list(item.flags),
    }


def report(
    facts: Iterable[IncidentFacts],
    policy: Policy,
    opts: Options,
    *,
    include_incidents: bool = False,
    flagged_limit: int = 200,
) -> dict[str, Any]:
    """The whole metrics report for the incidents declared in [since, until)."""
    if opts.by not in GROUPINGS:
        raise ValueError(f"unknown grouping {opts.by!r}; choose from {', '.join(GROUPINGS)}")
    origin, now = _origin(opts.mttr_from), ms(opts.now) or 0
    facts = list(facts)
    rules = {severity: _rules(policy, severity) for severity in {f.severity for f in facts}}
    items = [_measure(f, rules[f.severity], origin, now) for f in facts]
    calendar = _Calendar(opts.tz)
    groups: dict[str, list[Measured]] = defaultdict(list)
    by = opts.by
    if by in ("severity", "type"):
        for item in items:
            groups[getattr(item.facts, by)].append(item)
    else:
        for item in items:
            for key in group_keys(item, by, opts, calendar):
                groups[key].append(item)
    order = {s: n for n, s in enumerate(policy.severity_ids())}
    keys = sorted(groups, key=lambda k: (order.get(k, len(order)), k))
    flagged = [item for item in items if item.flags]
    span_days = max((opts.until - opts.since).total_seconds() / 86400, 1e-9)
    result: dict[str, Any] = {
        "since": opts.since.isoformat(),
        "until": opts.until.isoformat(),
        "generated_at": opts.now.isoformat(),
        "by": opts.by,
        "timezone": str(opts.tz) if opts.tz is not None else "UTC",
        "mttr_from": opts.mttr_from,
        "overall": summarise(items),
        "groups": [{"key": key, **summarise(groups[key])} for key in keys],
        "incidents_per_week": len(items) / span_days * 7,
        "weekly": weekly(items, opts, policy.severity_ids(), calendar),
        "flagged": {
            "total": len(flagged),
            "items": [
                {
                    "id": i.facts.public_id,
                    "title": i.facts.title,
                    "severity": i.facts.severity,
                    "flags": list(i.flags),
                }
                for i in flagged[:flagged_limit]
            ],
        },
    }
    if include_incidents:
        result["incidents"] = [incident_row(item) for item in items]
    return result


def reference_report(
    metrics: MetricsService,
    since: datetime,
    until: datetime,
    *,
    by: str = "severity",
    tz: tzinfo | None = None,
    include_incidents: bool = False,
) -> dict[str, Any]:
    """The report computed from the projection and the events (the reference)."""
    opts = metrics.options(since, until, by, tz)
    with metrics.db.read() as conn:
        action_items = metrics._action_items(conn, since, until)
        with no_gc():
            facts = load_facts(conn, since, until)
    with no_gc():
        data = report(facts, metrics.policy, opts, include_incidents=include_incidents)
    data["action_items"] = action_items
    return data
