"""The streamable-HTTP transport mounted at `/mcp` by `warroom serve`.

Stateless JSON mode: no session lives in one replica, so N servers behind a load balancer
serve agents alike. Each HTTP request authenticates its own `Authorization: Bearer` agent
token (revoking it takes effect at once); tools call the same app in-process with it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from anyio.abc import TaskStatus
from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from warroom.agents.gateway import Gateway, in_process_client
from warroom.agents.server import build_server
from warroom.core import auth
from warroom.core.errors import Forbidden, Unauthorized, WarroomError
from warroom.core.runtime import Runtime

PATH = "/mcp"


def _bearer(headers: Any) -> str | None:
    value = headers.get("authorization", "") if headers is not None else ""
    scheme, _, token = str(value).partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class McpEndpoint:
    """ASGI endpoint: authenticate the agent, then hand the request to the MCP transport."""

    def __init__(self, runtime: Runtime, app: FastAPI) -> None:
        self.runtime = runtime
        http = in_process_client(app)

        def gateway_for(request: Any) -> Gateway | None:
            token = _bearer(getattr(request, "headers", None))
            return Gateway(http, token) if token else None

        self.server = build_server(gateway_for)
        self.server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            # Bearer tokens, not cookies, authenticate here: a rebinding page has none.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = self.server.session_manager
        # Stateless mode ends a "session" after every request; that is not worth a log line.
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)

    def _authenticate(self, token: str | None) -> auth.Principal:
        if token is None:
            raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
        now = self.runtime.clock.now()
        with self.runtime.db.read() as conn:
            principal = auth.authenticate(conn, token, now)
        auth.record_use(self.runtime.db, principal, now)
        if not principal.is_agent:
            raise Forbidden(
                "the MCP endpoint is for agent tokens, so that actions show as agent:<name>; "
                "create one with: warroom token create NAME --agent --scope responder",
                code="agent_token_required",
            )
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            await anyio.to_thread.run_sync(self._authenticate, _bearer(headers))
        except WarroomError as exc:
            await send_json(send, exc.status_code, exc.to_dict())
            return
        await self.manager.handle_request(scope, receive, send)

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the MCP transport until cancelled (started inside the app's lifespan)."""
        async with self.manager.run():
            task_status.started()
            await anyio.sleep_forever()


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
