"""Heartbeat monitors: a sender pings; a missed ping (after its timeout) raises an alert.

Each ping plans a check as an outbox effect due at the deadline; the check re-reads the state
when it fires and raises the missed-heartbeat alert through intake only if no later ping came.
The next ping resolves that alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from warroom.alerts import tables as t
from warroom.alerts.domain import FIRING, RESOLVED, AlertIn
from warroom.alerts.intake import IntakeResult, IntakeService
from warroom.alerts.integrations import Integration, IntegrationService
from warroom.core import outbox
from warroom.core.errors import NotFound

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

HEARTBEAT_CHECK = "alerts.heartbeat_check"


class HeartbeatService:
    """The only writer of heartbeat states."""

    def __init__(
        self, runtime: Runtime, integrations: IntegrationService, intake: IntakeService
    ) -> None:
        self.db = runtime.db
        self.clock = runtime.clock
        self.integrations = integrations
        self.intake = intake

    def ping(self, integration: Integration) -> dict[str, Any]:
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
                intake = self.intake.ingest_in(
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

        data, intake = self.intake.write(job)
        if intake is not None:
            self.intake.after_commit([intake])
        return data

    def check(self, name: str, last_seen: str) -> str:
        """Fire the missed-heartbeat alert if no ping came since `last_seen` + timeout."""
        try:
            integration = self.integrations.get(name)
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
            result = self.intake.ingest_in(
                conn, integration, [_heartbeat_alert(integration, FIRING, now, row.last_seen)], now
            )
        self.intake.after_commit([result])
        return f"heartbeat missed since {row.last_seen.isoformat()}; alert raised"

    def list_heartbeats(self) -> list[dict[str, Any]]:
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
