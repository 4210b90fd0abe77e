"""Plug communications into warroom: config section, services, reactor, outbox handlers,
routes and commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from warroom.comms import api, delivery, public, templates
from warroom.comms.config import CommsConfig
from warroom.comms.service import INITIAL_KIND, RESOLUTION_KIND, CommsService
from warroom.comms.statuspage import CONFIRM_KIND, DELIVER_KIND, FANOUT_KIND, StatusPage
from warroom.core import outbox
from warroom.core.config import AppConfig
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime
from warroom.notify.delivery import is_valid_url
from warroom.worker import Outcome

config_sections: dict[str, type[BaseModel]] = {"comms": CommsConfig}
routers: list[APIRouter] = [api.router, public.router]


@dataclass
class Comms:
    config: CommsConfig
    service: CommsService
    statuspage: StatusPage


def comms_config(config: AppConfig) -> CommsConfig:
    section = config.section("comms")
    return section if isinstance(section, CommsConfig) else CommsConfig()


def install(runtime: Runtime) -> None:
    config = comms_config(runtime.config)
    page = StatusPage(runtime.db, runtime.clock, runtime.settings, config, runtime.config.services)
    service = CommsService(
        runtime.db, runtime.clock, runtime.policy, config, runtime.incidents, page
    )
    runtime.extras["comms"] = Comms(config=config, service=service, statuspage=page)
    runtime.incidents.reactors.append(service.react)

    def resolution(rt: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
        return service.handle_resolution(effect)

    def initial(rt: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
        return service.handle_initial(effect)

    runtime.effect_handlers[RESOLUTION_KIND] = resolution
    runtime.effect_handlers[INITIAL_KIND] = initial
    runtime.effect_handlers[CONFIRM_KIND] = delivery.handle_confirm
    runtime.effect_handlers[FANOUT_KIND] = delivery.handle_fanout
    runtime.effect_handlers[DELIVER_KIND] = delivery.handle_deliver
    if runtime.config.services:
        # Components for catalog services; skipped when the schema is not there yet.
        try:
            with runtime.db.write() as conn:
                page.sync_components(conn, runtime.clock.now())
        except DBAPIError:
            pass


def check_config(config: AppConfig) -> list[dict[str, str]]:
    """Templates render in the sandbox; groups name known severities, services, valid URLs."""
    comms = comms_config(config)
    problems: list[dict[str, str]] = []
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


def config_warnings(config: AppConfig) -> list[dict[str, str]]:
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


def register_cli(app: Any) -> None:
    from warroom.comms.cli import register

    register(app)
