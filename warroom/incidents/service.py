"""Incident use cases. Each runs in one transaction: lock, fold, guard, append, project, enqueue."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from warroom.core import outbox, tables
from warroom.core.auth import Principal
from warroom.core.clock import Clock, ensure_utc
from warroom.core.db import Database, DriverRows, driver_json, driver_time
from warroom.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from warroom.core.ids import next_incident_id
from warroom.core.vocab import IncidentType, Status
from warroom.incidents import schemas, stops
from warroom.incidents.conditions import SYSTEM_FLAGS, flag_events
from warroom.incidents.lifecycle import MoveRequest, check_move, unmet_guards
from warroom.incidents.model import MILESTONES, Event, IncidentState, apply, initial_state
from warroom.incidents.people import same_person
from warroom.policy import Policy
from warroom.policy.triage import TriageProposal, propose

# A future timestamp a little ahead of our clock is tolerated (senders' clocks drift).
_CLOCK_SKEW = timedelta(minutes=5)


# Prebuilt statements (declares and appends run in bulk during alert intake).
# An incident's row, as `_projection` gives it (with its version).
_PROJECTED = [c.name for c in tables.incidents.columns if c.name != "id"]
_INSERT_INCIDENT = DriverRows(
    insert(tables.incidents)
    .values({name: bindparam(name) for name in _PROJECTED})
    .returning(tables.incidents.c.id)
)
_UPDATE_INCIDENT = DriverRows(
    update(tables.incidents)
    .where(
        tables.incidents.c.id == bindparam("b_id"),
        tables.incidents.c.version == bindparam("b_version"),
    )
    .values({name: bindparam(name) for name in _PROJECTED})
)
_EVENT_COLUMNS = ("incident_id", "seq", "type", "actor", "occurred_at", "recorded_at", "data")
_INSERT_EVENTS = DriverRows(
    insert(tables.events).values({name: bindparam(name) for name in _EVENT_COLUMNS})
)
_INSERT_SERVICES = DriverRows(
    insert(tables.incident_services).values(
        service=bindparam("service"), incident_id=bindparam("incident_id")
    )
)
_BY_PUBLIC_ID = tables.incidents.c.public_id == bindparam("public")
_ID_OF = select(tables.incidents.c.id).where(_BY_PUBLIC_ID)
_ROW = select(tables.incidents.c.id, tables.incidents.c.version, tables.incidents.c.state).where(
    _BY_PUBLIC_ID
)
_LOAD = DriverRows(_ROW)
_LOAD_LOCKED = DriverRows(_ROW.with_for_update())


def _public(public_id: str) -> str:
    """An incident's public id as stored (`inc-20261207-001` is `INC-20261207-001`)."""
    return public_id.strip().upper()


class Reactor(Protocol):
    """Plans side effects for newly appended events (pure: no I/O)."""

    def __call__(
        self,
        *,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> list[outbox.Effect]: ...


class Projector(Protocol):
    """Keeps a read model of another package up to date with newly appended events.

    Called inside the use case's transaction, after the events and the projection row are
    written (`version` is the incident's version after the append), so the read model commits
    or rolls back with them. It may write its own tables through `conn`, never commit.
    """

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
    ) -> None: ...


@dataclass(frozen=True)
class Loaded:
    """An incident row read inside a transaction: its key, version and state."""

    id: int
    version: int
    state: IncidentState


@dataclass(frozen=True)
class IncidentPage:
    items: list[dict[str, Any]]
    next_cursor: int | None


