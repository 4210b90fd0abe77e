"""Reads incident facts in bulk and builds the metrics report.

Milestones come from the incident projection (`incidents` columns and `state` JSON), which the
incident service writes as the fold of the timeline events in the same transaction as the
events themselves: they are event times, never row update times. The few events metrics need
beyond the fold (status updates, milestone corrections, backdated milestone events) are read
from `events` with the `(type, occurred_at)` index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Float, Integer, String, and_, cast, select
from sqlalchemy.engine import Connection

from warroom.core import tables
from warroom.core.clock import Clock, ensure_utc
from warroom.core.config import AppConfig
from warroom.core.db import Database
from warroom.metrics import compute
from warroom.metrics.compute import IncidentFacts, Options
from warroom.policy import Policy

MILESTONE_EVENTS = ("acknowledged", "status_changed", "resolved", "closed", "reopened")
UPDATE_EVENT = "status_update_published"
CORRECTION_EVENT = "milestone_corrected"


class MetricsService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        config: AppConfig,
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.config = config
        self.extras = extras if extras is not None else {}

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
        opts = self.options(since, until, by, tz)
        with self.db.read() as conn:
            facts = load_facts(conn, since, until)
            action_items = self._action_items(conn, since, until)
        data = compute.report(facts, self.policy, opts, include_incidents=include_incidents)
        data["action_items"] = action_items
        return data

    def _action_items(self, conn: Connection, since: datetime, until: datetime) -> dict[str, Any]:
        """Action-item completion from the post-mortem package's hook, when it is installed."""
        provider = self.extras.get("postmortems")
        stats: Callable[..., Any] | None = getattr(provider, "action_item_stats", None)
        if stats is None:
            return {"available": False, "reason": "the post-mortem package is not installed"}
        return {"available": True, **dict(stats(conn, since, until))}


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    return ensure_utc(datetime.fromisoformat(str(value)))


def load_facts(conn: Connection, since: datetime, until: datetime) -> list[IncidentFacts]:
    """Facts of the incidents declared in [since, until)."""
    i = tables.incidents
    state = i.c.state
    in_period = and_(i.c.declared_at >= since, i.c.declared_at < until)
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
        i.c.detected_at,
        i.c.acknowledged_at,
        i.c.mitigated_at,
        i.c.resolved_at,
        cast(state["reopen_count"].as_integer(), Integer).label("reopen_count"),
        cast(state[("impact", "revenue_per_hour")].as_float(), Float).label("revenue"),
        cast(state[("postmortem", "status")].as_string(), String).label("pm_status"),
    ).where(in_period)
    rows = conn.execute(query).all()
    extra = _event_facts(conn, in_period)
    facts: list[IncidentFacts] = []
    for r in rows:
        item = IncidentFacts(
            id=r.id,
            public_id=r.public_id,
            title=r.title,
            severity=r.severity,
            type=r.type,
            status=r.status,
            services=tuple(r.services or ()),
            declared_at=r.declared_at,
            started_at=r.started_at,
            detected_at=r.detected_at,
            acknowledged_at=r.acknowledged_at,
            mitigated_at=r.mitigated_at,
            resolved_at=r.resolved_at,
            reopen_count=int(r.reopen_count or 0),
            revenue_per_hour=float(r.revenue) if r.revenue is not None else None,
            postmortem_status=r.pm_status,
        )
        found = extra.get(r.id)
        if found is not None:
            item = replace(
                item,
                corrected=tuple(sorted(found["corrected"])),
                backdated=tuple(sorted(found["backdated"])),
                updates=tuple(found["updates"]),
            )
        facts.append(item)
    return facts


def _event_facts(conn: Connection, in_period: Any) -> dict[int, dict[str, Any]]:
    """Status updates, corrections and backdated milestone events of the period's incidents."""
    e, i = tables.events, tables.incidents
    found: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"corrected": set(), "backdated": set(), "updates": []}
    )
    joined = e.join(i, i.c.id == e.c.incident_id)
    updates = conn.execute(
        select(
            e.c.incident_id,
            e.c.occurred_at,
            cast(e.c.data["next_update_at"].as_string(), String).label("promised"),
        )
        .select_from(joined)
        .where(e.c.type == UPDATE_EVENT, in_period)
    ).all()
    for row in updates:
        found[row.incident_id]["updates"].append((row.occurred_at, _utc(row.promised)))
    corrections = conn.execute(
        select(
            e.c.incident_id,
            cast(e.c.data["milestone"].as_string(), String).label("milestone"),
        )
        .select_from(joined)
        .where(e.c.type == CORRECTION_EVENT, in_period)
    ).all()
    for row in corrections:
        found[row.incident_id]["corrected"].add(str(row.milestone))
    # Milestone events recorded later than they say they happened; the comparison runs in SQL
    # so only the (rare) candidates come back, then the tolerance is applied here.
    late = conn.execute(
        select(e.c.incident_id, e.c.type, e.c.occurred_at, e.c.recorded_at)
        .select_from(joined)
        .where(
            e.c.type.in_(MILESTONE_EVENTS),
            e.c.occurred_at < e.c.recorded_at,
            in_period,
        )
    ).all()
    for row in late:
        if row.recorded_at - row.occurred_at > compute.BACKDATE_TOLERANCE:
            found[row.incident_id]["backdated"].add(str(row.type))
    return found


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
