"""Slack Socket Mode: the same events, `/warroom` commands and buttons as the HTTP endpoints,
over a WebSocket warroom opens to Slack (for installs without a public URL). The connection is
authenticated by the app-level token (`xapp-…`, scope `connections:write`); each envelope is
acknowledged with its `envelope_id`, and an envelope seen before is not acted on again.

Reference: https://api.slack.com/apis/socket-mode
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from warroom.chat.platform import ChatError
from warroom.chat.service import ChatService

log = logging.getLogger("warroom.chat")


class SlackSocketListener:
    def __init__(self, service: ChatService) -> None:
        from slack_sdk.socket_mode.builtin import SocketModeClient

        settings = service.config.slack
        if settings is None:
            raise ChatError("no chat.slack section", retryable=False)
        token = settings.app_token_value()
        if not token:
            where = settings.app_token_env or "chat.slack.app_token"
            raise ChatError(
                f"no Slack app-level token for Socket Mode: set {where}", retryable=False
            )
        self.service = service
        self.client = SocketModeClient(
            app_token=token, web_client=WebClient(base_url=settings.api_url)
        )
        self.client.socket_mode_request_listeners.append(self._on_request)

    def connect(self) -> None:
        try:
            self.client.connect()
        except Exception as exc:  # the SDK raises its own errors and URLError alike
            raise ChatError(f"slack socket mode: {type(exc).__name__}") from None

    def close(self) -> None:
        self.client.close()

    def _on_request(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        try:
            payload = self._handle(request)
        except Exception:
            log.exception("chat: slack socket mode %s envelope failed", request.type)
            payload = None
        response = SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        client.send_socket_mode_response(response)

    def _handle(self, request: SocketModeRequest) -> dict[str, Any] | None:
        from warroom.chat import api
        from warroom.chat.slack import ACK_ACTION, escape

        service = self.service
        if not service.first_time(f"slack:envelope:{request.envelope_id}"):
            return None  # a re-delivered envelope
        data = request.payload
        if request.type == "events_api":
            event_id = str(data.get("event_id", ""))
            if event_id and service.first_time(f"slack:event:{event_id}"):
                api.handle_slack_event(service, data.get("event") or {})
            return None
        if request.type == "slash_commands":
            actor = api.slack_actor(service, str(data.get("user_id", "")))
            reply = service.run_command(actor, data.get("channel_id"), str(data.get("text", "")))
            kind = "in_channel" if reply.ok and not reply.private else "ephemeral"
            return {"response_type": kind, "text": escape(reply.text)}
        if request.type == "interactive" and data.get("type") == "block_actions":
            user = str((data.get("user") or {}).get("id", ""))
            channel = str((data.get("channel") or {}).get("id", "")) or None
            for action in data.get("actions") or []:
                if action.get("action_id") == ACK_ACTION:
                    api.slack_acknowledge(service, user, channel, str(action.get("value", "")))
        return None
