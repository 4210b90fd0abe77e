"""The on-call plug-in: services, the paging reactor, effect handlers, API, CLI and config."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from warroom.core.runtime import Runtime
from warroom.oncall import api, paging
from warroom.oncall.models import OncallSection
from warroom.oncall.service import OncallService

routers: list[APIRouter] = [api.router, api.outbox_router]
config_sections: dict[str, Any] = {"oncall": OncallSection}


def install(runtime: Runtime) -> None:
    runtime.extras["oncall"] = OncallService(runtime)
    paging.install(runtime)


def check_config(config: Any) -> list[dict[str, str]]:
    """Cross-references: contacts name policy contacts; services name known policies.

    Escalation policies may also live in the database; a service's policy is only checked
    when the config file defines escalation policies of its own.
    """
    section: OncallSection = config.section("oncall") or OncallSection()
    problems: list[dict[str, str]] = []
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


def register_cli(app: Any) -> None:
    from warroom.oncall.cli import register

    register(app)
