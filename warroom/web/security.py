"""Security headers on every response, and CSRF checks for forms and session API calls."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.core.errors import Forbidden

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs (Swagger UI, served locally) set inline styles; still no inline
# script and nothing from another origin.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_DOCS = ("/api/docs", "/api/openapi.json")


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
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                csp = DOCS_CSP if path.startswith(_DOCS) else CSP
                headers.setdefault("Content-Security-Policy", csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class FollowConfigFile:
    """Pure ASGI middleware: a server started with no config file takes up the one
    `warroom demo` writes into the data dir, before the next request (no restart)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            runtime = scope["app"].state.runtime
            path = runtime.new_config_file()
            if path is not None:
                await run_in_threadpool(runtime.take_up_config, path)
        await self.app(scope, receive, send)


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page and retry")
