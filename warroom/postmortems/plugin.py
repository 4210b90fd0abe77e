"""Plug the post-mortems package into the runtime: services, reactor, outbox handlers,
after-commit hooks (warroom.postmortems.effects), API, CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel

    from warroom.core.outbox import EffectHandler
    from warroom.core.runtime import Runtime
    from warroom.incidents.model import IncidentState
    from warroom.incidents.service import Reactor
    from warroom.postmortems.config import PostmortemsConfig


def _config(runtime: Runtime) -> PostmortemsConfig:
    """The `postmortems:` section (its defaults when the config file omits it)."""
    from warroom.postmortems.config import PostmortemsConfig

    section = runtime.config.section("postmortems")
    return section if isinstance(section, PostmortemsConfig) else PostmortemsConfig()


class PostmortemsPlugin(Plugin):
    name = "postmortems"
    tables = "warroom.postmortems.tables"
    cli_commands = {
        "postmortem": "Post-mortems.",
        "actions": "Post-mortem action items.",
        "similar": "Similar past incidents, why each matched, and their action items.",
        "patterns": "Recurring patterns (same service and root cause) and the "
        "critical-patterns document.",
    }

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.postmortems.config import PostmortemsConfig

        return {"postmortems": PostmortemsConfig}

    def install(self, runtime: Runtime) -> None:
        from warroom.postmortems.effects import refresh_patterns_after_publish
        from warroom.postmortems.service import ActionItemService, PostmortemService
        from warroom.postmortems.similarity import SimilarityService

        config = _config(runtime)

        def people() -> dict[str, str]:
            # The on-call directory's display names, so people are shown one way.
            return {
                str(p["name"]): str(p.get("display_name") or p["name"])
                for p in runtime.oncall.list_items("person")
            }

        runtime.postmortems = PostmortemService(
            runtime.db, runtime.clock, runtime.policy, runtime.incidents, config, people
        )
        runtime.action_items = ActionItemService(runtime.db, runtime.clock, config)
        runtime.similarity = SimilarityService(runtime.db, runtime.clock)
        runtime.postmortems.after_publish.append(refresh_patterns_after_publish(runtime))

    def reactors(self, runtime: Runtime) -> Sequence[Reactor]:
        from warroom.postmortems.effects import reactor

        return [reactor(runtime)]

    def after_commit(self, runtime: Runtime) -> Sequence[Callable[[IncidentState], None]]:
        from warroom.postmortems.effects import after_commit_hooks

        return after_commit_hooks(runtime)

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.postmortems.effects import HANDLERS

        return HANDLERS

    def routers(self) -> Sequence[APIRouter]:
        from warroom.postmortems.api import router

        return [router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.postmortems.cli import register

        register(app)


plugin = PostmortemsPlugin()
