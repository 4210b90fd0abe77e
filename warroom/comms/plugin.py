"""Plug communications into warroom: config section, services, reactor, outbox handlers,
routes and commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin, Problem

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel

    from warroom.comms.config import CommsConfig
    from warroom.comms.service import CommsService
    from warroom.comms.statuspage import StatusPage
    from warroom.core.config import AppConfig
    from warroom.core.outbox import EffectHandler
    from warroom.core.runtime import Runtime
    from warroom.incidents.service import Reactor


@dataclass
class Comms:
    """The communications services on the runtime (`runtime.comms`)."""

    config: CommsConfig
    service: CommsService
    statuspage: StatusPage


def comms_config(config: AppConfig) -> CommsConfig:
    from warroom.comms.config import CommsConfig

    section = config.section("comms")
    return section if isinstance(section, CommsConfig) else CommsConfig()


class CommsPlugin(Plugin):
    name = "comms"
    tables = "warroom.comms.tables"
    cli_commands = {
        "update": "Publish a structured status update (internal, public and executive renderings).",
        "report": "Write the incident report under the data dir's reports folder.",
        "statuspage": "The public status page.",
    }

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.comms.config import CommsConfig

        return {"comms": CommsConfig}

    def check_config(self, config: AppConfig) -> list[Problem]:
        return check_config(config)

    def config_warnings(self, config: AppConfig) -> list[Problem]:
        return config_warnings(config)

    def install(self, runtime: Runtime) -> None:
        from sqlalchemy.exc import DBAPIError

        from warroom.comms.service import CommsService
        from warroom.comms.statuspage import StatusPage

        config = comms_config(runtime.config)
        page = StatusPage(
            runtime.db, runtime.clock, runtime.settings, config, runtime.config.services
        )
        service = CommsService(
            runtime.db, runtime.clock, runtime.policy, config, runtime.incidents, page
        )
        runtime.comms = Comms(config=config, service=service, statuspage=page)
        if runtime.config.services:
            # Components for catalog services; skipped when the schema is not there yet.
            try:
                with runtime.db.write() as conn:
                    page.sync_components(conn, runtime.clock.now())
            except DBAPIError:
                pass

    def reactors(self, runtime: Runtime) -> Sequence[Reactor]:
        return [runtime.comms.service.react]

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.comms.effects import HANDLERS

        return HANDLERS

    def routers(self) -> Sequence[APIRouter]:
        from warroom.comms import api, public

        return [api.router, public.router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.comms.cli import register

        register(app)


def check_config(config: AppConfig) -> list[Problem]:
    """Templates render in the sandbox; groups name known severities, services, valid URLs."""
    from warroom.comms import templates
    from warroom.core.errors import InvalidInput
    from warroom.notify.delivery import is_valid_url

    comms = comms_config(config)
    problems: list[Problem] = []
    for kind in templates.KINDS:
        problem = templates.check(kind, getattr(comms.templates, kind))
        if problem:
            problems.append({"path": f"comms.templates.{kind}", "message": problem})
    names = {s.name for s in config.services}
    seen: set[str] = set()
    for n, group in enumerate(comms.stakeholders):
        path = f"comms.stakeholders.{n}"
        if group.name in seen:
            problems.append({"path": f"{path}.name", "message": "duplicate group name"})
        seen.add(group.name)
        for severity in group.severities:
            try:
                config.policy.severity(severity)
            except InvalidInput:
                problems.append(
                    {"path": f"{path}.severities", "message": f"unknown severity {severity!r}"}
                )
        for service in group.services:
            if service not in names:
                problems.append(
                    {"path": f"{path}.services", "message": f"unknown service {service!r}"}
                )
        for m, url in enumerate(group.urls):
            if not is_valid_url(url):
                problems.append(
                    {"path": f"{path}.urls.{m}", "message": "not a URL Apprise can deliver to"}
                )
    email_url = comms.statuspage.email_url
    if email_url and not email_url.startswith(("mailto://", "mailtos://")):
        problems.append(
            {
                "path": "comms.statuspage.email_url",
                "message": "must be a mailto:// or mailtos:// URL",
            }
        )
    return problems


plugin = CommsPlugin()


def config_warnings(config: AppConfig) -> list[Problem]:
    """Unsafe communication options the policy turns on."""
    if config.policy.communications.root_cause_in_public_resolution:
        return [
            {
                "path": "policy.communications.root_cause_in_public_resolution",
                "message": (
                    "the root cause from the status updates goes into the PUBLIC resolution "
                    "text; internal causes can name systems, vendors or customers (each use is "
                    "recorded on the timeline)"
                ),
            }
        ]
    return []
