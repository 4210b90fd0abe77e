"""Security headers on every response, and CSRF checks for forms and session API calls."""

from __future__ import annotations

import hmac

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.api.guards import follow_config_file
from warroom.api.headers import security_headers
from warroom.core.errors import Forbidden


class SecurityHeaders:
    """Pure ASGI middleware (does not buffer, so server-sent event streams pass through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in security_headers(path):
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class FollowConfigFile:
    """Pure ASGI middleware: a server started with no config file takes up the one
    `warroom demo` writes into the data dir, before the next request (no restart)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await follow_config_file(scope["app"].state.runtime)
        await self.app(scope, receive, send)


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page and retry")
