"""Chat endpoints: status, linked users, an incident's channels (authenticated), and the
platforms' inbound webhooks (verified by signature or token instead)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.chat.service import ChatService
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["chat"])


def chat_service(runtime: Runtime) -> ChatService:
    service = runtime.extras.get("chat")
    if not isinstance(service, ChatService):
        raise InvalidInput("chat is not configured (add a chat section to the config file)")
    return service


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(description="matrix, slack or mattermost")
    chat_user: str = Field(min_length=1, max_length=255, description="The platform's user id")
    person: str = Field(min_length=1, max_length=80, description="The warroom person")


@router.get("/chat/status", summary="Chat platforms: state, open channels, last error")
def status(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    return chat_service(runtime).status()


@router.post("/chat/check", summary="Try each chat platform's credentials now")
def check(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("admin")
    return {"platforms": chat_service(runtime).check()}


@router.get("/chat/deliveries", summary="The chat delivery log (newest first)")
def deliveries(
    runtime: RuntimeDep, principal: PrincipalDep, incident: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    principal.require("viewer")
    return chat_service(runtime).deliveries(incident, max(1, min(limit, 500)))


@router.get("/chat/links", summary="Chat users linked to warroom people")
def links(runtime: RuntimeDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    principal.require("viewer")
    return chat_service(runtime).links()


@router.put("/chat/links", summary="Link a chat user to a warroom person (admin)")
def link(runtime: RuntimeDep, principal: PrincipalDep, body: LinkIn) -> dict[str, Any]:
    return chat_service(runtime).link(principal, body.platform, body.chat_user, body.person)


@router.delete("/chat/links/{platform}/{chat_user}", status_code=204, summary="Unlink")
def unlink(runtime: RuntimeDep, principal: PrincipalDep, platform: str, chat_user: str) -> None:
    chat_service(runtime).unlink(principal, platform, chat_user)


@router.get("/incidents/{incident_id}/chat", summary="The incident's chat channels")
def incident_channels(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> list[dict[str, Any]]:
    principal.require("viewer")
    runtime.incidents.get(incident_id)
    return chat_service(runtime).channels_of(incident_id)
