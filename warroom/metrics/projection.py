"""Keeps `incident_metrics` up to date and reads it for the report.

- `MetricsProjector` is an incident projector (see `IncidentService.projectors`): it writes an
  incident's row in the same transaction as the incident's new events, so the row commits or
  rolls back with them. Rows only move forward: an upsert never replaces a newer version.
- `rebuild` fills or refreshes rows for existing incidents (`warroom metrics rebuild`).
- `measured_rows` reads one measured row per incident of a period: a row whose version matches
  its incident's and whose figures were computed under today's rules is used as stored; the
  others are computed from the stored facts, or from the events when the row is missing or
  behind, so the report is right even before a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, case, false, literal, null, or_, select, true
from sqlalchemy.engine import Connection

from warroom.core import tables
from warroom.core.db import Database, DriverRows
from warroom.core.upsert import InsertOf, Upsert
from warroom.incidents.model import Event, IncidentState
from warroom.metrics import compute, readmodel
from warroom.metrics.compute import Details, MeasuredRow, Options
from warroom.metrics.readmodel import Extra, Folded, Identity
from warroom.metrics.tables import incident_metrics
from warroom.policy import Policy

_CHUNK = 500


def _upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update rows, never replacing a row of a newer incident version."""
    _UPSERT.execute(conn, rows)


_BUMP_VERSION = DriverRows(
    incident_metrics.update()
    .where(
        incident_metrics.c.incident_id == bindparam("incident"),
        incident_metrics.c.version == bindparam("previous"),
    )
    .values(version=bindparam("new_version"))
)


def _newer_version_upsert(insert_of: InsertOf) -> Any:
    m = incident_metrics
    insert = insert_of(m).values({c.name: bindparam(c.name) for c in m.columns})
    return insert.on_conflict_do_update(
        index_elements=[m.c.incident_id],
        set_={c.name: insert.excluded[c.name] for c in m.columns if c.name != "incident_id"},
        where=m.c.version <= insert.excluded.version,
    )


# Built once per dialect: the same statement on every incident write, straight through the
# driver (the row holds only numbers and text).
_UPSERT = DriverRows(Upsert(_newer_version_upsert))


def _identity(state: IncidentState, incident_id: int) -> Identity:
    return Identity(
        incident_id,
        state.public_id,
        state.title,
        state.severity,
        state.type,
        state.status.value,
        tuple(state.services),
    )


def _stored_events(
    conn: Connection, ids: Sequence[int], versions: Mapping[int, int]
) -> dict[int, list[Event]]:
    """The metrics-relevant events of the incidents, up to each one's version, in seq order."""
    e = tables.events
    found: dict[int, list[Event]] = {n: [] for n in ids}
    rows = conn.execute(
        select(e.c.incident_id, e.c.seq, e.c.type, e.c.occurred_at, e.c.recorded_at, e.c.data)
        .where(e.c.incident_id.in_(list(ids)), e.c.type.in_(readmodel.EXTRA_EVENTS))
        .order_by(e.c.incident_id, e.c.seq)
    ).all()
    for incident_id, seq, kind, occurred, recorded, data in rows:
        if seq <= versions[incident_id]:
            found[incident_id].append(Event(kind, "", occurred, data or {}, recorded, seq))
    return found


