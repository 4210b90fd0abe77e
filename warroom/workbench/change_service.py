"""Changes (deploys, config, flags, infra) and their correlation with incidents.

Recording a change re-correlates the open incidents of its service and of the services that
depend on it (`correlate_changes` effects); the worker puts the best new correlations on the
timeline as `deploy_correlated` events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.engine import Connection

from warroom.core import outbox, tables
from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import InvalidInput
from warroom.incidents.model import Event, IncidentState
from warroom.workbench import correlation
from warroom.workbench import tables as wt
from warroom.workbench.config import ChangesConfig
from warroom.workbench.schemas import ChangeIn

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

CORRELATE = "correlate_changes"


class ChangeService:
    """Records changes and correlates them with incidents."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.config: ChangesConfig = runtime.config.section("changes") or ChangesConfig()

    def record_change(self, principal: Principal, request: ChangeIn) -> dict[str, Any]:
        if not (principal.has("responder") or principal.has("ingest")):
            principal.require("responder")
        known = [s.name for s in self.runtime.config.services]
        if known and request.service not in known:
            raise InvalidInput(
                f"unknown service {request.service!r}; known: {', '.join(known)}",
                details={"unknown_services": [request.service]},
            )
        now = self.runtime.clock.now()
        at = request.at or now
        if at > now + timedelta(minutes=5):
            raise InvalidInput("a change cannot be in the future")
        with self.runtime.db.write() as conn:
            result = conn.execute(
                insert(wt.changes).values(
                    service=request.service,
                    kind=request.kind,
                    version=request.version.strip(),
                    by=request.by.strip() or principal.actor,
                    link=request.link.strip(),
                    description=request.description,
                    occurred_at=at,
                    recorded_at=now,
                    recorded_by=principal.actor,
                )
            )
            assert result.inserted_primary_key is not None
            change_id = int(result.inserted_primary_key[0])
            # Open incidents of this service or of a service that depends on it re-correlate.
            dependents = [
                s.name for s in self.runtime.config.services if request.service in s.dependencies
            ]
            i, s = tables.incidents, tables.incident_services
            rows = conn.execute(
                select(i.c.id, i.c.public_id)
                .join(s, s.c.incident_id == i.c.id)
                .where(and_(i.c.is_open.is_(True), s.c.service.in_([request.service, *dependents])))
                .distinct()
            ).all()
            effects = [
                correlate_effect(r.public_id, int(r.id), now, f"change:{change_id}") for r in rows
            ]
            if effects:
                outbox.enqueue(conn, effects, now)
            row = conn.execute(select(wt.changes).where(wt.changes.c.id == change_id)).one()
        return _change_view(row)

    def list_changes(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        before: tuple[datetime, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; `before` (occurred_at, id): only changes after that one in this order."""
        c = wt.changes
        query = select(c)
        if before is not None:
            at, change_id = before
            query = query.where(
                or_(c.c.occurred_at < at, and_(c.c.occurred_at == at, c.c.id < change_id))
            )
        if service:
            query = query.where(c.c.service == service)
        if since is not None:
            query = query.where(c.c.occurred_at >= since)
        query = query.order_by(c.c.occurred_at.desc(), c.c.id.desc()).limit(limit)
        with self.runtime.db.read() as conn:
            return [_change_view(r) for r in conn.execute(query).all()]

    def _dependencies(self) -> dict[str, tuple[str, ...]]:
        return {s.name: s.dependencies for s in self.runtime.config.services}

    def correlations(
        self, state: IncidentState, conn: Connection | None = None
    ) -> list[correlation.Correlation]:
        """Recent changes that may have caused the incident, best first (`conn`: read inside
        the caller's transaction)."""
        window = self.config.window
        related = correlation.related_services(state.services, self._dependencies())
        if not related:
            return []
        c = wt.changes
        query = select(c).where(
            c.c.service.in_(list(related)),
            c.c.occurred_at >= state.started_at - window,
            c.c.occurred_at <= state.started_at,
        )
        if conn is None:
            with self.runtime.db.read() as own:
                rows = own.execute(query).all()
        else:
            rows = conn.execute(query).all()
        changes = [_change(r) for r in rows]
        return correlation.correlate(
            changes,
            services=state.services,
            dependencies=self._dependencies(),
            started_at=state.started_at,
            window=window,
        )

    def incident_changes(self, public_id: str) -> dict[str, Any]:
        state = self.runtime.incidents.get(public_id)
        found = self.correlations(state)
        return {
            "incident": state.public_id,
            "started_at": state.started_at.isoformat(),
            "window": self.config.window.total_seconds(),
            "changes": [c.to_dict() for c in found],
        }

    def correlate_onto_timeline(self, public_id: str) -> int:
        """Put the best new correlations on the timeline as `deploy_correlated` events."""
        with self.runtime.db.write() as conn:
            return self.correlate_in(conn, public_id)

    def correlate_in(self, conn: Connection, public_id: str) -> int:
        """`correlate_onto_timeline` inside the caller's transaction; returns events added."""
        loaded = self.runtime.incidents.load_in(conn, public_id, lock=True)
        if not loaded.state.is_open:
            return 0
        found = [
            c for c in self.correlations(loaded.state, conn) if c.score >= self.config.min_score
        ][: self.config.max_on_timeline]
        if not found:
            return 0
        e = tables.events
        seen = {
            (data or {}).get("change_id")
            for data in conn.execute(
                select(e.c.data).where(
                    e.c.incident_id == loaded.id, e.c.type == "deploy_correlated"
                )
            ).scalars()
        }
        now = self.runtime.clock.now()
        events = [
            Event("deploy_correlated", SYSTEM.actor, now, c.to_dict())
            for c in found
            if c.change.id not in seen
        ]
        self.runtime.incidents.append_in(conn, loaded, events)
        return len(events)


def _change(row: Any) -> correlation.Change:
    return correlation.Change(
        id=int(row.id),
        service=row.service,
        kind=row.kind,
        version=row.version,
        at=row.occurred_at,
        by=row.by,
        link=row.link,
        description=row.description,
    )


def _change_view(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "service": row.service,
        "kind": row.kind,
        "version": row.version,
        "by": row.by,
        "link": row.link,
        "description": row.description,
        "at": row.occurred_at.isoformat(),
        "recorded_at": row.recorded_at.isoformat(),
        "recorded_by": row.recorded_by,
    }


def correlate_effect(public_id: str, incident_id: int, now: datetime, why: str) -> outbox.Effect:
    return outbox.Effect(
        CORRELATE,
        {"incident": public_id},
        now,
        incident_id=incident_id,
        dedup_key=f"correlate:{public_id}:{why}",
    )