class IncidentService:
    """The only writer of incidents and their events."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        *,
        known_services: Sequence[str] = (),
        reactors: Sequence[Reactor] = (),
        projectors: Sequence[Projector] = (),
        after_commit: Sequence[Callable[[IncidentState], None]] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.known_services = tuple(known_services)
        self.reactors = list(reactors)
        self.projectors = list(projectors)
        self.after_commit = list(after_commit)

    # ---- reads -------------------------------------------------------------------------

    def get(self, public_id: str) -> IncidentState:
        with self.db.read() as conn:
            return self.load_in(conn, public_id).state

    def load_in(self, conn: Connection, public_id: str, *, lock: bool = False) -> Loaded:
        """The incident inside a caller's transaction (`lock`: FOR UPDATE on PostgreSQL), to
        decide on and then `append_in` to without reading it twice."""
        lock = lock and conn.dialect.name == "postgresql"
        found = (_LOAD_LOCKED if lock else _LOAD).execute_one(conn, {"public": _public(public_id)})
        row = found.first()
        if row is None:
            raise NotFound(f"no incident {public_id}")
        incident_id, version, state = tuple(row)
        # Straight from the driver: SQLite gives JSON as text, psycopg already decoded.
        if isinstance(state, str):
            state = json.loads(state)
        return Loaded(int(incident_id), int(version), IncidentState.from_dict(state))

    def append_in(self, conn: Connection, loaded: Loaded, events: list[Event]) -> IncidentState:
        """Append events to an incident read by `load_in` in this same transaction."""
        now = self.clock.now()
        return self._append(conn, loaded.id, loaded.version, loaded.state, events, now)

    def timeline(
        self,
        public_id: str,
        *,
        order: str = "occurred",
        types: Collection[str] | None = None,
        after_seq: int = 0,
    ) -> list[Event]:
        """The incident's events; `types` keeps only those event types and `after_seq` only
        the events recorded after that one (both filtered in SQL)."""
        e = tables.events
        # Raw columns: parsing ISO text and JSON ourselves is several times faster than the
        # generic type processors, and timelines of thousands of events are read often.
        raw = NullType()
        with self.db.read() as conn:
            incident_id = self._id_of(conn, public_id)
            rows = conn.execute(
                select(
                    e.c.seq,
                    e.c.type,
                    e.c.actor,
                    type_coerce(e.c.occurred_at, raw),
                    type_coerce(e.c.recorded_at, raw),
                    type_coerce(e.c.data, raw),
                )
                .where(
                    e.c.incident_id == incident_id,
                    *([e.c.type.in_(list(types))] if types is not None else []),
                    *([e.c.seq > after_seq] if after_seq else []),
                )
                .order_by(e.c.seq)
            ).all()
        events = [
            Event(
                type=kind,
                actor=actor,
                occurred_at=_raw_time(occurred),
                data=json.loads(data) if isinstance(data, str | bytes) else data,
                recorded_at=_raw_time(recorded),
                seq=seq,
            )
            for seq, kind, actor, occurred, recorded, data in rows
        ]
        if order == "occurred":
            events.sort(key=lambda e: (e.occurred_at, e.seq or 0))
        return events

    def search(self, flt: schemas.ListFilter) -> IncidentPage:
        i = tables.incidents
        query = select(
            i.c.id,
            i.c.public_id,
            i.c.title,
            i.c.severity,
            i.c.type,
            i.c.status,
            i.c.services,
            i.c.declared_at,
            i.c.started_at,
            i.c.acknowledged_at,
            i.c.resolved_at,
            i.c.updated_at,
            i.c.state[("roles", "commander")].as_string().label("commander"),
        )
        conditions: list[ColumnElement[bool]] = []
        if flt.status:
            conditions.append(i.c.status.in_([s.value for s in flt.status]))
        if flt.severity:
            ids = [self.policy.severity(s).id for s in flt.severity]
            conditions.append(i.c.severity.in_(ids))
        if flt.open is not None:
            conditions.append(i.c.is_open == flt.open)
        if flt.q:
            pattern = "%" + flt.q.lower().replace("%", r"\%").replace("_", r"\_") + "%"
            conditions.append(
                or_(
                    func.lower(i.c.title).like(pattern, escape="\\"),
                    func.lower(i.c.summary).like(pattern, escape="\\"),
                    func.lower(i.c.public_id).like(pattern, escape="\\"),
                )
            )
        if flt.before_id is not None:
            conditions.append(i.c.id < flt.before_id)
        newest_first = i.c.id.desc()
        if flt.service:
            s = tables.incident_services
            query = query.join(s, and_(s.c.incident_id == i.c.id, s.c.service == flt.service))
            # Ordering by the link table's key walks its (service, incident_id) index backwards
            # and stops at the limit, instead of sorting every incident of the service.
            newest_first = s.c.incident_id.desc()
            if flt.before_id is not None:
                conditions.append(s.c.incident_id < flt.before_id)
        if conditions:
            query = query.where(and_(*conditions))
        query = query.order_by(newest_first).limit(flt.limit + 1)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > flt.limit
        rows = rows[: flt.limit]
        items = [
            {
                "id": r.public_id,
                "title": r.title,
                "severity": r.severity,
                "type": r.type,
                "status": r.status,
                "services": r.services,
                "declared_at": r.declared_at,
                "started_at": r.started_at,
                "acknowledged_at": r.acknowledged_at,
                "resolved_at": r.resolved_at,
                "updated_at": r.updated_at,
                "commander": r.commander,
            }
            for r in rows
        ]
        return IncidentPage(items=items, next_cursor=rows[-1].id if more and rows else None)

    def propose_triage(self, answers: schemas.TriageIn) -> TriageProposal:
        return propose(self.policy, _answers(answers))

    # ---- writes ------------------------------------------------------------------------

    def declare(self, principal: Principal, request: schemas.DeclareIn) -> IncidentState:
        principal.require("responder")
        now = self.clock.now()
        self._check_services(request.services)
        severity, incident_type, triage = self._classify(request)
        detected_at = request.detected_at or now
        started_at = request.started_at or detected_at
        if detected_at > now + _CLOCK_SKEW or started_at > now + _CLOCK_SKEW:
            raise InvalidInput("started_at and detected_at cannot be in the future")
        if started_at > detected_at:
            raise InvalidInput("started_at (impact began) must not be after detected_at")
        with self.db.write() as conn:
            public_id = next_incident_id(conn, now)
            data: dict[str, Any] = {
                "public_id": public_id,
                "title": request.title,
                "summary": request.summary,
                "severity": severity,
                "type": incident_type,
                "services": request.services,
                "labels": request.labels,
                "impact": request.impact.model_dump(exclude_none=True),
                "started_at": started_at.isoformat(),
                "detected_at": detected_at.isoformat(),
                "roles": {role.value: person for role, person in request.roles.items()},
                "source": "manual",
            }
            events = [Event("declared", principal.actor, now, data)]
            if triage is not None:
                events.append(Event("triaged", principal.actor, now, triage))
            events += flag_events(
                {},
                answers=triage["answers"] if triage is not None else None,
                impact=data["impact"],
                actor=principal.actor,
                now=now,
            )
            _, state = self._insert(conn, events, now)
        self._after(state)
        return state

    def insert_declared(
        self,
        conn: Connection,
        actor: str,
        data: dict[str, Any],
        now: datetime,
        more: Sequence[Event] = (),
    ) -> tuple[int, IncidentState]:
        """Declare inside a caller's transaction (alert intake auto-declares this way), with
        `more` events appended in the same insert (reactors see them all at once)."""
        public_id = next_incident_id(conn, now)
        payload = {**data, "public_id": public_id}
        return self._insert(conn, [Event("declared", actor, now, payload), *more], now)

    def acknowledge(self, principal: Principal, public_id: str) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            if not state.status.awaiting_ack:
                raise Conflict(
                    f"{public_id} is {state.status.value}; only triggered or reopened incidents "
                    "can be acknowledged",
                    code="illegal_transition",
                )
            return [Event("acknowledged", principal.actor, now, {})]

        return self.mutate(principal, public_id, build)

    def move(
        self, principal: Principal, public_id: str, request: schemas.StatusIn
    ) -> IncidentState:
        """Move to a working status; resolve, close and reopen have their own use cases."""
        if request.status in (Status.RESOLVED, Status.CLOSED, Status.REOPENED):
            action = {Status.RESOLVED: "resolve", Status.CLOSED: "close", Status.REOPENED: "reopen"}
            raise InvalidInput(
                f"use the {action[request.status]} action to move to "
                f"{request.status.value}: it takes the data its guard needs",
                code="use_dedicated_action",
            )
        if request.status is Status.ACKNOWLEDGED:
            return self.acknowledge(principal, public_id)
        if request.status is Status.TRIGGERED:
            raise InvalidInput("an incident cannot move back to triggered")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            check_move(
                state, MoveRequest(target=request.status, reason=request.reason), self.policy
            )
            data = {"from": state.status.value, "to": request.status.value}
            if request.reason:
                data["reason"] = request.reason
            return [Event("status_changed", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def change_severity(
        self, principal: Principal, public_id: str, request: schemas.SeverityIn
    ) -> IncidentState:
        level = self.policy.severity(request.severity)

        def build(state: IncidentState, now: datetime) -> list[Event]:
            if level.id == state.severity:
                raise Conflict(f"{public_id} is already {level.id}", code="no_change")
            data = {"from": state.severity, "to": level.id, "reason": request.reason or ""}
            return [Event("severity_changed", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def change_type(
        self, principal: Principal, public_id: str, request: schemas.TypeIn
    ) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            if request.type.value == state.type:
                raise Conflict(f"{public_id} is already {state.type}", code="no_change")
            data = {"from": state.type, "to": request.type.value, "reason": request.reason or ""}
            return [Event("type_changed", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def assign_role(
        self, principal: Principal, public_id: str, request: schemas.RoleIn
    ) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            person = request.person.strip() if request.person else None
            data = {
                "role": request.role.value,
                "person": person,
                "previous": state.roles.get(request.role.value),
            }
            return [Event("role_assigned", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def add_note(
        self, principal: Principal, public_id: str, request: schemas.NoteIn
    ) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            occurred = request.occurred_at or now
            if occurred > now + _CLOCK_SKEW:
                raise InvalidInput("a note cannot be dated in the future")
            data: dict[str, Any] = {"text": request.text}
            if request.occurred_at is not None:
                data["backdated"] = True
            return [Event("note_added", principal.actor, occurred, data)]

        return self.mutate(principal, public_id, build)

    def update_details(
        self, principal: Principal, public_id: str, request: schemas.DetailsIn
    ) -> IncidentState:
        changes = request.model_dump(exclude_none=True)
        if not changes:
            raise InvalidInput("nothing to update: give title, summary, services, labels or impact")
        if request.services is not None:
            self._check_services(request.services)

        def build(state: IncidentState, now: datetime) -> list[Event]:
            events = [Event("details_updated", principal.actor, now, changes)]
            return events + flag_events(
                state.flags,
                answers=None,
                impact=changes.get("impact"),
                actor=principal.actor,
                now=now,
            )

        return self.mutate(principal, public_id, build)

    def resolve(
        self, principal: Principal, public_id: str, request: schemas.ResolveIn
    ) -> IncidentState:
        checklist = {k: v.model_dump(exclude_none=True) for k, v in request.checklist.items()}
        known = {item.id for item in self.policy.resolution_checklist}
        unknown = sorted(set(checklist) - known)
        if unknown:
            raise InvalidInput(
                f"unknown checklist item(s) {', '.join(unknown)}; the policy's items are "
                f"{', '.join(sorted(known))}"
            )

        waiver = (request.waive_verification or "").strip() or None
        if request.waive_verification is not None and waiver is None:
            raise InvalidInput("waiving the verification needs a reason", code="reason_required")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            role = self._waiver_role(principal, state) if waiver else None
            move = MoveRequest(
                target=Status.RESOLVED,
                resolution_summary=request.summary,
                checklist=checklist,
                at=now,
                verification_waiver=waiver,
                root_cause=request.root_cause,
                permanent_fix=request.permanent_fix,
            )
            check_move(state, move, self.policy)
            data: dict[str, Any] = {
                "from": state.status.value,
                "summary": request.summary.strip(),
                "checklist": checklist,
            }
            if request.root_cause.strip():
                data["root_cause"] = request.root_cause.strip()
            if request.permanent_fix.strip():
                data["permanent_fix"] = request.permanent_fix.strip()
            events = []
            without = replace(move, verification_waiver=None)
            if waiver and any(
                u.guard == "verification" for u in unmet_guards(state, without, self.policy)
            ):
                waived = {"guard": "verification", "reason": waiver, "role": role}
                data["waived"] = waived
                events.append(Event("guard_waived", principal.actor, now, waived))
            return [*events, Event("resolved", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def close(self, principal: Principal, public_id: str) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            move = MoveRequest(target=Status.CLOSED, by_agent=principal.is_agent)
            check_move(state, move, self.policy)
            return [Event("closed", principal.actor, now, {})]

        return self.mutate(principal, public_id, build)

    def reopen(
        self, principal: Principal, public_id: str, request: schemas.ReasonIn
    ) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            check_move(
                state, MoveRequest(target=Status.REOPENED, reason=request.reason), self.policy
            )
            data = {"from": state.status.value, "reason": request.reason.strip()}
            return [Event("reopened", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def schedule_postmortem(
        self, principal: Principal, public_id: str, request: schemas.PostmortemScheduleIn
    ) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            if request.due_at < now - _CLOCK_SKEW:
                raise InvalidInput("the post-mortem due date is in the past")
            data = {"owner": request.owner.strip(), "due_at": request.due_at.isoformat()}
            previous = (state.postmortem or {}).get("due_at")
            if previous:
                before = ensure_utc(datetime.fromisoformat(str(previous)))
                reason = (request.reason or "").strip()
                if abs(request.due_at - before) > _CLOCK_SKEW:
                    if not reason:
                        raise InvalidInput(
                            f"moving the post-mortem due date (from {before.isoformat()}) "
                            "needs a reason",
                            code="reason_required",
                        )
                    data.update(previous_due_at=before.isoformat(), reason=reason)
            return [Event("postmortem_scheduled", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def record_triage(
        self, principal: Principal, public_id: str, request: schemas.TriageRecordIn
    ) -> IncidentState:
        proposal = propose(self.policy, _answers(request.answers))
        severity = self._triaged_severity(request.severity, proposal)
        incident_type = request.type.value if request.type else proposal.type.value
        data = _triage_data(
            request.answers, proposal, severity, incident_type, request.override_reason
        )

        def build(state: IncidentState, now: datetime) -> list[Event]:
            events = [Event("triaged", principal.actor, now, data)]
            events += flag_events(
                state.flags, answers=data["answers"], impact=None, actor=principal.actor, now=now
            )
            if severity != state.severity:
                events.append(
                    Event(
                        "severity_changed",
                        principal.actor,
                        now,
                        {"from": state.severity, "to": severity, "reason": "triage"},
                    )
                )
            return events

        return self.mutate(principal, public_id, build)

    def correct_milestone(
        self, principal: Principal, public_id: str, request: schemas.MilestoneIn
    ) -> IncidentState:
        allowed = ("started_at", "detected_at", "acknowledged_at", "mitigated_at")
        if request.milestone not in allowed:
            raise InvalidInput(f"milestone must be one of {', '.join(allowed)}")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            if request.at > now + _CLOCK_SKEW:
                raise InvalidInput("a milestone cannot be in the future")
            previous = getattr(state, request.milestone)
            data = {
                "milestone": request.milestone,
                "at": request.at.isoformat(),
                "previous": previous.isoformat() if previous else None,
                "reason": request.reason,
            }
            return [Event("milestone_corrected", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def set_flag(
        self, principal: Principal, public_id: str, request: schemas.FlagIn
    ) -> IncidentState:
        if request.flag in SYSTEM_FLAGS:
            raise InvalidInput(
                f"{request.flag} is set by warroom itself (verification and MUST STOP depend on "
                "it); it cannot be set by hand",
                code="system_flag",
            )

        def build(state: IncidentState, now: datetime) -> list[Event]:
            if state.flags.get(request.flag, False) == request.value:
                raise Conflict(f"{request.flag} is already {request.value}", code="no_change")
            data = {"flag": request.flag, "value": request.value, "reason": request.reason or ""}
            return [Event("flag_set", principal.actor, now, data)]

        return self.mutate(principal, public_id, build)

    def _waiver_role(self, principal: Principal, state: IncidentState) -> str:
        """The role that lets this person waive the verification guard, or Forbidden."""
        allowed = [role.value for role in self.policy.verification_waiver_roles]
        for role in allowed:
            if same_person(state.roles.get(role) or "", principal.actor):
                return role
        raise Forbidden(
            f"only the {' or '.join(allowed)} of {state.public_id} may waive the monitoring "
            f"before resolve (policy verification_waiver_roles); {principal.actor} is not",
            code="waiver_not_allowed",
            details={"rule": "policy.verification_waiver_roles", "actor": principal.actor},
        )

    def acknowledge_stop(
        self, principal: Principal, public_id: str, rule: str, request: schemas.StopAckIn
    ) -> IncidentState:
        """A person acknowledges a raised MUST STOP with the decision taken."""
        if principal.is_agent:
            raise Forbidden(
                "a MUST STOP is acknowledged by a person, not an agent: surface it and ask",
                code="agent_not_permitted",
                details={"rule": "must_stop_needs_a_person", "actor": principal.actor},
            )

        def build(state: IncidentState, now: datetime) -> list[Event]:
            if rule not in state.stops:
                raised = ", ".join(sorted(state.stops)) or "none"
                raise NotFound(f"no raised stop {rule!r} on {public_id} (raised: {raised})")
            return stops.acknowledgement(
                state, rule, request.decision.strip(), principal.actor, now
            )

        return self.mutate(principal, public_id, build)

    def append_events(
        self,
        principal: Principal,
        public_id: str,
        events: Sequence[Event],
        *,
        scope: str = "responder",
    ) -> IncidentState:
        """Append prepared events (used by other packages' services for their own event types)."""
        return self.mutate(principal, public_id, lambda _state, _now: list(events), scope=scope)

    def mutate(
        self,
        principal: Principal,
        public_id: str,
        build: Callable[[IncidentState, datetime], list[Event]],
        *,
        scope: str = "responder",
    ) -> IncidentState:
        """Run one write use case: lock the incident, build events from its state, append them."""
        principal.require(scope)
        with self.db.write() as conn:
            state = self.mutate_in(conn, public_id, build)
        self._after(state)
        return state

    def mutate_in(
        self,
        conn: Connection,
        public_id: str,
        build: Callable[[IncidentState, datetime], list[Event]],
    ) -> IncidentState:
        """The same as `mutate`, inside a transaction the caller owns."""
        loaded = self.load_in(conn, public_id, lock=True)
        now = self.clock.now()
        events = build(loaded.state, now)
        return self._append(conn, loaded.id, loaded.version, loaded.state, events, now)

    # ---- internals ---------------------------------------------------------------------

    def _classify(self, request: schemas.DeclareIn) -> tuple[str, str, dict[str, Any] | None]:
        if request.triage is None:
            if request.severity is None:
                raise InvalidInput(
                    "give a severity (" + ", ".join(self.policy.severity_ids()) + ") or the "
                    "triage answers so warroom can propose one"
                )
            severity = self.policy.severity(request.severity).id
            incident_type = (request.type or IncidentType.SERVICE_OUTAGE).value
            return severity, incident_type, None
        proposal = propose(self.policy, _answers(request.triage))
        severity = self._triaged_severity(request.severity, proposal)
        incident_type = request.type.value if request.type else proposal.type.value
        data = _triage_data(
            request.triage, proposal, severity, incident_type, request.override_reason
        )
        return severity, incident_type, data

    def _triaged_severity(self, given: str | None, proposal: TriageProposal) -> str:
        """The severity chosen, else the proposed one; with every answer unknown nothing is
        proposed, so a severity must be given."""
        if given:
            return self.policy.severity(given).id
        if proposal.severity is None:
            raise InvalidInput(
                "every triage answer is unknown, so no severity can be proposed: answer at "
                "least one question or give a severity ("
                + ", ".join(self.policy.severity_ids())
                + ")",
                code="triage_unanswered",
            )
        return proposal.severity

    def _check_services(self, services: Sequence[str]) -> None:
        if not self.known_services:
            return
        unknown = [s for s in services if s not in self.known_services]
        if unknown:
            raise InvalidInput(
                f"unknown service(s) {', '.join(unknown)}; known: {', '.join(self.known_services)}",
                details={"unknown_services": unknown},
            )

    def _id_of(self, conn: Connection, public_id: str) -> int:
        found = conn.execute(_ID_OF, {"public": _public(public_id)}).scalar()
        if found is None:
            raise NotFound(f"no incident {public_id}")
        return int(found)

    def _insert(
        self, conn: Connection, events: list[Event], now: datetime
    ) -> tuple[int, IncidentState]:
        state = initial_state(events[0])
        for event in events[1:]:
            state = apply(state, event)
        for event in (raised := stops.raise_stops(self.policy, None, state, events, now)):
            state = apply(state, event)
        events = [*events, *raised]
        result = _INSERT_INCIDENT.execute_one(
            conn, {"version": len(events), **self._projection(conn, state, now)}
        )
        incident_id = int(result.scalar_one())
        self._write_events(conn, incident_id, 0, events, now)
        self._write_services(conn, incident_id, state.services, fresh=True)
        self._project(conn, incident_id, len(events), None, state, events, now)
        self._react(conn, incident_id, None, state, events, now)
        return incident_id, state

    def _append(
        self,
        conn: Connection,
        incident_id: int,
        version: int,
        before: IncidentState,
        events: list[Event],
        now: datetime,
    ) -> IncidentState:
        if not events:
            return before
        state = before
        for event in events:
            state = apply(state, event)
        for event in (raised := stops.raise_stops(self.policy, before, state, events, now)):
            state = apply(state, event)
        events = [*events, *raised]
        self._write_events(conn, incident_id, version, events, now)
        changed = _UPDATE_INCIDENT.execute(
            conn,
            [
                {
                    "b_id": incident_id,
                    "b_version": version,
                    "version": version + len(events),
                    **self._projection(conn, state, now),
                }
            ],
        )
        if changed != 1:
            raise Conflict("the incident changed concurrently; try again", code="concurrent_update")
        if state.services != before.services:
            self._write_services(conn, incident_id, state.services)
        self._project(conn, incident_id, version + len(events), before, state, events, now)
        self._react(conn, incident_id, before, state, events, now)
        return state

    def _write_events(
        self, conn: Connection, incident_id: int, version: int, events: list[Event], now: datetime
    ) -> None:
        dialect = conn.dialect
        recorded_at = driver_time(dialect, now)
        _INSERT_EVENTS.execute(
            conn,
            [
                {
                    "incident_id": incident_id,
                    "seq": version + n,
                    "type": e.type,
                    "actor": e.actor,
                    "occurred_at": driver_time(dialect, e.occurred_at),
                    "recorded_at": recorded_at,
                    "data": driver_json(dict(e.data)),
                }
                for n, e in enumerate(events, start=1)
            ],
        )

    def _write_services(
        self,
        conn: Connection,
        incident_id: int,
        services: Sequence[str],
        *,
        fresh: bool = False,
    ) -> None:
        s = tables.incident_services
        if not fresh:
            conn.execute(delete(s).where(s.c.incident_id == incident_id))
        _INSERT_SERVICES.execute(
            conn, [{"service": x, "incident_id": incident_id} for x in services]
        )

    def _projection(self, conn: Connection, state: IncidentState, now: datetime) -> dict[str, Any]:
        """The incident's row (but its id and version), as the driver takes it."""
        dialect = conn.dialect
        values: dict[str, Any] = {
            "public_id": state.public_id,
            "title": state.title,
            "summary": state.summary,
            "severity": state.severity,
            "severity_rank": self.policy.rank(state.severity),
            "type": state.type,
            "status": state.status.value,
            "is_open": state.is_open,
            "services": driver_json(list(state.services)),
            "labels": driver_json(dict(state.labels)),
            "declared_at": driver_time(dialect, state.declared_at),
            "updated_at": driver_time(dialect, now),
            "state": state.to_json(),
        }
        for milestone in MILESTONES:
            at = getattr(state, milestone)
            values[milestone] = None if at is None else driver_time(dialect, at)
        return values

    def _project(
        self,
        conn: Connection,
        incident_id: int,
        version: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> None:
        for projector in self.projectors:
            projector(
                conn,
                incident_id=incident_id,
                version=version,
                before=before,
                after=after,
                events=events,
                now=now,
            )

    def _react(
        self,
        conn: Connection,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> None:
        effects: list[outbox.Effect] = []
        for reactor in self.reactors:
            effects.extend(
                reactor(incident_id=incident_id, before=before, after=after, events=events, now=now)
            )
        if effects:
            outbox.enqueue(conn, effects, now)

    def _after(self, state: IncidentState) -> None:
        for callback in self.after_commit:
            callback(state)


def _answers(answers: schemas.TriageIn) -> Any:
    from warroom.policy.schema import TriageAnswers

    return TriageAnswers(**answers.model_dump())


def _triage_data(
    answers: schemas.TriageIn,
    proposal: TriageProposal,
    severity: str,
    incident_type: str,
    override_reason: str | None,
) -> dict[str, Any]:
    # With no severity proposed (every answer unknown), choosing one overrides nothing.
    overridden = (
        proposal.severity is not None and severity != proposal.severity
    ) or incident_type != proposal.type.value
    if overridden and not (override_reason and override_reason.strip()):
        raise InvalidInput(
            f"triage proposed {proposal.severity}/{proposal.type.value} "
            f"({proposal.severity_rule}); overriding it to {severity}/{incident_type} "
            "needs a reason",
            code="override_reason_required",
            details={"proposed_severity": proposal.severity, "proposed_type": proposal.type.value},
        )
    data: dict[str, Any] = {
        "answers": answers.model_dump(exclude_none=True),
        "proposed_severity": proposal.severity,
        "proposed_type": proposal.type.value,
        "severity_rule": proposal.severity_rule,
        "type_rule": proposal.type_rule,
        "severity": severity,
        "type": incident_type,
        "overridden": overridden,
    }
    if overridden:
        data["override_reason"] = (override_reason or "").strip()
    return data


def _raw_time(value: Any) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite gives naive UTC text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return ensure_utc(value)
