"""The on-call plug-in: people, schedules and escalation, the paging reactor, API, CLI, config."""

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


class OncallPlugin(Plugin):
    name = "oncall"
    tables = "warroom.oncall.tables"
    cli_commands = {
        "oncall": "On-call: people, teams, schedules, escalation.",
        "page": "Page a person, whoever is on call on a schedule, or a team.",
    }

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.oncall.models import OncallSection

        return {"oncall": OncallSection}

    def check_config(self, config: AppConfig) -> list[Problem]:
        return check_config(config)

    def install(self, runtime: Runtime) -> None:
        from warroom.oncall.service import OncallService

        runtime.oncall = OncallService(runtime)

    def reactors(self, runtime: Runtime) -> Sequence[Reactor]:
        from warroom.oncall.paging import reactor

        return [reactor(runtime)]

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.oncall.effects import HANDLERS

        return HANDLERS

    def routers(self) -> Sequence[APIRouter]:
        from warroom.oncall.api import router

        return [router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.oncall.cli import register

        register(app)


def check_config(config: AppConfig) -> list[Problem]:
    """Cross-references: contacts name policy contacts; services name known policies.

    Escalation policies may also live in the database; a service's policy is only checked
    when the config file defines escalation policies of its own.
    """
    from warroom.oncall.models import OncallSection

    section: OncallSection = config.section("oncall") or OncallSection()
    problems: list[Problem] = []
    for name in section.contacts:
        if name not in config.policy.contacts:
            problems.append(
                {
                    "path": f"oncall.contacts.{name}",
                    "message": f"unknown contact; the policy's contacts are "
                    f"{', '.join(sorted(config.policy.contacts)) or 'none'}",
                }
            )
    names = [p.name for p in section.escalation_policies]
    for n, name in enumerate(names):
        if names.index(name) != n:
            problems.append(
                {"path": f"oncall.escalation_policies.{n}.name", "message": "duplicate name"}
            )
    if names:
        for n, service in enumerate(config.services):
            if service.escalation_policy and service.escalation_policy not in names:
                problems.append(
                    {
                        "path": f"services.{n}.escalation_policy",
                        "message": f"unknown escalation policy {service.escalation_policy!r}; "
                        f"known: {', '.join(names)}",
                    }
                )
        default = section.default_escalation_policy
        if default and default not in names:
            problems.append(
                {
                    "path": "oncall.default_escalation_policy",
                    "message": f"unknown escalation policy {default!r}",
                }
            )
    return problems


plugin = OncallPlugin()
