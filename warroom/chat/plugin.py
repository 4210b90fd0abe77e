"""Plug incident channels into warroom: the `chat` config section, the reactor, the outbox
handlers, API routes and the `warroom chat` commands. All of chat's registration is here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin, Problem

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from pydantic import BaseModel

    from warroom.chat.config import ChatConfig
    from warroom.chat.platform import ChatPlatform
    from warroom.chat.service import ChatService
    from warroom.core.config import AppConfig
    from warroom.core.outbox import EffectHandler
    from warroom.core.runtime import Runtime
    from warroom.incidents.service import Reactor


def chat_config(config: AppConfig) -> ChatConfig:
    from warroom.chat.config import ChatConfig

    section = config.section("chat")
    return section if isinstance(section, ChatConfig) else ChatConfig()


def platform_factories(
    config: ChatConfig, service: Callable[[], ChatService]
) -> dict[str, Callable[[], ChatPlatform]]:
    """How each configured platform's client is built (lazily: secrets are read on first use)."""
    factories: dict[str, Callable[[], ChatPlatform]] = {}
    if config.matrix is not None:
        settings = config.matrix

        def matrix() -> ChatPlatform:
            from warroom.chat.matrix import MatrixPlatform

            return MatrixPlatform(
                settings,
                direct_rooms=lambda user: service().direct_room("matrix", user),
                remember_direct=lambda user, room: service().remember_direct_room(
                    "matrix", user, room
                ),
            )

        factories["matrix"] = matrix
    if config.slack is not None:
        slack_settings = config.slack

        def slack() -> ChatPlatform:
            from warroom.chat.slack import SlackPlatform

            return SlackPlatform(slack_settings)

        factories["slack"] = slack
    if config.mattermost is not None:
        mm_settings = config.mattermost

        def mattermost() -> ChatPlatform:
            from warroom.chat.mattermost import MattermostPlatform

            chat = service()
            return MattermostPlatform(
                mm_settings,
                action_url=f"{chat.runtime.settings.public_url()}/api/v1/chat/mattermost/action",
                action_key=chat.action_key,
            )

        factories["mattermost"] = mattermost
    return factories


class ChatPlugin(Plugin):
    name = "chat"
    tables = "warroom.chat.tables"
    cli_commands = {"chat": "Incident channels in Matrix, Slack and Mattermost."}

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.chat.config import ChatConfig

        return {"chat": ChatConfig}

    def check_config(self, config: AppConfig) -> list[Problem]:
        return check_config(config)

    def install(self, runtime: Runtime) -> None:
        from warroom.chat.service import ChatService

        config = chat_config(runtime.config)
        holder: list[ChatService] = []
        service = ChatService(runtime, config, platform_factories(config, lambda: holder[0]))
        holder.append(service)
        runtime.chat = service

    def reactors(self, runtime: Runtime) -> Sequence[Reactor]:
        from warroom.chat.model import Planner

        config = runtime.chat.config
        if not config.platforms():
            return ()
        return [Planner(config, runtime.policy, config.platforms())]

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.chat.effects import HANDLERS

        return HANDLERS

    def routers(self) -> Sequence[APIRouter]:
        from warroom.chat import api

        return [api.router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.chat.cli import register

        register(app)


def check_config(config: AppConfig) -> list[Problem]:
    """Severities are the policy's; platform URLs are http(s)."""
    from warroom.core.errors import InvalidInput

    chat = chat_config(config)
    problems: list[Problem] = []
    for severity in chat.severities:
        try:
            config.policy.severity(severity)
        except InvalidInput:
            problems.append(
                {"path": "chat.severities", "message": f"unknown severity {severity!r}"}
            )
    urls = {
        "chat.matrix.homeserver": chat.matrix.homeserver if chat.matrix else None,
        "chat.slack.api_url": chat.slack.api_url if chat.slack else None,
        "chat.mattermost.url": chat.mattermost.url if chat.mattermost else None,
    }
    for path, url in urls.items():
        if url is not None and not url.startswith(("http://", "https://")):
            problems.append({"path": path, "message": "must be an http:// or https:// URL"})
    return problems


plugin = ChatPlugin()
