"""Alert intake: dedup, grouping, routing, silencing and incident declaration, and alert reads.

Ingest runs in one transaction per request (shared with other requests by the group-commit
writer): alerts are deduplicated by their open identity, grouped by grouping key into one
incident, routed, silenced, and incidents are declared, attached to, reopened on recurrence or
moved to monitoring in the same transaction (the rules for the latter are the pure
`domain.follow_alerts`). Nothing here waits on notification delivery: paging is planned by
incident reactors as outbox rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ColumnElement

from warroom.alerts import domain
from warroom.alerts import tables as t
from warroom.alerts.batching import GroupCommitter
from warroom.alerts.domain import ACKNOWLEDGED, FIRING, RESOLVED, AlertIn
from warroom.alerts.intake_log import (
    IntakeLog,
    IntakeProcessor,
    LoggedRequest,
    RequestFailed,
    RequestStatus,
)
from warroom.alerts.integrations import Integration, IntegrationService
from warroom.alerts.routes import RouteService
from warroom.alerts.silences import ActiveSilences, SilenceService, silence_dict
from warroom.core import fastjson, tables
from warroom.core.auth import SYSTEM
from warroom.core.db import DriverRows, driver_json, driver_time
from warroom.core.errors import NotFound
from warroom.core.upsert import InsertOf, Upsert
from warroom.core.vocab import IncidentType
from warroom.incidents.model import Event, IncidentState

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

ACTOR = SYSTEM.actor
log = logging.getLogger("warroom.alerts.intake")
CLOSE_DRAIN_SECONDS = 5.0
DRAIN_POLL_SECONDS = 0.02
T = TypeVar("T")


@dataclass
class IntakeResult:
    received: int = 0
    created: int = 0
    deduplicated: int = 0
    acknowledged: int = 0
    resolved: int = 0
    silenced: int = 0
    recorded: int = 0
    dropped: int = 0
    tests: int = 0
    alert_ids: list[int] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    states: list[IncidentState] = field(default_factory=list)

    def counters(self) -> dict[str, int]:
        return {
            "received": self.received,
            "created": self.created,
            "deduplicated": self.deduplicated,
            "acknowledged": self.acknowledged,
            "resolved": self.resolved,
            "silenced": self.silenced,
            "recorded": self.recorded,
            "dropped": self.dropped,
            "tests": self.tests,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.counters(), "alerts": self.alert_ids, "incidents": self.incidents}


@dataclass
class _IncidentInfo:
    id: int
    public_id: str
    open: bool
    resolved_at: datetime | None
    source: str
    status: str = "triggered"
    severity: str | None = None


@dataclass
class _NewIncident:
    """An incident this request declares: inserted at the flush with all its events at once."""

    data: dict[str, Any]
    alert_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)


@dataclass
class _Plan:
    """What one intake request will append to which incident, flushed once at the end.

    Incidents declared by this request have negative placeholder ids until the flush."""

    incidents: dict[int, _IncidentInfo] = field(default_factory=dict)
    events: dict[int, list[Event]] = field(default_factory=dict)
    check_ack: set[int] = field(default_factory=set)
    check_resolved: set[int] = field(default_factory=set)
    refired: set[int] = field(default_factory=set)
    group_incident: dict[int, int] = field(default_factory=dict)
    new: dict[int, _NewIncident] = field(default_factory=dict)
    alert_incident: dict[int, int] = field(default_factory=dict)  # new alert -> placeholder
    # (integration, identity, start) of alerts the processor's batch knows are resolved.
    known_resolved: AbstractSet[tuple[str, str, datetime]] = frozenset()

    def add(self, incident_id: int, *events: Event) -> None:
        self.events.setdefault(incident_id, []).extend(events)


class IntakeService:
    """The only writer of alerts, alert groups and intake counters."""

    def __init__(
        self,
        runtime: Runtime,
        integrations: IntegrationService,
        silences: SilenceService,
        routing: RouteService,
        *,
        group_commit: bool | None = None,
    ) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.clock = runtime.clock
        self.integrations = integrations
        self.silences = silences
        self.routing = routing
        # Webhooks: appended to the intake log, answered, then processed by its thread.
        self.log = IntakeLog(runtime.db)
        self.processor = IntakeProcessor(
            self.log, self._process_logged, self.after_commit, runtime.clock.now
        )
        self._integrations_seen: dict[str, Integration] = {}
        self._last_accepted = 0
        # Set when another process processes the log (`process_elsewhere`): how to wake it.
        self.elsewhere: Callable[[], None] | None = None
        self._wake: Callable[[], None] = self.processor.wake
        self._woken_in: asyncio.AbstractEventLoop | None = None  # woken in this loop's turn
        use_batching = True if group_commit is None else group_commit
        self.committer: GroupCommitter | None = (
            GroupCommitter(
                runtime.db,
                after_commit=self.after_commit,
            )
            if use_batching
            else None
        )

    def process_elsewhere(self, wake: Callable[[], None]) -> None:
        """Leave acting on acknowledged webhooks to another process that keeps the log
        processed (the worker of `serve --worker-process`, started with `--intake`): this one
        then only acknowledges them, and calls `wake` when it has."""
        self.elsewhere = self._wake = wake

    def drain(self, timeout: float) -> bool:
        """Process the log until nothing is pending (False if `timeout` came first): a
        processing worker's last act before it stops."""
        deadline = time.monotonic() + timeout
        while self.log.backlog():
            if time.monotonic() >= deadline:
                return False
            self.processor.wake()
            time.sleep(DRAIN_POLL_SECONDS)
        return True

    def close(self) -> None:
        # Act on what this process acknowledged before it goes (a short-lived process such as
        # the CLI's in-process server); what is left is processed by the next processor.
        if self._last_accepted and self.elsewhere is None:
            self.processor.wait_processed(self._last_accepted, CLOSE_DRAIN_SECONDS)
        self.processor.stop()
        self.log.close()
        if self.committer is not None:
            self.committer.close()

    def accept(self, integration: Integration, alerts: Sequence[AlertIn]) -> Future[int]:
        """Append a webhook's alerts to the intake log; the future gives the request's id once
        the entry is committed (durable), and the processor acts on it right after."""
        self._integrations_seen[integration.name] = integration
        future = self.log.append(integration.name, domain.alerts_to_json(alerts), self.clock.now())
        future.add_done_callback(self._wake_processor)
        return future

    async def accept_async(self, integration: Integration, alerts: Sequence[AlertIn]) -> int:
        """`accept` from the event loop (the webhook endpoints): returns the request's id once
        its entry is committed."""
        self._integrations_seen[integration.name] = integration
        request_id = await self.log.append_async(
            integration.name, domain.alerts_to_json(alerts), self.clock.now()
        )
        self._last_accepted = max(self._last_accepted, request_id)
        loop = asyncio.get_running_loop()
        if self._woken_in is not loop:
            # The requests of one commit all resume in the same loop turn, after it: the first
            # wakes the processor for all of them (another process's, through a pipe).
            self._woken_in = loop
            loop.call_soon(self._next_turn)
            self._wake()
        return request_id

    def _next_turn(self) -> None:
        self._woken_in = None

    def _wake_processor(self, future: Future[int]) -> None:
        if future.exception() is None:
            self._last_accepted = max(self._last_accepted, future.result())
            self._wake()

    def request_status(self, request_id: int) -> RequestStatus | None:
        """A logged webhook request: pending, or processed with what it did."""
        return self.log.status(request_id)

    def wait_processed(self, request_id: int, timeout: float) -> bool:
        """Wait until `request_id` has been acted on (False on timeout): by this process's
        processor, or by the process it was left to (looked at every few milliseconds)."""
        if self.elsewhere is None:
            return self.processor.wait_processed(request_id, timeout)
        deadline = time.monotonic() + timeout
        while True:
            found = self.log.status(request_id)
            if found is None or found.status != "pending":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(DRAIN_POLL_SECONDS)

    def _process_logged(
        self, conn: Connection, entries: list[LoggedRequest], isolate: bool
    ) -> list[Any]:
        """The processor's transaction: each logged request through the intake, in order, and
        what each did kept in `intake_requests`. Without `isolate` the first failure raises
        `RequestFailed` (the processor then runs the batch again isolated); with it, each
        request runs in a savepoint, and one that fails is recorded as failed, never retried
        forever."""
        now = self.clock.now()
        processed_at = driver_time(conn.dialect, now)
        counters: dict[tuple[str, str], int] = {}
        results: list[Any] = []
        records: list[dict[str, object]] = []
        looked_up: dict[str, Integration] = {}
        if isolate:
            for entry in entries:
                savepoint = conn.begin_nested()
                try:
                    integration = self._integration_named(entry.integration, looked_up)
                    alerts = domain.alerts_from_json(entry.alerts)
                    result = self.ingest_in(
                        conn, integration, alerts, entry.received_at, counters=counters
                    )
                except Exception as exc:
                    savepoint.rollback()
                    log.error(
                        "intake request %s of %s could not be processed: %s: %s",
                        entry.id,
                        entry.integration,
                        type(exc).__name__,
                        exc,
                    )
                    record: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                else:
                    savepoint.commit()
                    results.append(result)
                    record = result.to_dict()
                records.append(_record(conn.dialect, entry, processed_at, record))
        else:
            try:
                results = self._process_batch(conn, entries, counters, looked_up)
            except Exception as exc:
                raise RequestFailed() from exc
            records = [
                _record(conn.dialect, entry, processed_at, result.to_dict())
                for entry, result in zip(entries, results, strict=True)
            ]
        if counters:
            rows = [{"integration": i, "counter": c, "value": v} for (i, c), v in counters.items()]
            conn.execute(_COUNTER_UPSERT.statement(conn), rows)
        _RECORD.execute(conn, records)
        return results

    def _process_batch(
        self,
        conn: Connection,
        entries: list[LoggedRequest],
        counters: dict[tuple[str, str], int],
        looked_up: dict[str, Integration],
    ) -> list[IntakeResult]:
        """A batch in order, in one transaction. Most webhooks only repeat alerts that are
        already open: those are answered from one lookup of the batch's open alerts and
        counted in one statement; any other request runs the whole intake, after the counts
        so far are written, and its alerts are looked up afresh by the next request."""
        parsed = []
        for entry in entries:
            integration = self._integration_named(entry.integration, looked_up)
            alerts = domain.alerts_from_json(entry.alerts)
            keys = [domain.digest(integration.name, item.identity) for item in alerts]
            parsed.append((entry, integration, alerts, keys))
        repeats = _Repeats()
        repeats.look_up(conn, {key for *_, keys in parsed for key in keys})
        repeats.look_up_resolved(
            conn,
            {
                (integration.name, item.identity)
                for _, integration, alerts, _ in parsed
                for item in alerts
                if item.status == RESOLVED and item.stale_guard
            },
        )
        results: list[IntakeResult] = []
        for entry, integration, alerts, keys in parsed:
            result = repeats.take(conn, integration.name, alerts, keys, entry.received_at)
            if result is None:
                repeats.write(conn)
                result = self.ingest_in(
                    conn,
                    integration,
                    alerts,
                    entry.received_at,
                    counters=counters,
                    known_resolved=repeats.resolved,
                )
                repeats.forget(keys)
            else:
                for counter in ("received", "deduplicated"):
                    slot = (integration.name, counter)
                    counters[slot] = counters.get(slot, 0) + result.received
            results.append(result)
        repeats.write(conn)
        return results

    def _integration_named(self, name: str, looked_up: dict[str, Integration]) -> Integration:
        """The integration as this process last accepted a request for it, else as stored
        (looked up once per batch: its options may have changed since)."""
        seen = self._integrations_seen.get(name) or looked_up.get(name)
        if seen is None:
            seen = looked_up[name] = self.integrations.get(name)
        return seen

    def write(self, job: Callable[[Connection], T]) -> T:
        """Run `job` in a write transaction (the group commit's when batching); returns after
        the commit."""
        if self.committer is not None:
            return self.committer.submit(job)
        with self.db.write() as conn:
            return job(conn)

    def route(
        self,
        labels: Mapping[str, str],
        integration: Integration | None = None,
        explicit_service: str | None = None,
        conn: Connection | None = None,
    ) -> domain.RouteDecision:
        """The route, service, policy severity and action for an alert with these labels."""
        policy = self.runtime.policy
        routing_labels = dict(labels)
        if integration is not None:
            routing_labels.setdefault("integration", integration.name)
        return domain.route_alert(
            routing_labels,
            self.routing.effective(conn),
            policy.severity_ids(),
            lambda key: policy.severity(key).id,
            default_service=integration.options.service if integration else None,
            explicit_service=explicit_service,
        )

    def ingest(self, integration: Integration, alerts: Sequence[AlertIn]) -> IntakeResult:
        """Store the alerts and act on them; returns after the transaction has committed."""

        def job(conn: Connection) -> IntakeResult:
            return self.ingest_in(conn, integration, alerts, self.clock.now())

        if self.committer is not None:
            return self.committer.submit(job)
        result = self.write(job)
        self.after_commit([result])
        return result

    def after_commit(self, results: list[Any]) -> None:
        """Tell the incident package about the states a committed intake left behind."""
        for result in results:
            if isinstance(result, IntakeResult):
                for state in result.states:
                    for callback in self.runtime.incidents.after_commit:
                        callback(state)

    def ingest_in(
        self,
        conn: Connection,
        integration: Integration,
        alerts: Sequence[AlertIn],
        now: datetime,
        *,
        counters: dict[tuple[str, str], int] | None = None,
        known_resolved: AbstractSet[tuple[str, str, datetime]] = frozenset(),
    ) -> IntakeResult:
        """Act on one request's alerts in `conn`. Its counters are bumped at once, or added to
        `counters` to be written once per transaction (the intake processor's batch), which
        also tells which alerts it found resolved (`known_resolved`)."""
        result = IntakeResult()
        plan = _Plan(known_resolved=known_resolved)
        silences = self.silences.active(conn, now)
        keys = [domain.digest(integration.name, item.identity) for item in alerts]
        open_rows: dict[str, Any] = {}
        if len(keys) == 1:  # the common single-alert case: a fully cached statement
            for found in conn.execute(_OPEN_BY_KEY, {"key": keys[0]}):
                open_rows[found.open_key] = found
        elif keys:
            for found in conn.execute(_OPEN_BY_KEYS, {"keys": sorted(set(keys))}):
                open_rows[found.open_key] = found
        repeats: list[int] = []
        changed: list[dict[str, Any]] = []
        later = Counter(keys)  # how often each identity is still to come in this request
        for key, item in zip(keys, alerts, strict=True):
            later[key] -= 1
            row = open_rows.get(key)
            if item.status == FIRING and row is not None:
                # A repeat of an open alert (or an HA duplicate): count it, nothing else.
                result.received += 1
                result.deduplicated += 1
                result.alert_ids.append(int(row.id))
                repeats.append(int(row.id))
                if row.summary != item.summary:
                    changed.append({"alert_id": int(row.id), "new_summary": item.summary})
                continue
            self._ingest_one(conn, integration, item, row, now, silences, plan, result)
            if item.status != FIRING:
                open_rows.pop(key, None)
            elif row is None and later[key]:  # the same identity again later is a repeat
                for fresh in conn.execute(_OPEN_BY_KEYS, {"keys": [key]}):
                    open_rows[key] = fresh
        if len(repeats) == 1:
            conn.execute(_BUMP_REPEAT, {"alert_id": repeats[0], "now": now})
        elif repeats:
            conn.execute(_BUMP_REPEATS, {"ids": repeats, "now": now})
        if changed:
            conn.execute(_SET_SUMMARY, changed)
        self._flush(conn, plan, result, now)
        counts = {k: v for k, v in result.counters().items() if v}
        if counters is not None:
            for counter, value in counts.items():
                slot = (integration.name, counter)
                counters[slot] = counters.get(slot, 0) + value
        else:
            _bump(conn, integration.name, counts)
        return result

    def _ingest_one(
        self,
        conn: Connection,
        integration: Integration,
        item: AlertIn,
        row: Any,
        now: datetime,
        silences: ActiveSilences,
        plan: _Plan,
        result: IntakeResult,
    ) -> None:
        result.received += 1
        if item.test:
            self._record_test(conn, integration, item, now, result)
            return
        if item.status == FIRING:
            if item.stale_guard and self._seen_resolved(conn, integration, item, plan):
                result.deduplicated += 1
                return
            self._new_alert(conn, integration, item, now, silences, plan, result)
            return
        if row is None:
            if item.status == RESOLVED and item.stale_guard:
                if self._seen_resolved(conn, integration, item, plan):
                    result.deduplicated += 1
                else:  # resolved before we ever saw it firing: record it
                    self._new_alert(conn, integration, item, now, silences, plan, result)
                return
            result.dropped += 1  # ack/resolve of an unknown key: accepted and dropped
            return
        incident_id = (
            int(row.incident_id)
            if row.incident_id is not None
            else plan.alert_incident.get(int(row.id))
        )
        data = {"alert_id": int(row.id), "integration": integration.name, "alert": item.identity}
        result.alert_ids.append(int(row.id))
        if item.status == ACKNOWLEDGED:
            if row.status != FIRING:
                result.deduplicated += 1
                return
            conn.execute(_ACK_ALERT, {"alert_id": row.id, "now": now})
            result.acknowledged += 1
            if incident_id is not None:
                plan.add(incident_id, Event("alert_acknowledged", ACTOR, now, data))
                plan.check_ack.add(incident_id)
                self._incident(conn, plan, incident_id)
            return
        ends_at = item.ends_at or now
        conn.execute(
            _RESOLVE_ALERT,
            {
                "alert_id": row.id,
                "now": now,
                "ends": ends_at if ends_at <= now + timedelta(minutes=5) else now,
            },
        )
        result.resolved += 1
        if incident_id is not None:
            # Kept on the alert row, not the timeline (a flapping group would flood it); the
            # incident hears about it when its last alert resolves.
            plan.check_resolved.add(incident_id)
            self._incident(conn, plan, incident_id)

    def _record_test(
        self,
        conn: Connection,
        integration: Integration,
        item: AlertIn,
        now: datetime,
        result: IntakeResult,
    ) -> None:
        """A sender's test notification: kept (visible with `alerts list`) as already over,
        with the action `test`; no incident, page or open alert."""
        group_id, _ = self._group(conn, integration.name, item.group_key, now)
        alert_id = _insert_alert(
            conn,
            {
                "integration": integration.name,
                "kind": integration.kind,
                "identity": item.identity,
                "open_key": None,
                "group_id": group_id,
                "status": RESOLVED,
                "summary": item.summary,
                "labels": item.labels,
                "annotations": item.annotations,
                "details": item.details,
                "source_severity": (item.source_severity or "")[:40] or None,
                "severity": None,
                "service": None,
                "action": "test",
                "route": "test notification",
                "silence_id": None,
                "incident_id": None,
                "starts_at": now,
                "ends_at": now,
                "first_seen": now,
                "last_seen": now,
                "count": 1,
                "resolved_at": now,
                "generator_url": item.generator_url,
            },
        )
        result.alert_ids.append(int(alert_id))
        result.tests += 1

    def _seen_resolved(
        self, conn: Connection, integration: Integration, item: AlertIn, plan: _Plan
    ) -> bool:
        if (integration.name, item.identity, item.starts_at) in plan.known_resolved:
            return True
        found = conn.execute(
            _SEEN_RESOLVED,
            {"integration": integration.name, "identity": item.identity, "starts": item.starts_at},
        ).first()
        return found is not None

    def _new_alert(
        self,
        conn: Connection,
        integration: Integration,
        item: AlertIn,
        now: datetime,
        silences: ActiveSilences,
        plan: _Plan,
        result: IntakeResult,
    ) -> None:
        decision = self.route(item.labels, integration, item.service, conn)
        routing_labels = {"integration": integration.name, **item.labels}
        silence_id = next(
            (sid for sid, matchers in silences if domain.matches_all(matchers, routing_labels)),
            None,
        )
        group_id, group_incident = self._group(conn, integration.name, item.group_key, now)
        firing = item.status == FIRING
        starts_at = item.starts_at if item.starts_at and item.starts_at <= now else now
        values: dict[str, Any] = {
            "integration": integration.name,
            "kind": integration.kind,
            "identity": item.identity,
            "open_key": domain.digest(integration.name, item.identity) if firing else None,
            "group_id": group_id,
            "status": FIRING if firing else RESOLVED,
            "summary": item.summary,
            "labels": item.labels,
            "annotations": item.annotations,
            "details": item.details,
            "source_severity": (item.source_severity or "")[:40] or None,
            "severity": decision.severity,
            "service": (decision.service or "")[:120] or None,
            "action": decision.action,
            "route": decision.route[:120],
            "silence_id": silence_id,
            "incident_id": None,
            "starts_at": starts_at,
            "ends_at": None if firing else (item.ends_at or now),
            "first_seen": now,
            "last_seen": now,
            "count": 1,
            "resolved_at": None if firing else now,
            "generator_url": item.generator_url,
        }
        alert_id = _insert_alert(conn, values)
        result.alert_ids.append(alert_id)
        if not firing:
            result.resolved += 1
            return
        result.created += 1
        if silence_id is not None:
            result.silenced += 1
            return
        incident_id = self._incident_for(
            conn, plan, group_id, group_incident, decision, item, integration, now, alert_id
        )
        if incident_id is None:
            result.recorded += 1
            return
        if incident_id < 0:  # declared by this request: linked when it is inserted
            plan.new[incident_id].alert_ids.append(alert_id)
            plan.alert_incident[alert_id] = incident_id
        else:
            conn.execute(_SET_INCIDENT, {"alert_id": alert_id, "incident": incident_id})
        plan.refired.add(incident_id)
        plan.add(
            incident_id,
            Event(
                "alert_attached",
                ACTOR,
                now,
                {
                    "alert_id": alert_id,
                    "integration": integration.name,
                    "alert": item.identity,
                    "summary": item.summary,
                    "severity": decision.severity,
                    "source_severity": decision.source_severity,
                    "service": decision.service,
                    "group_key": item.group_key[:500],
                },
            ),
        )

    def _group(
        self, conn: Connection, integration: str, group_key: str, now: datetime
    ) -> tuple[int, int | None]:
        group_hash = domain.digest(integration, group_key)
        row = conn.execute(_GROUP_BY_HASH, {"hash": group_hash}).first()
        if row is not None:
            return int(row.id), (int(row.incident_id) if row.incident_id is not None else None)
        at = driver_time(conn.dialect, now)
        inserted = _INSERT_GROUP.execute_one(
            conn,
            {
                "group_hash": group_hash,
                "integration": integration,
                "group_key": group_key,
                "created_at": at,
                "updated_at": at,
            },
        )
        return int(inserted.scalar_one()), None

    def _incident(self, conn: Connection, plan: _Plan, incident_id: int) -> _IncidentInfo:
        info = plan.incidents.get(incident_id)
        if info is None:
            row = conn.execute(_INCIDENT_INFO, {"incident": incident_id}).first()
            if row is None:
                raise NotFound(f"incident {incident_id} is gone")
            info = _IncidentInfo(
                id=incident_id,
                public_id=str(row.public_id),
                open=bool(row.is_open),
                resolved_at=row.resolved_at,
                source=str((row.state or {}).get("source", "manual")),
                status=str((row.state or {}).get("status", "triggered")),
                severity=(row.state or {}).get("severity"),
            )
            plan.incidents[incident_id] = info
        return info

    def _incident_for(
        self,
        conn: Connection,
        plan: _Plan,
        group_id: int,
        group_incident: int | None,
        decision: domain.RouteDecision,
        item: AlertIn,
        integration: Integration,
        now: datetime,
        alert_id: int,
    ) -> int | None:
        current = plan.group_incident.get(group_id, group_incident)
        info: _IncidentInfo | None = None
        if current is not None:
            try:
                info = self._incident(conn, plan, current)
            except NotFound:
                info = None
        if info is not None and info.open:
            self._raise_severity(plan, info, decision, item, now)
            return info.id
        policy = self.runtime.policy
        recurrence = (
            info is not None
            and info.resolved_at is not None
            and now - info.resolved_at <= policy.recurrence_window
        )
        if info is not None and recurrence:
            assert info.resolved_at is not None
            detected = {
                "previous_incident": info.public_id,
                "previous_resolved_at": info.resolved_at.isoformat(),
                "alert_id": alert_id,
                "fingerprint": item.identity,
                "group_key": item.group_key[:500],
                "integration": integration.name,
                "window": str(policy.recurrence_window),
                "action": policy.recurrence_action,
            }
            reason = (
                f"alert {item.summary[:200]!r} fired again within "
                f"{policy.recurrence_window} of the resolution"
            )
            flag = {"flag": "recurred", "value": True, "reason": reason}
            if policy.recurrence_action == "reopen":
                plan.add(
                    info.id,
                    Event("reopened", ACTOR, now, {"from": info.status, "reason": reason}),
                    Event("recurrence_detected", ACTOR, now, detected),
                    Event("flag_set", ACTOR, now, flag),
                )
                info.open = True
                self._raise_severity(plan, info, decision, item, now)
                return info.id
            new_id = self._declare(conn, plan, decision, item, integration, now, info.public_id)
            plan.add(
                new_id,
                Event("recurrence_detected", ACTOR, now, detected),
                Event("flag_set", ACTOR, now, flag),
            )
            self._link_group(conn, plan, group_id, new_id, now)
            return new_id
        if decision.action != "declare":
            return None
        new_id = self._declare(conn, plan, decision, item, integration, now, None)
        self._link_group(conn, plan, group_id, new_id, now)
        return new_id

    def _raise_severity(
        self,
        plan: _Plan,
        info: _IncidentInfo,
        decision: domain.RouteDecision,
        item: AlertIn,
        now: datetime,
    ) -> None:
        """A more severe alert joining an open incident raises the incident's severity.

        Never lowers it: a person decides that (and may lower it again after a raise).
        """
        policy = self.runtime.policy
        if info.severity not in policy.severity_ids():  # e.g. a scale changed since
            return
        if policy.rank(decision.severity) >= policy.rank(str(info.severity)):
            return
        reason = f"a {decision.severity} alert joined: {item.summary[:200]!r}"
        data = {"from": info.severity, "to": decision.severity, "reason": reason}
        plan.add(info.id, Event("severity_changed", ACTOR, now, data))
        info.severity = decision.severity

    def _link_group(
        self, conn: Connection, plan: _Plan, group_id: int, incident_id: int, now: datetime
    ) -> None:
        if incident_id < 0:
            plan.new[incident_id].group_ids.append(group_id)
        else:
            conn.execute(_LINK_GROUP, {"group": group_id, "incident": incident_id, "now": now})
        plan.group_incident[group_id] = incident_id

    def _declare(
        self,
        conn: Connection,
        plan: _Plan,
        decision: domain.RouteDecision,
        item: AlertIn,
        integration: Integration,
        now: datetime,
        recurrence_of: str | None,
    ) -> int:
        services = [decision.service] if decision.service else []
        known = self.runtime.incidents.known_services
        if known and services and services[0] not in known:
            services = []
        incident_type = item.labels.get("incident_type", "")
        if incident_type not in {v.value for v in IncidentType}:
            incident_type = IncidentType.SERVICE_OUTAGE.value
        starts_at = item.starts_at if item.starts_at and item.starts_at <= now else now
        labels = {k: v for k, v in list(item.labels.items())[:50]}
        data: dict[str, Any] = {
            "title": item.summary[:200] or "alert",
            "summary": item.annotations.get("description", "")[:4000],
            "severity": decision.severity,
            "type": incident_type,
            "services": services,
            "labels": labels,
            "impact": {},
            "started_at": starts_at.isoformat(),
            "detected_at": now.isoformat(),
            "roles": {},
            "source": "alert",
            "alert": {
                "integration": integration.name,
                "kind": integration.kind,
                "identity": item.identity,
                "group_key": item.group_key[:500],
                "route": decision.route,
                "source_severity": decision.source_severity,
            },
        }
        if recurrence_of:
            data["recurrence_of"] = recurrence_of
        placeholder = -(len(plan.new) + 1)
        plan.new[placeholder] = _NewIncident(data)
        plan.incidents[placeholder] = _IncidentInfo(
            id=placeholder,
            public_id="",
            open=True,
            resolved_at=None,
            source="alert",
            severity=decision.severity,
        )
        plan.events.setdefault(placeholder, [])
        return placeholder

    def _insert_new(
        self, conn: Connection, plan: _Plan, placeholder: int, now: datetime
    ) -> IncidentState:
        """Insert an incident this request declared, with its events, and link its alerts."""
        new = plan.new[placeholder]
        incident_id, state = self.runtime.incidents.insert_declared(
            conn, ACTOR, new.data, now, plan.events.get(placeholder, [])
        )
        if new.alert_ids:
            conn.execute(_SET_INCIDENTS, {"ids": new.alert_ids, "incident": incident_id})
        for group_id in new.group_ids:
            conn.execute(_LINK_GROUP, {"group": group_id, "incident": incident_id, "now": now})
        info = plan.incidents[placeholder]
        info.id, info.public_id = incident_id, state.public_id
        return state

    def _flush(self, conn: Connection, plan: _Plan, result: IntakeResult, now: datetime) -> None:
        touched = list(dict.fromkeys([*plan.events, *plan.check_ack, *plan.check_resolved]))
        auto_resolve = bool(getattr(self.runtime.policy, "alerts_auto_resolve", False))
        for incident_id in touched:
            events = plan.events.get(incident_id, [])
            info = plan.incidents[incident_id]
            check_ack = incident_id in plan.check_ack
            check_resolved = incident_id in plan.check_resolved
            refired = incident_id in plan.refired
            declared: IncidentState | None = None
            if incident_id < 0:
                # Declared here: one insert with every event (declared, alert_attached, ...).
                declared = self._insert_new(conn, plan, incident_id, now)
                result.incidents.append(declared.public_id)
                if not (check_ack or check_resolved):
                    result.states.append(declared)
                    continue
                events, refired = [], False  # written; only the ack/resolve checks remain
            tally = domain.AlertTally(
                refired=refired, acknowledged=check_ack, resolved=check_resolved
            )
            if check_ack or check_resolved:
                rows = conn.execute(_OPEN_COUNTS, {"incident": info.id}).all()
                open_counts = {str(s): int(c) for s, c in rows}
                tally = replace(
                    tally,
                    firing=open_counts.get(FIRING, 0),
                    acknowledged_open=open_counts.get(ACKNOWLEDGED, 0),
                )
            if not events and not tally.may_move:
                if declared is not None:
                    result.states.append(declared)
                continue

            def build(
                state: IncidentState,
                at: datetime,
                events: list[Event] = events,
                tally: domain.AlertTally = tally,
            ) -> list[Event]:
                return domain.follow_alerts(
                    state, events, tally, actor=ACTOR, at=at, auto_resolve=auto_resolve
                )

            state = self.runtime.incidents.mutate_in(conn, info.public_id, build)
            result.states.append(state)
            if info.public_id not in result.incidents:
                result.incidents.append(info.public_id)
        for incident_id, info in plan.incidents.items():
            if incident_id not in plan.events and info.public_id not in result.incidents:
                result.incidents.append(info.public_id)

    def list_alerts(
        self,
        *,
        status: str | None = None,
        integration: str | None = None,
        incident: str | None = None,
        silenced: bool | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        a = t.alerts
        i = tables.incidents
        query = select(a, i.c.public_id.label("incident")).select_from(
            a.outerjoin(i, i.c.id == a.c.incident_id)
        )
        conditions: list[ColumnElement[bool]] = []
        if status == "open":
            conditions.append(a.c.status.in_((FIRING, ACKNOWLEDGED)))
        elif status:
            conditions.append(a.c.status == status)
        if integration:
            conditions.append(a.c.integration == integration)
        if incident:
            conditions.append(i.c.public_id == incident.strip().upper())
        if silenced is True:
            conditions.append(a.c.silence_id.is_not(None))
        elif silenced is False:
            conditions.append(a.c.silence_id.is_(None))
        if before_id is not None:
            conditions.append(a.c.id < before_id)
        if conditions:
            query = query.where(and_(*conditions))
        query = query.order_by(a.c.id.desc()).limit(limit + 1)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return [_alert_dict(r) for r in rows], (int(rows[-1].id) if more and rows else None)

    def counts_by_service(self) -> dict[str, dict[str, int]]:
        """Per service label: open alerts, and alerts attached to an incident (any status)."""
        a = t.alerts
        attached = a.c.incident_id.is_not(None)
        query = (
            select(a.c.service, a.c.status, attached.label("attached"), func.count().label("n"))
            .where(a.c.service.is_not(None))
            .group_by(a.c.service, a.c.status, attached)
        )
        counts: dict[str, dict[str, int]] = {}
        with self.db.read() as conn:
            for row in conn.execute(query):
                entry = counts.setdefault(str(row.service), {"open": 0, "attached": 0})
                if row.status in (FIRING, ACKNOWLEDGED):
                    entry["open"] += int(row.n)
                if row.attached:
                    entry["attached"] += int(row.n)
        return counts

    def get_alert(self, alert_id: int) -> dict[str, Any]:
        a = t.alerts
        i = tables.incidents
        g = t.alert_groups
        with self.db.read() as conn:
            row = conn.execute(
                select(a, i.c.public_id.label("incident"), i.c.state.label("incident_state"))
                .select_from(a.outerjoin(i, i.c.id == a.c.incident_id))
                .where(a.c.id == alert_id)
            ).first()
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            group = conn.execute(select(g.c.group_key).where(g.c.id == row.group_id)).first()
            silence = None
            if row.silence_id is not None:
                srow = conn.execute(
                    select(t.alert_silences).where(t.alert_silences.c.id == row.silence_id)
                ).first()
                silence = silence_dict(srow, self.clock.now()) if srow else None
        data = _alert_dict(row)
        data["group_key"] = group.group_key if group else None
        data["silence"] = silence
        state = row.incident_state or {}
        data["incident_status"] = state.get("status")
        data["recurred"] = bool((state.get("flags") or {}).get("recurred"))
        return data

    def counts(self) -> dict[str, int]:
        with self.db.read() as conn:
            counts = alert_counts(conn)
        counts["rate_limited"] = sum(self.integrations.rate_limited.values())
        return counts


def _record(
    dialect: Dialect, entry: LoggedRequest, processed_at: datetime | str, result: dict[str, Any]
) -> dict[str, object]:
    """The `intake_requests` row saying what became of a logged request (driver values)."""
    return {
        "id": entry.id,
        "integration": entry.integration,
        "received_at": driver_time(dialect, entry.received_at),
        "processed_at": processed_at,
        "result": fastjson.dumps(result),
    }


class _Repeats:
    """One processing batch's view of the open alerts it names, and the repeats it counted.

    A key maps to its open alert's row, or to None when no alert is open under it. A key a
    request acted on through the whole intake is `stale` until looked up again.

    It also knows which (integration, identity, start) the batch names were already recorded
    as resolved: a resolved notification sent again (Alertmanager's next group notification, or
    its HA peer's) is only counted. That set only grows within a transaction, so what it holds
    stays true; what it lacks sends the request through the whole intake."""

    LOOKUP_CHUNK = 500

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.stale: set[str] = set()
        self.summaries: dict[int, str] = {}  # summaries changed by this batch's repeats
        self.bumps: dict[int, list[Any]] = {}  # alert id -> [repeats, last seen]
        self.new_summaries: dict[int, str] = {}
        self.resolved: set[tuple[str, str, datetime]] = set()

    def look_up_resolved(self, conn: Connection, wanted: set[tuple[str, str]]) -> None:
        """Note the starts of the resolved alerts recorded under these (integration, identity)."""
        by_integration: dict[str, list[str]] = {}
        for integration, identity in sorted(wanted):
            by_integration.setdefault(integration, []).append(identity)
        for integration, identities in by_integration.items():
            for start in range(0, len(identities), self.LOOKUP_CHUNK):
                chunk = identities[start : start + self.LOOKUP_CHUNK]
                found = conn.execute(
                    _RESOLVED_STARTS, {"integration": integration, "identities": chunk}
                )
                self.resolved.update(
                    (integration, row.identity, row.starts_at)
                    for row in found.all()
                    if row.starts_at is not None
                )

    def look_up(self, conn: Connection, keys: set[str]) -> None:
        ordered = sorted(keys)
        for key in ordered:
            self.rows[key] = None
        for start in range(0, len(ordered), self.LOOKUP_CHUNK):
            chunk = ordered[start : start + self.LOOKUP_CHUNK]
            for found in conn.execute(_OPEN_BY_KEYS, {"keys": chunk}).all():
                self.rows[found.open_key] = found
        self.stale.difference_update(keys)

    def take(
        self,
        conn: Connection,
        integration: str,
        alerts: Sequence[AlertIn],
        keys: list[str],
        now: datetime,
    ) -> IntakeResult | None:
        """The result of a request that only repeats open alerts or resolves already recorded,
        counted; None for any other request (which must go through the whole intake)."""
        if not alerts or any(item.test or item.status not in (FIRING, RESOLVED) for item in alerts):
            return None
        if self.stale.intersection(keys):
            self.look_up(conn, self.stale.intersection(keys))
        rows = []
        for key, item in zip(keys, alerts, strict=True):
            row = self.rows.get(key)
            if item.status == FIRING:
                if row is None:
                    return None
            elif (
                row is not None
                or key not in self.rows
                or not item.stale_guard
                or item.starts_at is None
                or (integration, item.identity, item.starts_at) not in self.resolved
            ):
                return None
            rows.append(row)
        result = IntakeResult(received=len(alerts), deduplicated=len(alerts))
        for item, row in zip(alerts, rows, strict=True):
            if row is None:
                continue  # resolved again: counted, nothing to write
            alert_id = int(row.id)
            result.alert_ids.append(alert_id)
            bump = self.bumps.setdefault(alert_id, [0, now])
            bump[0] += 1
            bump[1] = now
            if self.summaries.get(alert_id, row.summary) != item.summary:
                self.summaries[alert_id] = self.new_summaries[alert_id] = item.summary
        return result

    def write(self, conn: Connection) -> None:
        """Write the counts and summaries gathered so far (before a request that may read them)."""
        if self.bumps:
            _BUMP_BY.execute(
                conn,
                [
                    {"alert_id": alert_id, "times": times, "now": driver_time(conn.dialect, seen)}
                    for alert_id, (times, seen) in sorted(self.bumps.items())
                ],
            )
            self.bumps.clear()
        if self.new_summaries:
            conn.execute(
                _SET_SUMMARY,
                [{"alert_id": i, "new_summary": s} for i, s in sorted(self.new_summaries.items())],
            )
            self.new_summaries.clear()

    def forget(self, keys: list[str]) -> None:
        """A request went through the whole intake: what it named may have changed."""
        self.stale.update(keys)
        for key in keys:
            row = self.rows.get(key)
            if row is not None:
                self.summaries.pop(int(row.id), None)


def alert_counts(conn: Connection) -> dict[str, int]:
    """Intake counters summed over integrations (received, deduplicated, silenced, ...), plus
    gauges of open and silenced-open alerts. For the Prometheus /metrics endpoint."""
    c = t.alert_counters
    rows = conn.execute(select(c.c.counter, func.sum(c.c.value)).group_by(c.c.counter)).all()
    counts = {
        name: 0
        for name in (
            "received",
            "created",
            "deduplicated",
            "acknowledged",
            "resolved",
            "silenced",
            "recorded",
            "dropped",
            "tests",
        )
    }
    counts.update({str(name): int(value or 0) for name, value in rows})
    a = t.alerts
    counts["open"] = int(
        conn.execute(
            select(func.count()).select_from(a).where(a.c.status.in_((FIRING, ACKNOWLEDGED)))
        ).scalar_one()
    )
    return counts


def alert_counts_by_integration(conn: Connection) -> dict[str, dict[str, int]]:
    c = t.alert_counters
    out: dict[str, dict[str, int]] = {}
    for row in conn.execute(select(c)).all():
        out.setdefault(row.integration, {})[row.counter] = int(row.value)
    return out


def _bump(conn: Connection, integration: str, deltas: Mapping[str, int]) -> None:
    rows = [
        {"integration": integration, "counter": counter, "value": delta}
        for counter, delta in deltas.items()
        if delta
    ]
    if rows:
        conn.execute(_COUNTER_UPSERT.statement(conn), rows)


def _add_to_counters(insert: InsertOf) -> Any:
    c = t.alert_counters
    stmt = insert(c)
    return stmt.on_conflict_do_update(
        index_elements=[c.c.integration, c.c.counter],
        set_={"value": c.c.value + stmt.excluded.value},
    )


_COUNTER_UPSERT = Upsert(_add_to_counters)


# Prebuilt statements: the intake path runs them thousands of times a second.
_A = t.alerts
_OPEN_BY_KEYS = select(
    _A.c.id, _A.c.open_key, _A.c.status, _A.c.incident_id, _A.c.group_id, _A.c.summary
).where(_A.c.open_key.in_(bindparam("keys", expanding=True)))
_RESOLVED_STARTS = select(_A.c.identity, _A.c.starts_at).where(
    _A.c.integration == bindparam("integration"),
    _A.c.identity.in_(bindparam("identities", expanding=True)),
    _A.c.status == RESOLVED,
)
_OPEN_BY_KEY = select(
    _A.c.id, _A.c.open_key, _A.c.status, _A.c.incident_id, _A.c.group_id, _A.c.summary
).where(_A.c.open_key == bindparam("key"))
_BUMP_REPEAT = (
    update(_A)
    .where(_A.c.id == bindparam("alert_id"))
    .values(last_seen=bindparam("now"), count=_A.c.count + 1)
)
_BUMP_BY = DriverRows(
    update(_A)
    .where(_A.c.id == bindparam("alert_id"))
    .values(last_seen=bindparam("now"), count=_A.c.count + bindparam("times"))
)
_RECORD = DriverRows(
    insert(t.intake_requests).values({c.name: bindparam(c.name) for c in t.intake_requests.c})
)
_BUMP_REPEATS = (
    update(_A)
    .where(_A.c.id.in_(bindparam("ids", expanding=True)))
    .values(last_seen=bindparam("now"), count=_A.c.count + 1)
)
_SET_SUMMARY = (
    update(_A).where(_A.c.id == bindparam("alert_id")).values(summary=bindparam("new_summary"))
)
_SEEN_RESOLVED = (
    select(_A.c.id)
    .where(
        _A.c.integration == bindparam("integration"),
        _A.c.identity == bindparam("identity"),
        _A.c.starts_at == bindparam("starts"),
        _A.c.status == RESOLVED,
    )
    .limit(1)
)
_ACK_ALERT = (
    update(_A)
    .where(_A.c.id == bindparam("alert_id"))
    .values(status=ACKNOWLEDGED, acknowledged_at=bindparam("now"), last_seen=bindparam("now"))
)
_RESOLVE_ALERT = (
    update(_A)
    .where(_A.c.id == bindparam("alert_id"))
    .values(
        status=RESOLVED,
        open_key=None,
        resolved_at=bindparam("now"),
        ends_at=bindparam("ends"),
        last_seen=bindparam("now"),
    )
)
_ALERT_TIMES = ("starts_at", "ends_at", "first_seen", "last_seen", "resolved_at")
_ALERT_JSON = ("labels", "annotations", "details")
_INSERT_ALERT = DriverRows(
    insert(_A)
    .values(
        {c.name: bindparam(c.name) for c in _A.columns if c.name not in ("id", "acknowledged_at")}
    )
    .returning(_A.c.id)
)


def _insert_alert(conn: Connection, values: dict[str, Any]) -> int:
    """A new alert's row (every column but its id and acknowledgement); returns its id."""
    dialect = conn.dialect
    row = dict(values)
    for name in _ALERT_JSON:
        row[name] = driver_json(row[name])
    for name in _ALERT_TIMES:
        at = row[name]
        row[name] = None if at is None else driver_time(dialect, at)
    return int(_INSERT_ALERT.execute_one(conn, row).scalar_one())


_SET_INCIDENT = (
    update(_A).where(_A.c.id == bindparam("alert_id")).values(incident_id=bindparam("incident"))
)
_SET_INCIDENTS = (
    update(_A)
    .where(_A.c.id.in_(bindparam("ids", expanding=True)))
    .values(incident_id=bindparam("incident"))
)
_OPEN_COUNTS = (
    select(_A.c.status, func.count())
    .where(_A.c.incident_id == bindparam("incident"), _A.c.status.in_((FIRING, ACKNOWLEDGED)))
    .group_by(_A.c.status)
)
_G = t.alert_groups
_GROUP_BY_HASH = select(_G.c.id, _G.c.incident_id).where(_G.c.group_hash == bindparam("hash"))
_INSERT_GROUP = DriverRows(
    insert(_G)
    .values(
        {
            name: bindparam(name)
            for name in ("group_hash", "integration", "group_key", "created_at", "updated_at")
        }
    )
    .returning(_G.c.id)
)
_LINK_GROUP = (
    update(_G)
    .where(_G.c.id == bindparam("group"))
    .values(incident_id=bindparam("incident"), updated_at=bindparam("now"))
)
_I = tables.incidents
_INCIDENT_INFO = select(_I.c.public_id, _I.c.is_open, _I.c.resolved_at, _I.c.state).where(
    _I.c.id == bindparam("incident")
)


def _alert_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "integration": row.integration,
        "kind": row.kind,
        "identity": row.identity,
        "status": row.status,
        "summary": row.summary,
        "labels": row.labels,
        "annotations": row.annotations,
        "details": row.details,
        "source_severity": row.source_severity,
        "severity": row.severity,
        "service": row.service,
        "action": row.action,
        "route": row.route,
        "silenced": row.silence_id is not None,
        "silence_id": row.silence_id,
        "incident": row.incident,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "count": row.count,
        "acknowledged_at": row.acknowledged_at,
        "resolved_at": row.resolved_at,
        "generator_url": row.generator_url,
    }
