"""The alerts plugin: intake service, routes, CLI, config sections and the heartbeat timer."""

from __future__ import annotations

from typing import Any

from warroom.alerts import domain
from warroom.alerts.api import intake, router, webhooks
from warroom.alerts.cli import register_cli
from warroom.alerts.heartbeats import HEARTBEAT_CHECK
from warroom.alerts.integrations import IntegrationsSection
from warroom.alerts.service import AlertService
from warroom.core import outbox
from warroom.core.config import AppConfig
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime
from warroom.worker import Outcome

routers = [router]
# Matched before every other route: webhooks arrive by the hundred per second.
first_routers = [intake, webhooks]
config_sections: dict[str, Any] = {
    "alert_routes": domain.AlertRoutes,
    "integrations": IntegrationsSection,
}

__all__ = ["check_config", "config_sections", "first_routers", "install", "register_cli", "routers"]


def install(runtime: Runtime) -> None:
    runtime.extras["alerts"] = AlertService(runtime)
    runtime.effect_handlers[HEARTBEAT_CHECK] = handle_heartbeat_check


def handle_heartbeat_check(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    """Re-check at fire time: raise the alert only if no ping came since this one was planned."""
    svc: AlertService = runtime.extras["alerts"]
    payload = effect.payload
    message = svc.check_heartbeat(str(payload.get("integration")), str(payload.get("last_seen")))
    return Outcome(True, message)


def check_config(config: AppConfig) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    policy = config.policy
    services = [s.name for s in config.services]

    def resolve(key: str) -> str:
        return policy.severity(key).id

    routes = config.section("alert_routes")
    if isinstance(routes, domain.AlertRoutes):
        for problem in domain.check_routes(routes, resolve, services):
            path, _, message = problem.partition(": ")
            problems.append({"path": f"alert_routes.{path}", "message": message})
    integrations = config.section("integrations")
    if isinstance(integrations, IntegrationsSection):
        for name, integration in integrations.root.items():
            if not integration.key_sha256 and not integration.key_env:
                problems.append(
                    {
                        "path": f"integrations.{name}",
                        "message": "give key_sha256 (sha256 of the key) or key_env (env var name)",
                    }
                )
            if integration.service and services and integration.service not in services:
                problems.append(
                    {
                        "path": f"integrations.{name}.service",
                        "message": f"unknown service {integration.service!r}",
                    }
                )
            if integration.kind == "heartbeat":
                try:
                    resolve(integration.severity)
                except InvalidInput:
                    defaults = (
                        routes if isinstance(routes, domain.AlertRoutes) else domain.AlertRoutes()
                    ).default_severity_map
                    if integration.severity.lower() not in defaults:
                        problems.append(
                            {
                                "path": f"integrations.{name}.severity",
                                "message": f"unknown severity {integration.severity!r}",
                            }
                        )
    return problems
