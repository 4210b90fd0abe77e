"""Plug incident channels into warroom: the `chat` config section, the reactor, the outbox
handlers, API routes and the `warroom chat` commands. All of chat's registration is here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from warroom.chat import api, model
from warroom.chat.config import ChatConfig
from warroom.chat.platform import ChatPlatform
from warroom.chat.service import ChatService
from warroom.core.config import AppConfig
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime

config_sections: dict[str, type[BaseModel]] = {"chat": ChatConfig}
routers: list[APIRouter] = [api.router]


def chat_config(config: AppConfig) -> ChatConfig:
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


def install(runtime: Runtime) -> None:
    config = chat_config(runtime.config)
    holder: list[ChatService] = []
    service = ChatService(runtime, config, platform_factories(config, lambda: holder[0]))
    holder.append(service)
    runtime.extras["chat"] = service
    if config.platforms():
        runtime.incidents.reactors.append(model.Planner(config, runtime.policy, config.platforms()))
    for kind in model.KINDS:
        runtime.effect_handlers[kind] = service.handle


def check_config(config: AppConfig) -> list[dict[str, str]]:
    """Severities are the policy's; platform URLs are http(s)."""
    chat = chat_config(config)
    problems: list[dict[str, str]] = []
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


def register_cli(app: Any) -> None:
    from warroom.chat.cli import register

    register(app)
