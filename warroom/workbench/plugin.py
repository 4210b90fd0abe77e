"""Plugs the workbench into the core: config sections, reactor, worker handlers
(warroom.workbench.effects), API, CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin, Problem

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel

    from warroom.core.config import AppConfig
    from warroom.core.outbox import EffectHandler
    from warroom.core.runtime import Runtime
    from warroom.incidents.service import Reactor


class WorkbenchPlugin(Plugin):
    name = "workbench"
    tables = "warroom.workbench.tables"
    cli_commands = {
        "runbook": "Runbooks: list, show, check, run, approve.",
        "change": "Changes (deploys, config, flags, infra).",
        "mitigation": "Mitigation suggestions and outcomes.",
        "hotfix": "Hotfixes and their quality gates.",
        "verify": "Verification after mitigation.",
    }

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.workbench.config import (
            ChangesConfig,
            EmergencyPrConfig,
            RunbooksConfig,
            VerificationConfig,
        )

        return {
            "runbooks": RunbooksConfig,
            "changes": ChangesConfig,
            "verification": VerificationConfig,
            "emergency_pr": EmergencyPrConfig,
        }

    def check_config(self, config: AppConfig) -> list[Problem]:
        return check_config(config)

    def config_warnings(self, config: AppConfig) -> list[Problem]:
        """An emergency-PR repository whose token is not set (the PRs would fail)."""
        from warroom.workbench.config import EmergencyPrConfig

        section: EmergencyPrConfig | None = config.section("emergency_pr")
        github = section.github if section is not None else None
        if github is None or github.secret():
            return []
        return [
            {
                "path": "emergency_pr.github.token_env",
                "message": f"no GitHub token: {github.token_env} is not set, so emergency "
                "pull requests will fail (each failure is on the incident's timeline)",
            }
        ]

    def install(self, runtime: Runtime) -> None:
        from warroom.workbench.service import Workbench

        runtime.workbench = Workbench(runtime)

    def reactors(self, runtime: Runtime) -> Sequence[Reactor]:
        from warroom.workbench.effects import reactor

        return [reactor(runtime)]

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.workbench.effects import HANDLERS

        return HANDLERS

    def routers(self) -> Sequence[APIRouter]:
        from warroom.workbench.api import router

        return [router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.workbench.cli import register

        register(app)


def check_config(config: AppConfig) -> list[Problem]:
    """Runbooks in the configured directory, and the catalog's health checks."""
    from warroom.workbench import service as svc
    from warroom.workbench.config import RunbooksConfig, health_check_problems

    problems: list[Problem] = []
    for n, service in enumerate(config.services):
        for m, check in enumerate(service.health_checks):
            problems.extend(health_check_problems(check, f"services.{n}.health_checks.{m}"))
    section: RunbooksConfig = config.section("runbooks") or RunbooksConfig()
    catalog, found = svc.load_catalog(section, [s.name for s in config.services])
    problems.extend(
        {"path": f"runbooks ({p.source}) {p.path}", "message": p.message} for p in found
    )
    executor = section.command_executor
    for name in executor.allow_runbooks:
        if name not in catalog:
            problems.append(
                {
                    "path": "runbooks.command_executor.allow_runbooks",
                    "message": f"unknown runbook {name!r}",
                }
            )
    return problems


plugin = WorkbenchPlugin()
