"""Alert intake use cases: integrations and their keys, ingest, silences, heartbeats, counts.

Ingest runs in one transaction per request (shared with other requests by the group-commit
writer): alerts are deduplicated by their open identity, grouped by grouping key into one
incident, routed, silenced, and incidents are declared, attached to, reopened on recurrence or
moved to monitoring in the same transaction. Nothing here waits on notification delivery:
paging is planned by incident reactors as outbox rows.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from warroom.alerts import domain
from warroom.alerts import tables as t
from warroom.alerts.batching import GroupCommitter
from warroom.alerts.domain import ACKNOWLEDGED, FIRING, RESOLVED, AlertIn, AlertRoutes
from warroom.core import outbox, tables
from warroom.core.auth import SYSTEM, Principal, hash_token
from warroom.core.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthorized
from warroom.core.ratelimit import TokenBuckets
from warroom.core.upsert import InsertOf, Upsert
from warroom.core.vocab import IncidentType, Status
from warroom.incidents.model import Event, IncidentState, apply

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

HEARTBEAT_CHECK = "alerts.heartbeat_check"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
ACTOR = SYSTEM.actor
KEY_CACHE_SECONDS = 2.0
SILENCE_CACHE_SECONDS = 1.0


# ---- integrations ----------------------------------------------------------------------


class IntegrationOptions(BaseModel):
    """Per-integration settings (stored with API integrations, inline in the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(default=None, description="Service when the labels name none.")
    rate_limit: float = Field(default=100.0, ge=0, description="Requests/s; 0 = unlimited.")
    burst: int = Field(default=1000, ge=1)
    mapping: domain.GenericMapping | None = None
    timeout_seconds: int = Field(default=300, ge=10, le=7 * 86400)
    severity: str = "critical"
    summary: str | None = None


class IntegrationConfig(IntegrationOptions):
    """An integration in the config file; its key as a SHA-256 hash or an env var name."""

    kind: str
    key_sha256: str | None = None
    key_env: str | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in domain.KINDS:
            raise ValueError(f"kind must be one of {', '.join(domain.KINDS)}")
        return value

    @field_validator("key_sha256")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("key_sha256 is the 64 hex digits of the key's SHA-256")
        return value


class IntegrationsSection(RootModel[dict[str, IntegrationConfig]]):
    """The `integrations` config section: name -> integration."""

    root: dict[str, IntegrationConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class Integration:
    name: str
    kind: str
    options: IntegrationOptions
    source: str  # api | config
    key_prefix: str = ""
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "key_prefix": self.key_prefix,
            "options": self.options.model_dump(exclude_defaults=True, mode="json"),
            "created_at": self.created_at,
            "rotated_at": self.rotated_at,
            "revoked_at": self.revoked_at,
            "endpoint": ENDPOINTS.get(self.kind, ""),
        }


ENDPOINTS = {
    "alertmanager": "/api/v1/alerts/alertmanager",
    "pagerduty": "/v2/enqueue",
    "grafana": "/api/v1/alerts/grafana",
    "generic": "/api/v1/alerts/generic",
    "heartbeat": "/api/v1/heartbeats/{name}",
}


def generate_key() -> str:
    """32 hex characters, the shape of a PagerDuty integration (routing) key."""
    return secrets.token_hex(16)


# ---- results ---------------------------------------------------------------------------


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

    def add(self, incident_id: int, *events: Event) -> None:
        self.events.setdefault(incident_id, []).extend(events)


# ---- the service -----------------------------------------------------------------------


class AlertService:
    """The only writer of alerts, integrations, silences and heartbeats."""

    @staticmethod
    def alert_counts(conn: Connection) -> dict[str, int]:
        """Intake counters for the Prometheus exposition (see the module function)."""
        return alert_counts(conn)

    def __init__(self, runtime: Runtime, *, group_commit: bool | None = None) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.clock = runtime.clock
        section = runtime.config.section("alert_routes")
        self.routes: AlertRoutes = section if isinstance(section, AlertRoutes) else AlertRoutes()
        configured = runtime.config.section("integrations")
        self.config_integrations: dict[str, IntegrationConfig] = (
            dict(configured.root) if isinstance(configured, IntegrationsSection) else {}
        )
        self._config_keys: dict[str, str] = {}
        import os

        for name, cfg in self.config_integrations.items():
            if cfg.key_sha256:
                self._config_keys[cfg.key_sha256] = name
            elif cfg.key_env and os.environ.get(cfg.key_env):
                self._config_keys[hash_token(os.environ[cfg.key_env])] = name
        self.limiter = TokenBuckets()
        # Valid keys are remembered briefly (a DB read per request is most of the cost of a
        # small webhook); rotate/revoke clear it at once here, other processes within seconds.
        self._key_cache: dict[str, tuple[Integration, float]] = {}
        # Keys being re-read after their entry expired: meanwhile the other requests keep
        # using the entry (for up to another KEY_CACHE_SECONDS) instead of all re-reading it.
        self._key_refreshing: set[str] = set()
        self._key_lock = threading.Lock()
        self._silence_cache: (
            tuple[float, list[tuple[int, datetime, datetime, list[domain.Matcher]]]] | None
        ) = None
        # Counters of jobs in the current group-commit batch, written once before its commit.
        self._batch_counters: dict[tuple[str, str], int] = {}
        # Rate-limited requests are counted in memory (writing them would add load under a flood).
        self.rate_limited: dict[str, int] = {}
        self._rate_lock = threading.Lock()
        use_batching = True if group_commit is None else group_commit
        self.committer: GroupCommitter | None = (
            GroupCommitter(
                runtime.db,
                after_commit=self._after_commit,
                before_commit=self._write_batch_counters,
                on_rollback=self._batch_counters.clear,
            )
            if use_batching
            else None
        )

    def close(self) -> None:
        if self.committer is not None:
            self.committer.close()

    # ---- integrations ------------------------------------------------------------------

    def create_integration(
        self,
        principal: Principal,
        name: str,
        kind: str,
        options: Mapping[str, Any] | None = None,
    ) -> tuple[Integration, str]:
        """Create an integration; return it with its key (shown once, only a hash is kept)."""
        principal.require("admin")
        name = name.strip()
        if not _SLUG.match(name):
            raise InvalidInput("an integration name is a lowercase slug (letters, digits, . _ -)")
        if kind not in domain.KINDS:
            raise InvalidInput(f"unknown kind {kind!r}; choose from {', '.join(domain.KINDS)}")
        opts = _options(options or {})
        if name in self.config_integrations:
            raise Conflict(f"integration {name} is defined in the config file")
        key = generate_key()
        now = self.clock.now()
        with self.db.write() as conn:
            exists = conn.execute(
                select(t.alert_integrations.c.id).where(t.alert_integrations.c.name == name)
            ).first()
            if exists is not None:
                raise Conflict(f"integration {name} already exists")
            conn.execute(
                insert(t.alert_integrations).values(
                    name=name,
                    kind=kind,
                    key_hash=hash_token(key),
                    key_prefix=key[:6],
                    options=opts.model_dump(exclude_defaults=True, mode="json"),
                    created_at=now,
                    created_by=principal.actor,
                )
            )
            if kind == "heartbeat":
                conn.execute(
                    insert(t.alert_heartbeats).values(
                        integration=name,
                        state="inactive",
                        last_seen=None,
                        timeout_seconds=opts.timeout_seconds,
                        updated_at=now,
                    )
                )
        return self.integration(name), key

    def rotate_integration(self, principal: Principal, name: str) -> tuple[Integration, str]:
        """A new key; the old one stops working at once."""
        principal.require("admin")
        if name in self.config_integrations:
            raise Conflict(f"{name} is defined in the config file; change its key there")
        key = generate_key()
        self._key_cache.clear()
        with self.db.write() as conn:
            result = conn.execute(
                update(t.alert_integrations)
                .where(t.alert_integrations.c.name == name)
                .values(
                    key_hash=hash_token(key),
                    key_prefix=key[:6],
                    rotated_at=self.clock.now(),
                    revoked_at=None,
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"no integration {name}")
        return self.integration(name), key

    def revoke_integration(self, principal: Principal, name: str) -> Integration:
        principal.require("admin")
        if name in self.config_integrations:
            raise Conflict(f"{name} is defined in the config file; remove it there")
        self._key_cache.clear()
        with self.db.write() as conn:
            result = conn.execute(
                update(t.alert_integrations)
                .where(t.alert_integrations.c.name == name)
                .values(key_hash=None, revoked_at=self.clock.now())
            )
            if result.rowcount == 0:
                raise NotFound(f"no integration {name}")
        return self.integration(name)

    def integration(self, name: str) -> Integration:
        if name in self.config_integrations:
            return _from_config(name, self.config_integrations[name])
        with self.db.read() as conn:
            row = conn.execute(
                select(t.alert_integrations).where(t.alert_integrations.c.name == name)
            ).first()
        if row is None:
            raise NotFound(f"no integration {name}")
        return _from_row(row)

    def list_integrations(self) -> list[Integration]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.alert_integrations).order_by(t.alert_integrations.c.name)
            ).all()
        items = [_from_config(n, c) for n, c in sorted(self.config_integrations.items())]
        return items + [_from_row(r) for r in rows]

    def authenticate_cached(self, key: str | None, kind: str) -> Integration:
        """`authenticate` answered from memory, or LookupError when that needs the database."""
        if key:
            digest_ = hash_token(key.strip())
            cached = self._key_cache.get(digest_)
            if cached is not None and self._usable(digest_, cached[1]):
                if cached[0].kind != kind:
                    raise Unauthorized(
                        f"invalid, revoked or wrong-kind key for the {kind} endpoint"
                    )
                return cached[0]
        raise LookupError(key)

    def _usable(self, digest_: str, expires: float) -> bool:
        """A cached key is usable until it expires; then one caller re-reads it (False here)
        while the others go on with it for another KEY_CACHE_SECONDS at most."""
        now = time.monotonic()
        if expires > now:
            return True
        if expires + KEY_CACHE_SECONDS <= now:
            return False
        with self._key_lock:
            if digest_ in self._key_refreshing:
                return True
            self._key_refreshing.add(digest_)
            return False

    def authenticate(self, key: str | None, kind: str, name: str | None = None) -> Integration:
        """The integration a key belongs to; only valid for its own kind of endpoint."""
        if not key:
            raise Unauthorized(
                "an integration key is required (Authorization: Bearer KEY or in the URL)"
            )
        digest_ = hash_token(key.strip())
        integration: Integration | None = None
        cached = self._key_cache.get(digest_)
        if cached is not None and cached[1] > time.monotonic():
            integration = cached[0]
        elif digest_ in self._config_keys:
            cname = self._config_keys[digest_]
            integration = _from_config(cname, self.config_integrations[cname])
        else:
            try:
                with self.db.read() as conn:
                    row = conn.execute(
                        select(t.alert_integrations).where(
                            t.alert_integrations.c.key_hash == digest_
                        )
                    ).first()
                if row is not None and row.revoked_at is None:
                    integration = _from_row(row)
                    self._key_cache[digest_] = (integration, time.monotonic() + KEY_CACHE_SECONDS)
                else:  # revoked or rotated elsewhere: stop serving the old entry
                    self._key_cache.pop(digest_, None)
            finally:
                with self._key_lock:
                    self._key_refreshing.discard(digest_)
        if integration is None or integration.kind != kind:
            raise Unauthorized(f"invalid, revoked or wrong-kind key for the {kind} endpoint")
        if name is not None and integration.name != name:
            raise Unauthorized("this key belongs to another integration")
        return integration

    def check_rate(self, integration: Integration) -> None:
        options = integration.options
        wait = self.limiter.take(integration.name, rate=options.rate_limit, burst=options.burst)
        if wait > 0:
            with self._rate_lock:
                self.rate_limited[integration.name] = self.rate_limited.get(integration.name, 0) + 1
            raise RateLimited(
                f"integration {integration.name} sends more than "
                f"{integration.options.rate_limit:g} requests/s",
                retry_after=max(1, int(wait + 0.999)),
            )

    # ---- routing -----------------------------------------------------------------------

    def route(
        self,
        labels: Mapping[str, str],
        integration: Integration | None = None,
        explicit_service: str | None = None,
    ) -> domain.RouteDecision:
        policy = self.runtime.policy
        routing_labels = dict(labels)
        if integration is not None:
            routing_labels.setdefault("integration", integration.name)
        return domain.route_alert(
            routing_labels,
            self.routes,
            policy.severity_ids(),
            lambda key: policy.severity(key).id,
            default_service=integration.options.service if integration else None,
            explicit_service=explicit_service,
        )

    # ---- ingest ------------------------------------------------------------------------

    def ingest(self, integration: Integration, alerts: Sequence[AlertIn]) -> IntakeResult:
        """Store the alerts and act on them; returns after the transaction has committed."""

        def job(conn: Connection) -> IntakeResult:
            return self.ingest_in(conn, integration, alerts, self.clock.now())

        if self.committer is not None:
            return self.committer.submit(job)
        with self.db.write() as conn:
            result = job(conn)
        self._after_commit([result])
        return result

    def ingest_future(
        self, integration: Integration, alerts: Sequence[AlertIn]
    ) -> Future[IntakeResult] | None:
        """With group commit: a future resolved after commit (await it without a thread)."""
        if self.committer is None:
            return None

        def job(conn: Connection) -> IntakeResult:
            return self.ingest_in(conn, integration, alerts, self.clock.now(), defer_counters=True)

        return self.committer.enqueue(job)

    def _after_commit(self, results: list[Any]) -> None:
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
        defer_counters: bool = False,
    ) -> IntakeResult:
        result = IntakeResult()
        plan = _Plan()
        silences = self._active_silences(conn, now)
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
        if defer_counters:
            for counter, value in counts.items():
                slot = (integration.name, counter)
                self._batch_counters[slot] = self._batch_counters.get(slot, 0) + value
        else:
            _bump(conn, integration.name, counts)
        return result

    def _write_batch_counters(self, conn: Connection) -> None:
        """Before a group commit: one upsert for the whole batch's counters."""
        pending = dict(self._batch_counters)
        self._batch_counters.clear()
        if pending:
            rows = [{"integration": i, "counter": c, "value": v} for (i, c), v in pending.items()]
            conn.execute(_COUNTER_UPSERT.statement(conn), rows)

    def _ingest_one(
        self,
        conn: Connection,
        integration: Integration,
        item: AlertIn,
        row: Any,
        now: datetime,
        silences: list[tuple[int, list[domain.Matcher]]],
        plan: _Plan,
        result: IntakeResult,
    ) -> None:
        result.received += 1
        if item.status == FIRING:
            if item.stale_guard and self._seen_resolved(conn, integration, item):
                result.deduplicated += 1
                return
            self._new_alert(conn, integration, item, now, silences, plan, result)
            return
        if row is None:
            if item.status == RESOLVED and item.stale_guard:
                if self._seen_resolved(conn, integration, item):
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

    def _seen_resolved(self, conn: Connection, integration: Integration, item: AlertIn) -> bool:
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
        silences: list[tuple[int, list[domain.Matcher]]],
        plan: _Plan,
        result: IntakeResult,
    ) -> None:
        decision = self.route(item.labels, integration, item.service)
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
        alert_id = int(conn.execute(_INSERT_ALERT, values).inserted_primary_key[0])  # type: ignore[index]
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
        inserted = conn.execute(
            _INSERT_GROUP,
            {
                "group_hash": group_hash,
                "integration": integration,
                "group_key": group_key,
                "incident_id": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        return int(inserted.inserted_primary_key[0]), None  # type: ignore[index]

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
            open_counts: dict[str, int] = {}
            if check_ack or check_resolved:
                rows = conn.execute(_OPEN_COUNTS, {"incident": info.id}).all()
                open_counts = {str(s): int(c) for s, c in rows}

            def build(
                state: IncidentState,
                at: datetime,
                events: list[Event] = events,
                check_ack: bool = check_ack,
                check_resolved: bool = check_resolved,
                open_counts: dict[str, int] = open_counts,
                refired: bool = refired,
            ) -> list[Event]:
                planned = list(events)
                after = state
                for event in planned:
                    after = apply(after, event)
                if refired and after.status is Status.MONITORING:
                    # A new alert while monitoring means the fix did not hold.
                    back = Event(
                        "status_changed",
                        ACTOR,
                        at,
                        {
                            "from": Status.MONITORING.value,
                            "to": Status.INVESTIGATING.value,
                            "reason": "a new alert fired while the incident was in monitoring",
                        },
                    )
                    planned.append(back)
                    after = apply(after, back)
                still_open = open_counts.get(FIRING, 0) + open_counts.get(ACKNOWLEDGED, 0)
                if (
                    check_ack
                    and open_counts.get(FIRING, 0) == 0
                    and still_open > 0
                    and after.status.awaiting_ack
                ):
                    ack = Event(
                        "acknowledged",
                        ACTOR,
                        at,
                        {"reason": "every open alert of this incident was acknowledged"},
                    )
                    planned.append(ack)
                    after = apply(after, ack)
                if (
                    check_resolved
                    and still_open == 0
                    and after.source == "alert"
                    and after.is_open
                    and after.status is not Status.MONITORING
                ):
                    moved = Event(
                        "status_changed",
                        ACTOR,
                        at,
                        {
                            "from": after.status.value,
                            "to": Status.MONITORING.value,
                            "reason": "all alerts of this incident have resolved; "
                            "resolving it is a person's decision",
                        },
                    )
                    planned.append(moved)
                    after = apply(after, moved)
                if (
                    check_resolved
                    and still_open == 0
                    and after.source == "alert"
                    and after.status is Status.MONITORING
                    and getattr(self.runtime.policy, "alerts_auto_resolve", False)
                ):
                    planned.append(
                        Event(
                            "resolved",
                            ACTOR,
                            at,
                            {
                                "from": after.status.value,
                                "summary": "All alerts resolved; auto-resolved by policy "
                                "(alerts_auto_resolve).",
                                "checklist": {},
                                "auto": True,
                            },
                        )
                    )
                return planned

            firing_left = open_counts.get(FIRING, 0)
            open_left = firing_left + open_counts.get(ACKNOWLEDGED, 0)
            transition = (check_resolved and open_left == 0) or (
                check_ack and firing_left == 0 and open_left > 0
            )
            if not events and not transition:
                if declared is not None:
                    result.states.append(declared)
                continue
            state = self.runtime.incidents.mutate_in(conn, info.public_id, build)
            result.states.append(state)
            if info.public_id not in result.incidents:
                result.incidents.append(info.public_id)
        for incident_id, info in plan.incidents.items():
            if incident_id not in plan.events and info.public_id not in result.incidents:
                result.incidents.append(info.public_id)

    # ---- silences ----------------------------------------------------------------------

    def _active_silences(
        self, conn: Connection, now: datetime
    ) -> list[tuple[int, list[domain.Matcher]]]:
        cached = self._silence_cache
        if cached is None or cached[0] < time.monotonic():
            # Silences change rarely: read the ones not yet over once a second (and at once
            # after a change made here), then decide activity against `now` exactly.
            rows = conn.execute(_CURRENT_SILENCES, {"now": now}).all()
            parsed: list[tuple[int, datetime, datetime, list[domain.Matcher]]] = []
            for row in rows:
                try:
                    matchers = domain.parse_matchers(list(row.matchers))
                except InvalidInput:
                    continue
                parsed.append((int(row.id), row.starts_at, row.ends_at, matchers))
            cached = (time.monotonic() + SILENCE_CACHE_SECONDS, parsed)
            self._silence_cache = cached
        return [(sid, m) for sid, start, end, m in cached[1] if start <= now < end]

    def add_silence(
        self,
        principal: Principal,
        *,
        matchers: Sequence[str],
        ends_at: datetime,
        comment: str,
        starts_at: datetime | None = None,
    ) -> dict[str, Any]:
        principal.require("responder")
        if not matchers:
            raise InvalidInput("a silence needs at least one matcher (e.g. service=payments)")
        parsed = domain.parse_matchers(matchers)
        if all(m.matches({}) for m in parsed):
            raise InvalidInput("these matchers match every alert; add one that needs a label")
        if not comment.strip():
            raise InvalidInput("a silence needs a comment saying why")
        now = self.clock.now()
        start = starts_at or now
        if ends_at <= start:
            raise InvalidInput("a silence must end after it starts")
        if ends_at <= now:
            raise InvalidInput("a silence must end in the future")
        self._silence_cache = None
        with self.db.write() as conn:
            inserted = conn.execute(
                insert(t.alert_silences).values(
                    matchers=[str(m) for m in parsed],
                    starts_at=start,
                    ends_at=ends_at,
                    author=principal.actor,
                    comment=comment.strip(),
                    created_at=now,
                )
            )
            silence_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        return self.silence(silence_id)

    def expire_silence(self, principal: Principal, silence_id: int) -> dict[str, Any]:
        principal.require("responder")
        now = self.clock.now()
        with self.db.write() as conn:
            s = t.alert_silences
            row = conn.execute(select(s.c.id, s.c.ends_at).where(s.c.id == silence_id)).first()
            if row is None:
                raise NotFound(f"no silence {silence_id}")
            self._silence_cache = None
            conn.execute(
                update(s)
                .where(s.c.id == silence_id, s.c.expired_at.is_(None))
                .values(expired_at=now, ends_at=min(row.ends_at, now))
            )
        return self.silence(silence_id)

    def silence(self, silence_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(
                select(t.alert_silences).where(t.alert_silences.c.id == silence_id)
            ).first()
        if row is None:
            raise NotFound(f"no silence {silence_id}")
        return _silence_dict(row, self.clock.now())

    def list_silences(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        s = t.alert_silences
        now = self.clock.now()
        query = select(s).order_by(s.c.id.desc()).limit(500)
        if not include_expired:
            query = query.where(s.c.ends_at > now, s.c.expired_at.is_(None))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_silence_dict(r, now) for r in rows]

    # ---- reads -------------------------------------------------------------------------

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
                silence = _silence_dict(srow, self.clock.now()) if srow else None
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
        counts["rate_limited"] = sum(self.rate_limited.values())
        return counts

    # ---- heartbeats --------------------------------------------------------------------

    def heartbeat(self, integration: Integration) -> dict[str, Any]:
        """A ping: healthy again (resolving the missed-heartbeat alert), next check planned."""
        timeout = timedelta(seconds=integration.options.timeout_seconds)

        def job(conn: Connection) -> tuple[dict[str, Any], IntakeResult | None]:
            now = self.clock.now()
            h = t.alert_heartbeats
            row = conn.execute(select(h).where(h.c.integration == integration.name)).first()
            previous = row.state if row is not None else "inactive"
            if row is None:
                conn.execute(
                    insert(h).values(
                        integration=integration.name,
                        state="healthy",
                        last_seen=now,
                        timeout_seconds=int(timeout.total_seconds()),
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    update(h)
                    .where(h.c.integration == integration.name)
                    .values(state="healthy", last_seen=now, updated_at=now)
                )
            outbox.enqueue(
                conn,
                [
                    outbox.Effect(
                        HEARTBEAT_CHECK,
                        {"integration": integration.name, "last_seen": now.isoformat()},
                        now + timeout,
                        dedup_key=f"heartbeat:{integration.name}:{now.isoformat()}",
                    )
                ],
                now,
            )
            intake = None
            if previous == "unhealthy":
                intake = self.ingest_in(
                    conn, integration, [_heartbeat_alert(integration, RESOLVED, now)], now
                )
            return (
                {
                    "integration": integration.name,
                    "state": "healthy",
                    "previous": previous,
                    "last_seen": now,
                    "next_deadline": now + timeout,
                },
                intake,
            )

        if self.committer is not None:
            data, intake = self.committer.submit(job)
        else:
            with self.db.write() as conn:
                data, intake = job(conn)
        if intake is not None:
            self._after_commit([intake])
        return data

    def check_heartbeat(self, name: str, last_seen: str) -> str:
        """Fire the missed-heartbeat alert if no ping came since `last_seen` + timeout."""
        try:
            integration = self.integration(name)
        except NotFound:
            return "integration gone"
        if integration.revoked_at is not None:
            return "integration revoked"
        now = self.clock.now()
        h = t.alert_heartbeats
        with self.db.write() as conn:
            row = conn.execute(select(h).where(h.c.integration == name)).first()
            if row is None or row.state != "healthy" or row.last_seen is None:
                return "not healthy; nothing to do"
            deadline = row.last_seen + timedelta(seconds=integration.options.timeout_seconds)
            if row.last_seen.isoformat() != last_seen or now < deadline:
                return "a later ping arrived"
            conn.execute(
                update(h).where(h.c.integration == name).values(state="unhealthy", updated_at=now)
            )
            result = self.ingest_in(
                conn, integration, [_heartbeat_alert(integration, FIRING, now, row.last_seen)], now
            )
        self._after_commit([result])
        return f"heartbeat missed since {row.last_seen.isoformat()}; alert raised"

    def heartbeats(self) -> list[dict[str, Any]]:
        h = t.alert_heartbeats
        with self.db.read() as conn:
            rows = conn.execute(select(h).order_by(h.c.integration)).all()
        return [
            {
                "integration": r.integration,
                "state": r.state,
                "last_seen": r.last_seen,
                "timeout_seconds": r.timeout_seconds,
            }
            for r in rows
        ]


def _heartbeat_alert(
    integration: Integration, status: str, now: datetime, last_seen: datetime | None = None
) -> AlertIn:
    summary = integration.options.summary or f"Heartbeat {integration.name} missed"
    labels = {
        "alertname": "HeartbeatMissed",
        "heartbeat": integration.name,
        "severity": integration.options.severity,
    }
    if integration.options.service:
        labels["service"] = integration.options.service
    details = {"last_seen": last_seen.isoformat()} if last_seen else {}
    return AlertIn(
        identity=f"heartbeat:{integration.name}",
        status=status,
        labels=labels,
        summary=summary,
        group_key=f"heartbeat:{integration.name}",
        starts_at=now,
        source_severity=integration.options.severity,
        details=details,
    )


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
_OPEN_BY_KEY = select(
    _A.c.id, _A.c.open_key, _A.c.status, _A.c.incident_id, _A.c.group_id, _A.c.summary
).where(_A.c.open_key == bindparam("key"))
_BUMP_REPEAT = (
    update(_A)
    .where(_A.c.id == bindparam("alert_id"))
    .values(last_seen=bindparam("now"), count=_A.c.count + 1)
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
_INSERT_ALERT = insert(_A)
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
_INSERT_GROUP = insert(_G)
_LINK_GROUP = (
    update(_G)
    .where(_G.c.id == bindparam("group"))
    .values(incident_id=bindparam("incident"), updated_at=bindparam("now"))
)
_I = tables.incidents
_INCIDENT_INFO = select(_I.c.public_id, _I.c.is_open, _I.c.resolved_at, _I.c.state).where(
    _I.c.id == bindparam("incident")
)
_S = t.alert_silences
_CURRENT_SILENCES = select(_S.c.id, _S.c.matchers, _S.c.starts_at, _S.c.ends_at).where(
    _S.c.ends_at > bindparam("now"), _S.c.expired_at.is_(None)
)


def _options(data: Mapping[str, Any]) -> IntegrationOptions:
    try:
        return IntegrationOptions.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(
            f"options.{path}: {first.get('msg')}",
            details=[
                {"path": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                for e in exc.errors()
            ],
        ) from None


def _from_config(name: str, cfg: IntegrationConfig) -> Integration:
    options = IntegrationOptions.model_validate(
        cfg.model_dump(exclude={"kind", "key_sha256", "key_env"})
    )
    return Integration(name=name, kind=cfg.kind, options=options, source="config")


def _from_row(row: Any) -> Integration:
    return Integration(
        name=row.name,
        kind=row.kind,
        options=IntegrationOptions.model_validate(row.options or {}),
        source="api",
        key_prefix=row.key_prefix,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )


def _silence_dict(row: Any, now: datetime) -> dict[str, Any]:
    if row.expired_at is not None or row.ends_at <= now:
        state = "expired"
    elif row.starts_at > now:
        state = "pending"
    else:
        state = "active"
    return {
        "id": row.id,
        "matchers": list(row.matchers),
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "author": row.author,
        "comment": row.comment,
        "created_at": row.created_at,
        "expired_at": row.expired_at,
        "state": state,
    }


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


def new_dedup_key() -> str:
    return uuid.uuid4().hex
