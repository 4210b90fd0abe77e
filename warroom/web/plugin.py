"""The web UI plugin: page and users-API routers, the session authenticator, headers, CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI, Request

    from warroom.core.runtime import Runtime

STATIC_DIR = Path(__file__).parent / "static"


class WebPlugin(Plugin):
    name = "web"
    tables = "warroom.web.tables"
    cli_commands = {
        "user": "Web users (admin): who can log in to the web UI.",
        "demo": "Load a demo dataset into the local database: users, a resolved SEV2, an "
        "active SEV1.",
    }

    def routers(self) -> Sequence[APIRouter]:
        from warroom.web import (
            api_docs,
            capability_pages,
            oncall_pages,
            pages,
            postmortem_pages,
            route_pages,
            service_pages,
            statuspage_admin,
            user_admin,
            war_room_extras,
        )
        from warroom.web.routes import router

        pages.register_nav("Dashboard", "/", order=0)
        pages.register_nav("Incidents", "/incidents", order=10)
        pages.register_nav("Declare", "/incidents/new", order=20, scope="responder")
        pages.register_nav("Users", "/admin/users", order=90, scope="admin")
        pages.register_nav("Tokens", "/admin/tokens", order=91, scope="admin")
        return [
            user_admin.api_router,
            router,
            user_admin.router,
            route_pages.router,
            capability_pages.router,
            war_room_extras.router,
            postmortem_pages.router,
            statuspage_admin.router,
            oncall_pages.router,
            service_pages.router,
            api_docs.router,
        ]

    def configure_app(self, app: FastAPI) -> None:
        configure_app(app)

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.web.cli import register_cli

        register_cli(app)

    def first_start(self, runtime: Runtime) -> list[str]:
        return first_start(runtime)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def configure_app(app: FastAPI) -> None:
    """Session login for the API too, static files, headers, errors."""
    from fastapi.responses import JSONResponse, RedirectResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from warroom.core.errors import WarroomError, error_body
    from warroom.core.ratelimit import LoginThrottle
    from warroom.web import api_docs, pages
    from warroom.web.live import LiveHub
    from warroom.web.security import FollowConfigFile, SecurityHeaders

    app.state.authenticators.append(pages.session_authenticator)
    app.state.login_throttle = LoginThrottle()
    app.state.live_hub = LiveHub(app.state.runtime)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    api_docs.mount_assets(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(FollowConfigFile)
    json_handler = app.exception_handlers[WarroomError]

    async def warroom_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WarroomError)
        if not _wants_html(request):
            response: Response = await json_handler(request, exc)  # type: ignore[misc]
            return response
        context = {"status": exc.status_code, "message": exc.message}
        return pages.render(request, "error.html", context, status_code=exc.status_code)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, pages.LoginRequired)
        if request.headers.get("accept", "").startswith("text/event-stream"):
            return Response(status_code=204)  # tells EventSource to stop reconnecting
        if _wants_html(request):
            return RedirectResponse(pages.login_url(exc.next_url), status_code=303)
        return JSONResponse(error_body("unauthorized", "log in first"), status_code=401)

    http_handler = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        """An unknown page (or a wrong method) in a browser: the HTML error page, not JSON."""
        assert isinstance(exc, StarletteHTTPException)
        if not _wants_html(request) or exc.status_code not in (404, 405):
            response: Response = await http_handler(request, exc)  # type: ignore[misc]
            return response
        pages.current_session(request, request.app.state.runtime)  # for the menu, if logged in
        message = (
            f"There is no page at {request.url.path}."
            if exc.status_code == 404
            else f"{request.method} is not allowed on {request.url.path}."
        )
        context = {"status": exc.status_code, "message": message}
        return pages.render(request, "error.html", context, status_code=exc.status_code)

    app.add_exception_handler(WarroomError, warroom_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(pages.LoginRequired, login_required)


def first_start(runtime: Runtime) -> list[str]:
    """Lines `serve` prints: the first web admin's one-time password, when one was created."""
    from warroom.web import users

    with runtime.db.write() as conn:
        password = users.ensure_first_admin(conn, runtime.clock.now())
    if password is None:
        return []
    return [
        f"Web login (shown once): user [bold]admin[/], password [bold]{password}[/]  "
        "(more users: warroom user create NAME --role responder)"
    ]


plugin = WebPlugin()
