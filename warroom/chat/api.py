"""Chat endpoints: status, linked users, an incident's channels (authenticated), and the
platforms' inbound webhooks (verified by signature or token instead)."""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import (
    DEFAULT_LIMIT,
    CursorToken,
    Keyset,
    Limit,
    close_page,
    page_list,
)
from warroom.chat import responses as out
from warroom.chat.service import Actor, ChatService
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["chat"], route_class=ApiRoute)
DELIVERIES = Keyset("chat-deliveries", ("int",), descending=True)
LINKS = Keyset("chat-links", ("str", "str"))
CHANNELS = Keyset("chat-channels", ("str", "str"))


def chat_service(runtime: Runtime) -> ChatService:
    service = runtime.chat
    if not isinstance(service, ChatService):
        raise InvalidInput("chat is not configured (add a chat section to the config file)")
    return service


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(description="matrix, slack or mattermost")
    chat_user: str = Field(min_length=1, max_length=255, description="The platform's user id")
    person: str = Field(min_length=1, max_length=80, description="The warroom person")


@router.get(
    "/chat/status",
    summary="Chat platforms: state, open channels, last error",
    response_model=out.ChatStatus,
)
def status(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    return chat_service(runtime).status()


@router.post(
    "/chat/check", summary="Try each chat platform's credentials now", response_model=out.ChatCheck
)
def check(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("admin")
    return {"platforms": chat_service(runtime).check()}


@router.get(
    "/chat/deliveries",
    summary="The chat delivery log (newest first)",
    response_model=list[out.ChatDelivery],
)
def deliveries(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    incident: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> list[dict[str, Any]]:
    principal.require("viewer")
    start = DELIVERIES.decode(cursor)
    rows = chat_service(runtime).deliveries(
        incident, limit + 1, before_id=int(start[0]) if start else None
    )
    page, _ = close_page(
        rows, DELIVERIES, lambda d: (int(d["id"]),), limit=limit, request=request, response=response
    )
    return page


@router.get(
    "/chat/links", summary="Chat users linked to warroom people", response_model=list[out.ChatLink]
)
def links(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> list[dict[str, Any]]:
    principal.require("viewer")
    return page_list(
        chat_service(runtime).links(),
        LINKS,
        lambda lk: (str(lk["platform"]), str(lk["chat_user"])),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )


@router.put(
    "/chat/links",
    summary="Link a chat user to a warroom person (admin)",
    response_model=out.ChatLink,
)
def link(runtime: RuntimeDep, principal: PrincipalDep, body: LinkIn) -> dict[str, Any]:
    return chat_service(runtime).link(principal, body.platform, body.chat_user, body.person)


@router.delete("/chat/links/{platform}/{chat_user}", status_code=204, summary="Unlink")
def unlink(runtime: RuntimeDep, principal: PrincipalDep, platform: str, chat_user: str) -> None:
    chat_service(runtime).unlink(principal, platform, chat_user)


@router.get(
    "/incidents/{incident_id}/chat",
    summary="The incident's chat channels",
    response_model=list[out.Channel],
)
def incident_channels(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> list[dict[str, Any]]:
    principal.require("viewer")
    runtime.incidents.get(incident_id)
    return page_list(
        chat_service(runtime).channels_of(incident_id),
        CHANNELS,
        lambda c: (str(c["platform"]), str(c["channel_id"])),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )


# ---- inbound: Slack ----------------------------------------------------------------------------
# Unauthenticated by bearer token: every request must carry a good, fresh Slack signature, and
# a request seen before (same signature, or same event id) is refused as a replay.


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _slack_request(
    request: Request, runtime: Runtime
) -> tuple[ChatService, bytes] | JSONResponse:
    from warroom.chat.slack import verify

    service = runtime.chat
    if not isinstance(service, ChatService) or service.config.slack is None:
        return _refuse(404, "Slack is not configured")
    body = await request.body()
    signature = request.headers.get("x-slack-signature")
    problem = verify(
        service.config.slack,
        body,
        request.headers.get("x-slack-request-timestamp"),
        signature,
        now=runtime.clock.now().timestamp(),
    )
    if problem is not None:
        return _refuse(401, problem)
    if not await run_in_threadpool(service.first_time, f"slack:sig:{signature}"):
        return _refuse(409, "replayed request refused")
    return service, body


def slack_actor(service: ChatService, user: str) -> Actor:
    return Actor("slack", user, service.person_of("slack", user))


@router.post("/chat/slack/events", include_in_schema=False)
async def slack_events(request: Request, runtime: RuntimeDep) -> Response:
    """The Events API: URL verification, 📌 reactions and pins (marked messages)."""
    checked = await _slack_request(request, runtime)
    if isinstance(checked, JSONResponse):
        return checked
    service, body = checked
    try:
        data = json.loads(body)
    except ValueError:
        return _refuse(400, "body is not JSON")
    if data.get("type") == "url_verification":
        return JSONResponse({"challenge": str(data.get("challenge", ""))})
    if data.get("type") != "event_callback":
        return JSONResponse({})
    event_id = str(data.get("event_id", ""))
    if not event_id or not await run_in_threadpool(service.first_time, f"slack:event:{event_id}"):
        return JSONResponse({})  # a retry of an event already handled
    await run_in_threadpool(handle_slack_event, service, data.get("event") or {})
    return JSONResponse({})


def handle_slack_event(service: ChatService, event: dict[str, Any]) -> None:
    from warroom.chat.slack import SlackPlatform

    platform = service.platform("slack")
    assert isinstance(platform, SlackPlatform)
    kind = event.get("type")
    user = str(event.get("user", ""))
    if kind == "reaction_added":
        item = event.get("item") or {}
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return
        channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
        if service.incident_of_channel("slack", channel) is None:
            return
        message = platform.message(channel, ts)
        if message is None:
            return
        author, text = message.get("user"), str(message.get("text", ""))
    elif kind == "pin_added":
        channel = str(event.get("channel_id", ""))
        item = event.get("item") or {}
        message = item.get("message") or {}
        if service.incident_of_channel("slack", channel) is None or not message:
            return
        ts = str(message.get("ts", ""))
        author, text = message.get("user"), str(message.get("text", ""))
        if message.get("bot_id"):
            return  # the summary card pinned by warroom itself
    else:
        return
    if not text.strip():
        return
    actor = slack_actor(service, user)
    reply = service.mark(
        actor, channel, str(author) if author else None, text, f"slack:{channel}/{ts}"
    )
    if not reply.ok:
        platform.reply_private(channel, user, reply.text)


@router.post("/chat/slack/commands", include_in_schema=False)
async def slack_command(request: Request, runtime: RuntimeDep) -> Response:
    """The `/warroom` slash command: answered only to the person, unless it announces."""
    from warroom.chat.slack import escape

    checked = await _slack_request(request, runtime)
    if isinstance(checked, JSONResponse):
        return checked
    service, body = checked
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    actor = await run_in_threadpool(slack_actor, service, form.get("user_id", ""))
    reply = await run_in_threadpool(
        service.run_command, actor, form.get("channel_id"), form.get("text", "")
    )
    kind = "in_channel" if reply.ok and not reply.private else "ephemeral"
    return JSONResponse({"response_type": kind, "text": escape(reply.text)})


@router.post("/chat/slack/interactivity", include_in_schema=False)
async def slack_interactivity(request: Request, runtime: RuntimeDep) -> Response:
    """Buttons: Acknowledge acknowledges as the person who clicked."""
    from warroom.chat.slack import ACK_ACTION

    checked = await _slack_request(request, runtime)
    if isinstance(checked, JSONResponse):
        return checked
    service, body = checked
    form = parse_qs(body.decode("utf-8", "replace"))
    try:
        payload = json.loads(form.get("payload", ["{}"])[0])
    except ValueError:
        return _refuse(400, "payload is not JSON")
    if payload.get("type") != "block_actions":
        return JSONResponse({})
    user = str((payload.get("user") or {}).get("id", ""))
    channel = str((payload.get("channel") or {}).get("id", "")) or None
    for action in payload.get("actions") or []:
        if action.get("action_id") != ACK_ACTION:
            continue
        await run_in_threadpool(
            slack_acknowledge, service, user, channel, str(action.get("value", ""))
        )
    return JSONResponse({})


def slack_acknowledge(service: ChatService, user: str, channel: str | None, value: str) -> None:
    reply = service.acknowledge_button(slack_actor(service, user), value)
    if not reply.ok:
        service.platform("slack").reply_private(channel, user, reply.text)


# ---- inbound: Mattermost -------------------------------------------------------------------------


def _mattermost(runtime: Runtime) -> ChatService | JSONResponse:
    service = runtime.chat
    if not isinstance(service, ChatService) or service.config.mattermost is None:
        return _refuse(404, "Mattermost is not configured")
    return service


@router.post("/chat/mattermost/command", include_in_schema=False)
async def mattermost_command(request: Request, runtime: RuntimeDep) -> Response:
    """The `/warroom` slash command; its token must be one configured."""
    from warroom.chat.mattermost import escape

    service = _mattermost(runtime)
    if isinstance(service, JSONResponse):
        return service
    body = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    assert service.config.mattermost is not None
    tokens = service.config.mattermost.tokens()
    given = form.get("token", "") or request.headers.get("authorization", "").removeprefix("Token ")
    if not tokens or not any(hmac.compare_digest(given, t) for t in tokens):
        return _refuse(401, "bad slash command token")
    trigger = form.get("trigger_id")
    if trigger and not await run_in_threadpool(service.first_time, f"mattermost:trigger:{trigger}"):
        return _refuse(409, "replayed request refused")
    user = form.get("user_id", "")
    actor = Actor(
        "mattermost", user, await run_in_threadpool(service.person_of, "mattermost", user)
    )
    reply = await run_in_threadpool(
        service.run_command, actor, form.get("channel_id"), form.get("text", "")
    )
    kind = "in_channel" if reply.ok and not reply.private else "ephemeral"
    return JSONResponse({"response_type": kind, "text": escape(reply.text)})


@router.post("/chat/mattermost/action", include_in_schema=False)
async def mattermost_action(request: Request, runtime: RuntimeDep) -> Response:
    """A message button: the context must carry warroom's own signature."""
    from warroom.chat.mattermost import check_action

    service = _mattermost(runtime)
    if isinstance(service, JSONResponse):
        return service
    try:
        data = json.loads(await request.body())
    except ValueError:
        return _refuse(400, "body is not JSON")
    context = data.get("context") or {}
    action, signature = str(context.get("action", "")), str(context.get("signature", ""))
    key = await run_in_threadpool(service.action_key)
    if not action or not check_action(key, action, signature):
        return _refuse(401, "bad action signature")
    user = str(data.get("user_id", ""))
    actor = Actor(
        "mattermost", user, await run_in_threadpool(service.person_of, "mattermost", user)
    )
    reply = await run_in_threadpool(service.acknowledge_button, actor, action)
    return JSONResponse({"ephemeral_text": reply.text})
