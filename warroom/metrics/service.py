"""Builds the metrics report.

`report` reads the `incident_metrics` read model (one row per incident, written with the
incident's events; see projection.py) and aggregates it column-wise. The original
computation, from the incidents and their events, is kept in the tests
(tests/metrics/reference.py) as the reference this path is held to.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from warroom.core import audit, tables
from warroom.core.auth import Principal
from warroom.core.clock import Clock
from warroom.core.config import AppConfig
from warroom.core.db import Database
from warroom.metrics import compute, projection
from warroom.metrics.compute import Options
from warroom.policy import Policy

# Events of the period's incidents are read by type from `since - EVENT_MARGIN` on (the
# `(type, occurred_at)` index), then kept only for the period's incidents. The margin covers
# milestones backdated before their incident's declaration.
EVENT_MARGIN = timedelta(days=30)


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

    def _action_items(self, conn: Connection, since: datetime, until: datetime) -> dict[str, Any]:
        """Action-item completion, from the post-mortem package."""
        from warroom.postmortems.service import action_item_stats

        return {"available": True, **action_item_stats(conn, since, until)}


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