class MetricsProjector:
    """Writes an incident's `incident_metrics` row with each change to the incident."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(
        self,
        conn: Connection,
        *,
        incident_id: int,
        version: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> None:
        m = incident_metrics
        first = version - len(events) + 1
        who = _identity(after, incident_id)
        if (
            before is not None
            and not any(event.type in readmodel.EXTRA_EVENTS for event in events)
            and _identity(before, incident_id) == who
            and Folded.of(before) == Folded.of(after)
        ):
            # Nothing the row holds changed (a note, a page, an attached alert): move its
            # version on, if it is the row of the version before.
            bumped = _BUMP_VERSION.execute(
                conn, [{"incident": incident_id, "new_version": version, "previous": first - 1}]
            )
            if bumped == 1:
                return
        previous = None
        if before is not None:
            previous = conn.execute(
                select(m.c.version, m.c.extra).where(m.c.incident_id == incident_id)
            ).first()
        if before is None or (previous is not None and previous.version == first - 1):
            extra = Extra.from_text(previous.extra if previous is not None else None)
            for seq, event in enumerate(events, start=first):
                extra.add(replace(event, seq=seq, recorded_at=now))
        else:  # no row yet, or one behind: take the whole timeline (the new events included)
            extra = Extra.of(
                _stored_events(conn, [incident_id], {incident_id: version})[incident_id]
            )
        _upsert(
            conn,
            [
                readmodel.row(
                    who, version, Folded.of(after), extra, self.policy, self.policy.mttr_from
                )
            ],
        )


# Above this many rows to write, `rebuild` reads the events by type in one pass (the
# `(type, occurred_at)` index) instead of incident by incident.
_BULK = 5000


def rebuild(db: Database, policy: Policy, *, everything: bool = False) -> int:
    """Write the rows of incidents whose row is missing, behind, or computed under other rules
    (every incident with `everything`). Returns how many rows were written.

    Safe while incidents are being written: each row is computed from one snapshot of the
    incident (its state and events up to its version), and an upsert never replaces a row of
    a newer version, which the projector may have written meanwhile."""
    wanted = _wanted(db, policy, everything)
    if len(wanted) <= _BULK:
        for chunk in _chunks(wanted):
            with db.write() as conn:
                _upsert(conn, _rows_of(conn, chunk, policy, None))
        return len(wanted)
    want = set(wanted)
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for the whole pass
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            extras = _bulk_extras(conn, want)
            for chunk in _chunks(wanted, 2000):
                rows = _rows_of(conn, chunk, policy, extras)
                with db.write() as out:
                    _upsert(out, rows)
    return len(wanted)


def _wanted(db: Database, policy: Policy, everything: bool) -> list[int]:
    i, m = tables.incidents, incident_metrics
    keys: dict[str, str] = {}
    wanted = []
    with db.read() as conn:
        for incident_id, version, severity, stored, rules in conn.execute(
            select(i.c.id, i.c.version, i.c.severity, m.c.version, m.c.rules)
            .select_from(i.outerjoin(m, m.c.incident_id == i.c.id))
            .order_by(i.c.id)
        ):
            key = keys.get(severity)
            if key is None:
                key = keys[severity] = readmodel.rules_key(policy, severity, policy.mttr_from)
            if everything or stored != version or rules != key:
                wanted.append(int(incident_id))
    return wanted


def _bulk_extras(conn: Connection, want: set[int]) -> dict[int, Extra]:
    """The `Extra` of every wanted incident, from one pass over the events by type."""
    e = tables.events
    found: dict[int, Extra] = {}
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        select(
            e.c.incident_id, e.c.seq, e.c.type, e.c.occurred_at, e.c.recorded_at, e.c.data
        ).where(e.c.type.in_(readmodel.EXTRA_EVENTS))
    )
    for incident_id, seq, kind, occurred, recorded, data in result:
        if incident_id in want:
            extra = found.get(incident_id)
            if extra is None:
                extra = found[incident_id] = Extra()
            extra.add(Event(kind, "", occurred, data or {}, recorded, seq))
    return found


def _rows_of(
    conn: Connection, ids: Sequence[int], policy: Policy, extras: Mapping[int, Extra] | None
) -> list[dict[str, Any]]:
    """The rows of the incidents as they are in `conn`'s snapshot."""
    i = tables.incidents
    rows = conn.execute(select(i.c.id, i.c.version, i.c.state).where(i.c.id.in_(list(ids)))).all()
    versions = {int(r.id): int(r.version) for r in rows}
    timelines = _stored_events(conn, ids, versions) if extras is None else None
    values = []
    for r in rows:
        incident_id = int(r.id)
        state = IncidentState.from_dict(r.state)
        if timelines is not None:
            extra = Extra.of(timelines[incident_id])
        else:  # read in bulk: an incident without any of the events has no entry
            extra = (extras or {}).get(incident_id) or Extra()
        values.append(
            readmodel.row(
                _identity(state, incident_id),
                versions[incident_id],
                Folded.of(state),
                extra,
                policy,
                policy.mttr_from,
            )
        )
    return values


