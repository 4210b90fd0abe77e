"""The ASGI application: API, health, web pages (warroom.web) and public endpoints."""

from __future__ import annotations

from fastapi import FastAPI

from warroom import __version__
from warroom.api import outbox, system
from warroom.api.deps import Authenticator
from warroom.api.errors import declare_error_responses, install_error_handlers
from warroom.api.limits import BodySizeLimit, RefuseNul, TokenBuckets
from warroom.core.auth import Principal
from warroom.core.plugins import load_plugins
from warroom.core.runtime import Runtime
from warroom.incidents import api as incidents_api


def create_app(runtime: Runtime, *, local_principal: Principal | None = None) -> FastAPI:
    """Build the app for one runtime.

    `local_principal` is only for the in-process CLI (the local user owns the database file);
    a served app never has one, so every request there must authenticate.
    """
    app = FastAPI(
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

    for plugin in plugins:
        plugin.inner_middleware(app)
    app.add_middleware(RefuseNul)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)
    for plugin in plugins:
        plugin.configure_app(app)
    declare_error_responses(app)
    return app
