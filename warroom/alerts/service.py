"""The alerts package's services, composed: integrations, routing, intake, silences, heartbeats.

`AlertService` is what the plug-in installs (`runtime.alerts`). Each concern lives in
its own module and service (`integrations`, `routes`, `intake`, `silences`, `heartbeats`);
this class holds one of each and keeps the names other packages call.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from warroom.alerts import domain
from warroom.alerts.domain import AlertIn
from warroom.alerts.heartbeats import HEARTBEAT_CHECK, HeartbeatService
from warroom.alerts.intake import (
    IntakeResult,
    IntakeService,
    alert_counts,
    alert_counts_by_integration,
)
from warroom.alerts.integrations import (
    ENDPOINTS,
    KEY_CACHE_SECONDS,
    Integration,
    IntegrationConfig,
    IntegrationOptions,
    IntegrationService,
    IntegrationsSection,
    generate_key,
)
from warroom.alerts.routes import RouteService
from warroom.alerts.silences import SilenceService
from warroom.core.auth import Principal

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

__all__ = [
    "ENDPOINTS",
    "HEARTBEAT_CHECK",
    "KEY_CACHE_SECONDS",
    "AlertService",
    "IntakeResult",
    "Integration",
    "IntegrationConfig",
    "IntegrationOptions",
    "IntegrationsSection",
    "alert_counts",
    "alert_counts_by_integration",
    "generate_key",
    "new_dedup_key",
]


class AlertService:
    """One integrations, silences, routing, intake and heartbeats service, sharing the runtime."""

    @staticmethod
    def alert_counts(conn: Connection) -> dict[str, int]:
        """Intake counters for the Prometheus exposition (see `intake.alert_counts`)."""
        return alert_counts(conn)

    def __init__(self, runtime: Runtime, *, group_commit: bool | None = None) -> None:
        self.runtime = runtime
        self.integrations = IntegrationService(runtime)
        self.silences = SilenceService(runtime)
        self.routing = RouteService(runtime)
        self.intake = IntakeService(
            runtime, self.integrations, self.silences, self.routing, group_commit=group_commit
        )
        self.heartbeats = HeartbeatService(runtime, self.integrations, self.intake)

    def close(self) -> None:
        self.intake.close()

    def hand_over(self, successor: AlertService) -> None:
        """Stop this service's intake threads for `successor` (a runtime rewired for a new
        config), which keeps the log processed as this one did."""
        kept_running = self.intake.processor.keeps_running
        elsewhere = self.intake.elsewhere
        self.close()
        if elsewhere is not None:
            successor.intake.process_elsewhere(elsewhere)
        if kept_running:
            successor.intake.processor.keep_running()

    def intake_backlog(self) -> int:
        """Webhook requests acknowledged and not yet processed (the intake log's length)."""
        return self.intake.log.backlog()

    def intake_lag(self, now: datetime) -> float:
        """Seconds the oldest acknowledged, unprocessed webhook request has waited (0: none)."""
        oldest = self.intake.log.oldest_pending()
        return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())

    # ---- integrations ------------------------------------------------------------------

    def create_integration(
        self,
        principal: Principal,
        name: str,
        kind: str,
        options: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> tuple[Integration, str]:
        return self.integrations.create(principal, name, kind, options, key)

    def rotate_integration(self, principal: Principal, name: str) -> tuple[Integration, str]:
        return self.integrations.rotate(principal, name)

    def revoke_integration(self, principal: Principal, name: str) -> Integration:
        return self.integrations.revoke(principal, name)

    def integration(self, name: str) -> Integration:
        return self.integrations.get(name)

    def list_integrations(self) -> list[Integration]:
        return self.integrations.list_integrations()

    def authenticate(self, key: str | None, kind: str, name: str | None = None) -> Integration:
        return self.integrations.authenticate(key, kind, name)

    def authenticate_cached(self, key: str | None, kind: str) -> Integration:
        return self.integrations.authenticate_cached(key, kind)

    def check_rate(self, integration: Integration) -> None:
        self.integrations.check_rate(integration)

    # ---- intake and alerts -------------------------------------------------------------

    def route(
        self,
        labels: Mapping[str, str],
        integration: Integration | None = None,
        explicit_service: str | None = None,
    ) -> domain.RouteDecision:
        return self.intake.route(labels, integration, explicit_service)

    def ingest(self, integration: Integration, alerts: Sequence[AlertIn]) -> IntakeResult:
        return self.intake.ingest(integration, alerts)

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
        return self.intake.list_alerts(
            status=status,
            integration=integration,
            incident=incident,
            silenced=silenced,
            limit=limit,
            before_id=before_id,
        )

    def get_alert(self, alert_id: int) -> dict[str, Any]:
        return self.intake.get_alert(alert_id)

    def counts_by_service(self) -> dict[str, dict[str, int]]:
        return self.intake.counts_by_service()

    def counts(self) -> dict[str, int]:
        return self.intake.counts()

    # ---- silences ----------------------------------------------------------------------

    def add_silence(
        self,
        principal: Principal,
        *,
        matchers: Sequence[str],
        ends_at: datetime,
        comment: str,
        starts_at: datetime | None = None,
    ) -> dict[str, Any]:
        return self.silences.add(
            principal, matchers=matchers, ends_at=ends_at, comment=comment, starts_at=starts_at
        )

    def expire_silence(self, principal: Principal, silence_id: int) -> dict[str, Any]:
        return self.silences.expire(principal, silence_id)

    def silence(self, silence_id: int) -> dict[str, Any]:
        return self.silences.get(silence_id)

    def list_silences(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        return self.silences.list_silences(include_expired=include_expired)

    # ---- heartbeats --------------------------------------------------------------------

    def heartbeat(self, integration: Integration) -> dict[str, Any]:
        return self.heartbeats.ping(integration)

    def check_heartbeat(self, name: str, last_seen: str) -> str:
        return self.heartbeats.check(name, last_seen)


def new_dedup_key() -> str:
    """A PagerDuty trigger without a dedup_key gets one (a UUID, as PagerDuty does)."""
    return uuid.uuid4().hex