def _chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# ---- reading ----------------------------------------------------------------------------------


# How a period row is read: as stored, from the stored facts, or from the events.
_STORED, _FROM_FACTS, _FROM_EVENTS = 0, 1, 2


def measured_rows(
    conn: Connection, policy: Policy, opts: Options, cutoff: int, *, include_incidents: bool
) -> list[MeasuredRow]:
    """One measured row per incident declared in [since, until), by declared time then id.
    `cutoff`: events before it (epoch milliseconds) are left out, as the reference does. The
    type and services are left out (None) unless the grouping or the incident list needs them."""
    i, m = tables.incidents, incident_metrics
    severities = [*policy.severity_ids()]
    # The rules each severity's stored figures must have been computed under.
    expected = case(
        {s: readmodel.rules_key(policy, s, opts.mttr_from) for s in severities},
        value=m.c.severity,
        else_=readmodel.rules_key(policy, "", opts.mttr_from),
    )
    now = compute.ms(opts.now) or 0
    at = literal(now, BigInteger())

    def wanted(*groupings: str) -> bool:  # read a text column only when the report uses it
        return include_incidents or opts.by in groupings

    # Stored figures are used when the row is current, computed under today's rules, holds
    # every event the reference reads, and, for an unresolved incident, no update is after now.
    how = case(
        (or_(m.c.version.is_(None), m.c.version != i.c.version), _FROM_EVENTS),
        (
            and_(
                m.c.rules == expected,
                or_(m.c.earliest.is_(None), m.c.earliest >= cutoff),
                or_(
                    m.c.resolved.is_not(None),
                    and_(m.c.declared < at, or_(m.c.last_update.is_(None), m.c.last_update <= at)),
                ),
            ),
            _STORED,
        ),
        else_=_FROM_FACTS,
    )
    # What depends on now (see readmodel.figures).
    response = case(
        (m.c.response_due.is_(None), m.c.sla_response),
        (at > m.c.response_due, "missed"),
        else_="pending",
    )
    resolution = case(
        (m.c.resolution_due.is_(None), m.c.sla_resolution),
        (at > m.c.resolution_due, "missed"),
        else_="pending",
    )
    met = case(
        (or_(response == "missed", resolution == "missed"), false()),
        (
            and_(
                or_(response == "met", resolution == "met"),
                or_(response == "met", response.is_(None)),
                or_(resolution == "met", resolution.is_(None)),
            ),
            true(),
        ),
        else_=null(),
    )
    since_last = at - m.c.cadence_last
    intervals = m.c.update_intervals + case(
        (
            and_(m.c.cadence_interval.is_not(None), since_last > m.c.cadence_interval),
            (since_last + m.c.cadence_interval - 1) // m.c.cadence_interval - 1,
        ),
        else_=0,
    )
    promised = m.c.promises_due + case(
        (and_(m.c.last_promise.is_not(None), m.c.last_promise < at), 1), else_=0
    )
    query = (
        select(
            i.c.id,
            m.c.declared,
            m.c.severity,
            m.c.type if wanted("type") else null(),
            m.c.services if wanted("service", "team") else null(),
            m.c.status.not_in(("resolved", "closed")),
            m.c.time_to_detect,
            m.c.time_to_acknowledge,
            m.c.time_to_mitigate,
            m.c.time_to_resolve,
            m.c.mttr,
            m.c.flags,
            response,
            resolution,
            met,
            intervals,
            m.c.updates_on_time,
            promised,
            m.c.promises_kept,
            m.c.postmortem_rule,
            m.c.postmortem_done,
            and_(m.c.postmortem_due.is_not(None), m.c.postmortem_due < at),
            m.c.cost,
            how,
        )
        .select_from(i.outerjoin(m, m.c.incident_id == i.c.id))
        .where(i.c.declared_at >= opts.since, i.c.declared_at < opts.until)
        .order_by(i.c.declared_at, i.c.id)
    )
    rows: list[Any] = list(_raw(conn, query))
    from_facts: dict[int, int] = {}
    from_events: dict[int, int] = {}
    for position, r in enumerate(rows):
        if r[23] != _STORED:
            (from_facts if r[23] == _FROM_FACTS else from_events)[r[0]] = position
    if from_facts or from_events:
        _compute_rest(conn, policy, opts, cutoff, rows, from_facts, from_events)
    return rows


