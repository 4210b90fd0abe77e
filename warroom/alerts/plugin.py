"""The alerts plug-in: intake service, webhooks, routes, CLI, config sections, the heartbeat
timer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin, Problem

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel
    from starlette.types import ASGIApp

    from warroom.core.config import AppConfig
    from warroom.core.outbox import EffectHandler
    from warroom.core.runtime import Runtime


class AlertsPlugin(Plugin):
    name = "alerts"
    tables = "warroom.alerts.tables"
    cli_commands = {
        "integrations": "Alert integrations and their keys (admin).",
        "alerts": "Alerts received from integrations.",
        "routes": "Alert routing rules.",
        "silence": "Silences / maintenance windows.",
    }

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.alerts.domain import AlertRoutes
        from warroom.alerts.service import IntegrationsSection

        return {"alert_routes": AlertRoutes, "integrations": IntegrationsSection}

    def check_config(self, config: AppConfig) -> list[Problem]:
        return check_config(config)

    def install(self, runtime: Runtime) -> None:
        from warroom.alerts.service import AlertService

        runtime.alerts = AlertService(runtime)

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.alerts.effects import HANDLERS

        return HANDLERS

    def first_routers(self) -> Sequence[APIRouter]:
        # Matched before every other route: webhooks arrive by the hundred per second.
        from warroom.alerts.api import intake, webhooks

        return [intake, webhooks]

    def outer_layers(self, runtime: Runtime) -> Sequence[Callable[[ASGIApp], ASGIApp]]:
        # Webhooks arrive by the thousand per second: answered outside the app's layers (same
        # handlers, same guards).
        from warroom.alerts.api import IntakeFastPath

        return [IntakeFastPath]

    def routers(self) -> Sequence[APIRouter]:
        from warroom.alerts.api import router

        return [router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.alerts.cli import register_cli

        register_cli(app)


def check_config(config: AppConfig) -> list[Problem]:
    """Routes name known severities and services; integrations have a key and known names."""
    from warroom.alerts import domain
    from warroom.alerts.service import IntegrationsSection
    from warroom.core.errors import InvalidInput

    problems: list[Problem] = []
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


plugin = AlertsPlugin()
