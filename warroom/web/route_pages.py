"""The alert routing rules page: every rule in the order intake tries it (database ones, then
the config file's, read-only), with an add form and remove buttons for admins. Writes go
through the alerts package's routing service, like `POST/DELETE /api/v1/routes`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from warroom.alerts.api import RouteIn
from warroom.core.errors import InvalidInput, WarroomError
from warroom.core.runtime import Runtime
from warroom.web import pages
from warroom.web.oncall_pages import invalid
from warroom.web.pages import PageRuntime, PageSession, render

router = APIRouter(include_in_schema=False)

ADD_FORM = "add-route"


def routes_context(runtime: Runtime) -> dict[str, Any]:
    return {
        "routes": [route.to_dict() for route in runtime.alerts.routing.list_routes()],
        "severities": runtime.policy.severities,
        "services": sorted(runtime.incidents.known_services),
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _severity_map(text: str) -> dict[str, str]:
    """`critical=SEV1` pairs, one per line or comma separated."""
    mapping: dict[str, str] = {}
    for pair in (p.strip() for line in _lines(text) for p in line.split(",")):
        if not pair:
            continue
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidInput(f"severity map: {pair!r} is not source=SEVERITY (critical=SEV1)")
        mapping[source.strip()] = target.strip()
    return mapping


def route_from_form(form: Any) -> RouteIn:
    """The rule the add form describes, checked like the API's body."""

    def text(key: str, limit: int = 4000) -> str:
        return str(form.get(key) or "").strip()[:limit]

    position = text("position", 10)
    if position and not position.isdigit():
        raise InvalidInput("position: a whole number, 1 = tried first (or empty: last)")
    body: dict[str, Any] = {
        "name": text("name", 200),
        "matchers": _lines(text("matchers")),
        "service": text("service", 200) or None,
        "service_label": text("service_label", 200) or "service",
        "severity": text("severity", 100) or None,
        "severity_map": _severity_map(text("severity_map")),
        "severity_label": text("severity_label", 200) or "severity",
        "action": text("action", 20) or None,
        "position": int(position) if position else None,
    }
    try:
        return RouteIn.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None


@router.get("/alerts/routes")
def routes_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "alert_routes.html", routes_context(runtime), session=session)


def _refused(
    request: Request, runtime: Runtime, session: Any, exc: WarroomError, form: Any = None
) -> HTMLResponse:
    context = {**routes_context(runtime), "error": exc.message, "form": form}
    return render(
        request, "alert_routes.html", context, status_code=exc.status_code, session=session
    )


@router.post("/alerts/routes")
async def route_add(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    form = await request.form()

    def add() -> None:
        principal = pages.form_principal(session, form)
        principal.require("admin")
        body = route_from_form(form)
        rule = body.model_dump(exclude={"position"}, exclude_none=True)
        runtime.alerts.routing.add(principal, rule, position=body.position)

    try:
        await run_in_threadpool(add)
    except WarroomError as exc:
        return _refused(request, runtime, session, exc, form)
    return RedirectResponse("/alerts/routes", status_code=303)


@router.post("/alerts/routes/{name}/remove")
async def route_remove(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    form = await request.form()

    def remove() -> None:
        principal = pages.form_principal(session, form)
        runtime.alerts.routing.remove(principal, name)

    try:
        await run_in_threadpool(remove)
    except WarroomError as exc:
        return _refused(request, runtime, session, exc)
    return RedirectResponse("/alerts/routes", status_code=303)