def _compute_rest(
    conn: Connection,
    policy: Policy,
    opts: Options,
    cutoff: int,
    rows: list[Any],
    from_facts: Mapping[int, int],
    from_events: Mapping[int, int],
) -> None:
    """Compute the rows that cannot be used as stored, the way the reference does."""
    i, m = tables.incidents, incident_metrics
    origin, now = compute._origin(opts.mttr_from), compute.ms(opts.now) or 0
    rules_of: dict[str, Any] = {}

    def put(position: int, who: Identity, folded: Folded, extra: Extra) -> None:
        facts = readmodel.facts(who, folded, extra, cutoff)
        if who.severity not in rules_of:
            rules_of[who.severity] = compute._rules(policy, who.severity)
        rows[position] = compute.measured_row(
            compute._measure(facts, rules_of[who.severity], origin, now)
        )

    parse = compute._Services()
    for chunk in _chunks(list(from_facts)):
        query = (
            select(
                m.c.incident_id,
                m.c.severity,
                m.c.type,
                m.c.status,
                m.c.services,
                m.c.declared,
                m.c.started,
                m.c.detected,
                m.c.acknowledged,
                m.c.mitigated,
                m.c.resolved,
                m.c.reopen_count,
                m.c.revenue_per_hour,
                m.c.postmortem_status,
                m.c.extra,
            )
        ).where(m.c.incident_id.in_(chunk))
        for r in _raw(conn, query):
            who = Identity(r[0], "", "", r[1], r[2], r[3], parse(r[4]))
            put(from_facts[r[0]], who, Folded(*r[5:14]), Extra.from_text(r[14]))
    for chunk in _chunks(list(from_events)):
        states = conn.execute(select(i.c.id, i.c.version, i.c.state).where(i.c.id.in_(chunk))).all()
        versions = {int(s.id): int(s.version) for s in states}
        timelines = _stored_events(conn, chunk, versions)
        for s in states:
            state = IncidentState.from_dict(s.state)
            put(
                from_events[int(s.id)],
                _identity(state, int(s.id)),
                Folded.of(state),
                Extra.of(timelines[int(s.id)]),
            )


def details(conn: Connection, ids: Iterable[int]) -> dict[int, Details]:
    """Public id, title and status of the listed incidents."""
    i = tables.incidents
    found: dict[int, Details] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        for incident_id, public_id, title, status in conn.execute(
            select(i.c.id, i.c.public_id, i.c.title, i.c.status).where(i.c.id.in_(chunk))
        ):
            found[int(incident_id)] = Details(public_id, title, status)
    return found


def _raw(conn: Connection, query: Any) -> Sequence[Any]:
    """All rows as plain DBAPI tuples (every selected value is a plain int, float or text)."""
    result = conn.execute(query)
    try:
        rows: Sequence[Any] = result.cursor.fetchall()
    finally:
        result.close()
    return rows
