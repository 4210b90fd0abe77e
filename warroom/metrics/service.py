"""Builds the metrics report.

`report` reads the `incident_metrics` read model (one row per incident, written with the
incident's events; see projection.py) and aggregates it column-wise. `reference_report` is
the original computation, kept as the reference the fast path is tested against: milestones
from the incident projection (`incidents` columns and `state` JSON, the fold of the timeline
events written in the same transaction as the events: event times, never row update times),
and the few events metrics need beyond the fold (status updates, milestone corrections,
backdated milestone events) read from `events` with the `(type, occurred_at)` index.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import BigInteger, String, and_, func, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from warroom.core import audit, tables
from warroom.core.auth import Principal
from warroom.core.clock import Clock
from warroom.core.config import AppConfig
from warroom.core.db import Database
from warroom.metrics import compute, projection
from warroom.metrics.compute import IncidentFacts, Options
from warroom.metrics.readmodel import CORRECTION_EVENT, MILESTONE_EVENTS, UPDATE_EVENT
from warroom.policy import Policy


class MetricsService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        config: AppConfig,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.config = config

    def teams(self) -> dict[str, str | None]:
        """Service -> owning team, from the service catalog (`owner_team`)."""
        return {s.name: s.owner_team for s in self.config.services}

    def options(
        self,
        since: datetime,
        until: datetime,
        by: str = "severity",
        tz: tzinfo | None = None,
    ) -> Options:
        return Options(
            since=since,
            until=until,
            now=self.clock.now(),
            by=by,
            tz=tz,
            mttr_from=self.policy.mttr_from,
            teams=self.teams(),
        )

    def report(
        self,
        since: datetime,
        until: datetime,
        *,
        by: str = "severity",
        tz: tzinfo | None = None,
        include_incidents: bool = False,
    ) -> dict[str, Any]:
        """The report from the `incident_metrics` read model (the same as `reference_report`)."""
        opts = self.options(since, until, by, tz)
        if by not in compute.GROUPINGS:
            raise ValueError(f"unknown grouping {by!r}; choose from {', '.join(compute.GROUPINGS)}")
        cutoff = compute.ms(since - EVENT_MARGIN) or 0
        with self.db.read() as conn:
            action_items = self._action_items(conn, since, until)
            with no_gc():
                rows = projection.measured_rows(
                    conn, self.policy, opts, cutoff, include_incidents=include_incidents
                )
                data = compute.report_rows(
                    rows,
                    self.policy,
                    opts,
                    lambda ids: projection.details(conn, ids),
                    include_incidents=include_incidents,
                )
        data["action_items"] = action_items
        return data

    def rebuild(self, *, everything: bool = False) -> int:
        """Write the read-model rows that are missing, behind or computed under other rules
        (all of them with `everything`); returns how many were written."""
        return projection.rebuild(self.db, self.policy, everything=everything)

    def rebuild_as(self, principal: Principal, *, everything: bool = False) -> dict[str, Any]:
        """`rebuild` for an admin, recorded in the audit log."""
        principal.require("admin")
        started = self.clock.now()
        written = self.rebuild(everything=everything)
        with self.db.write() as conn:
            total = conn.execute(select(func.count()).select_from(tables.incidents)).scalar_one()
            audit.record(
                conn,
                actor=principal.actor,
                action="metrics.rebuild",
                target="incident_metrics",
                now=started,
                details={"all": everything, "written": written},
            )
        return {"written": written, "incidents": int(total), "all": everything}

    def reference_report(
        self,
        since: datetime,
        until: datetime,
        *,
        by: str = "severity",
        tz: tzinfo | None = None,
        include_incidents: bool = False,
    ) -> dict[str, Any]:
        """The report computed from the projection and the events (the reference)."""
        opts = self.options(since, until, by, tz)
        with self.db.read() as conn:
            action_items = self._action_items(conn, since, until)
            with no_gc():
                facts = load_facts(conn, since, until)
        with no_gc():
            data = compute.report(facts, self.policy, opts, include_incidents=include_incidents)
        data["action_items"] = action_items
        return data

    def _action_items(self, conn: Connection, since: datetime, until: datetime) -> dict[str, Any]:
        """Action-item completion, from the post-mortem package."""
        from warroom.postmortems.service import action_item_stats

        return {"available": True, **action_item_stats(conn, since, until)}


class epoch_ms(FunctionElement[int]):
    """Epoch milliseconds of a UTC datetime column, computed by the database."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_ms"


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects: the
    report allocates a few per incident, and generational passes over 100,000s of live
    objects would otherwise dominate. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


# Events of the period's incidents are read by type from `since - EVENT_MARGIN` on (the
# `(type, occurred_at)` index), then kept only for the period's incidents. The margin covers
# milestones backdated before their incident's declaration.
EVENT_MARGIN = timedelta(days=30)


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


def parse_moment(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """An ISO date or datetime (naive ones in `tz`, UTC by default), or a duration ago (`30d`)."""
    from warroom.core.durations import parse_duration

    value = text.strip()
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz or UTC)
    return parsed.astimezone(UTC)
