"""The ASGI application: API, health, web pages (warroom.web) and public endpoints."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from warroom import __version__
from warroom.api import outbox, system
from warroom.api.deps import Authenticator
from warroom.api.errors import declare_error_responses, install_error_handlers
from warroom.api.guards import RequestObserver
from warroom.api.limits import BodySizeLimit, RefuseNul, TokenBuckets
from warroom.core.auth import Principal
from warroom.core.plugins import load_plugins
from warroom.core.runtime import Runtime
from warroom.incidents import api as incidents_api


class WarroomApp(FastAPI):
    """FastAPI with layers outside all of it: a hot endpoint's fast path (the alert webhooks)
    answers there, before FastAPI's per-request work (its telemetry check, error handling,
    warroom's middleware), and applies the request guards itself (`warroom.api.guards`)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # Each wraps the rest of the app; the last added is the outermost.
        self.outer_layers: list[Callable[[ASGIApp], ASGIApp]] = []
        self._outermost: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._outermost is None:
            app: ASGIApp = super().__call__
            for wrap in self.outer_layers:
                app = wrap(app)
            self._outermost = app
        scope["app"] = self  # what Starlette sets, for the layers outside it
        await self._outermost(scope, receive, send)


def create_app(runtime: Runtime, *, local_principal: Principal | None = None) -> FastAPI:
    """Build the app for one runtime.

    `local_principal` is only for the in-process CLI (the local user owns the database file);
    a served app never has one, so every request there must authenticate.
    """
    app = WarroomApp(
        title="warroom",
        version=__version__,
        description="Self-hosted incident response. Authenticate with `Authorization: Bearer`.",
        # /api/docs is served by warroom.web from a local copy of Swagger UI (works offline).
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.local_principal = local_principal
    app.state.token_limiter = TokenBuckets(
        runtime.settings.token_rate_limit, runtime.settings.token_rate_burst
    )
    authenticators: list[Authenticator] = []
    app.state.authenticators = authenticators
    observers: list[RequestObserver] = []
    app.state.request_observers = observers
    install_error_handlers(app)
    app.include_router(system.router)
    app.include_router(outbox.router)
    plugins = load_plugins()
    # Hot machine-to-machine endpoints (alert webhooks) first: routes are tried in order.
    for plugin in plugins:
        for router in plugin.first_routers():
            app.include_router(router)
    app.include_router(incidents_api.router)
    for plugin in plugins:
        for router in plugin.routers():
            app.include_router(router)
        plugin.mount(app, runtime)

    app.add_middleware(RefuseNul)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)
    for plugin in plugins:
        plugin.configure_app(app)
    for plugin in plugins:
        for layer in plugin.outer_layers(runtime):
            app.outer_layers.append(layer)
    declare_error_responses(app)
    return app
