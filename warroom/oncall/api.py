"""REST endpoints for on-call under /api/v1/oncall."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, Response

from warroom.api.deps import PrincipalDep, RowId, RuntimeDep, bearer_token, get_principal
from warroom.api.models import ApiRoute
from warroom.api.pagination import (
    DEFAULT_LIMIT,
    CursorToken,
    Key,
    Keyset,
    Limit,
    close_page,
    page_list,
)
from warroom.core.clock import ensure_utc
from warroom.core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from warroom.core.runtime import Runtime
from warroom.oncall import ical, links, models
from warroom.oncall import responses as out
from warroom.oncall.service import OncallService, import_ical

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"], route_class=ApiRoute)

RESOURCES = {"people": "person", "teams": "team", "schedules": "schedule"}

# Lists by name, except pages (newest first), shifts (by start) and paging problems (newest).
PEOPLE = Keyset("people", ("str",))
TEAMS = Keyset("teams", ("str",))
SCHEDULES = Keyset("schedules", ("str",))
POLICIES = Keyset("escalation-policies", ("str",))
SERVICES = Keyset("services", ("str",))
CONTACTS = Keyset("contacts", ("str",))
WHO = Keyset("who", ("str",))
SHIFTS = Keyset("shifts", ("str", "str", "str"))
PAGING_PROBLEMS = Keyset("paging-problems", ("str", "str"), descending=True)
PAGES = Keyset("pages", ("int",), descending=True)


def _by_name(item: dict[str, Any]) -> Key:
    return (str(item["name"]),)


def svc(runtime: Runtime) -> OncallService:
    service: OncallService = runtime.oncall
    return service


def _when(value: str | None, runtime: Runtime) -> datetime:
    if value is None:
        return runtime.clock.now()
    try:
        return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 time: {value!r}") from None


# ---- people, teams, schedules --------------------------------------------------------------


@router.get("/people", response_model=out.PersonList)
def list_people(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = svc(runtime).list_items("person")
    return {
        "items": page_list(
            items, PEOPLE, _by_name, limit=limit, cursor=cursor, request=request, response=response
        )
    }


@router.post("/people", status_code=201, response_model=out.Person)
def create_person(
    runtime: RuntimeDep, principal: PrincipalDep, body: models.PersonIn
) -> dict[str, Any]:
    return svc(runtime).create_person(principal, body)


@router.patch("/people/{name}", response_model=out.Person)
def update_person(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.PersonPatch
) -> dict[str, Any]:
    return svc(runtime).update_person(principal, name, body)


@router.get("/teams", response_model=out.TeamList)
def list_teams(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = svc(runtime).list_items("team")
    return {
        "items": page_list(
            items, TEAMS, _by_name, limit=limit, cursor=cursor, request=request, response=response
        )
    }


@router.post("/teams", status_code=201, response_model=out.Team)
def create_team(runtime: RuntimeDep, principal: PrincipalDep, body: models.TeamIn) -> Any:
    return svc(runtime).create_team(principal, body)


@router.patch("/teams/{name}", response_model=out.Team)
def update_team(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.TeamPatch
) -> Any:
    return svc(runtime).update_team(principal, name, body)


@router.get("/schedules", response_model=out.ScheduleList)
def list_schedules(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = svc(runtime).list_items("schedule")
    return {
        "items": page_list(
            items,
            SCHEDULES,
            _by_name,
            limit=limit,
            cursor=cursor,
            request=request,
            response=response,
        )
    }


@router.post("/schedules", status_code=201, response_model=out.Schedule)
def create_schedule(runtime: RuntimeDep, principal: PrincipalDep, body: models.ScheduleIn) -> Any:
    return svc(runtime).create_schedule(principal, body)


@router.post("/schedules/import", status_code=201, response_model=out.ScheduleImport)
def import_schedule(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    name: Annotated[str, Body()],
    ical_text: Annotated[str | None, Body()] = None,
    url: Annotated[str | None, Body()] = None,
    timezone: Annotated[str, Body()] = "UTC",
    days: Annotated[int, Body(ge=1, le=400)] = 90,
) -> Any:
    models.ScheduleIn(name=name, timezone=timezone)  # validates both
    if (ical_text is None) == (url is None):
        raise InvalidInput("give exactly one of ical_text or url")
    if url is not None:
        principal.require("admin")  # the server fetches the URL: admins only
        if not url.startswith(("http://", "https://")):
            raise InvalidInput("the URL must be http(s)")
        try:
            response = httpx.get(url, timeout=10.0, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise InvalidInput(f"cannot fetch the calendar: {type(exc).__name__}") from None
        data = response.content[:5_000_000]
    else:
        data = (ical_text or "").encode()
    return import_ical(svc(runtime), principal, name, data, timezone=timezone, days=days)


@router.patch("/schedules/{name}", response_model=out.Schedule)
def update_schedule(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.SchedulePatch
) -> Any:
    return svc(runtime).update_schedule(principal, name, body)


@router.post("/schedules/{name}/overrides", status_code=201, response_model=out.Override)
def add_override(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.OverrideIn
) -> Any:
    return svc(runtime).add_override(principal, name, body)


@router.post("/schedules/{name}/swap", status_code=201, response_model=out.OverrideList)
def swap_shifts(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.SwapIn
) -> dict[str, Any]:
    """Two people trade shifts: two overrides, written together or not at all."""
    return {"items": svc(runtime).swap_shifts(principal, name, body.first, body.second)}


@router.delete("/schedules/{name}/overrides/{override_id}", status_code=204)
def delete_override(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, override_id: RowId
) -> Response:
    svc(runtime).delete_override(principal, name, override_id)
    return Response(status_code=204)


@router.get("/schedules/{name}/shifts", response_model=out.ShiftList)
def schedule_shifts(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    name: str,
    request: Request,
    response: Response,
    start: str | None = None,
    end: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    begin = _when(start, runtime)
    finish = _when(end, runtime) if end else begin + timedelta(days=14)
    shifts = svc(runtime).shifts(name, begin, finish)
    items = [
        {"person": s.user, "start": s.start.isoformat(), "end": s.end.isoformat()} for s in shifts
    ]
    page = page_list(
        items,
        SHIFTS,
        lambda s: (s["start"], s["end"], s["person"] or ""),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"schedule": name, "items": page}


def _feed_auth(request: Request, runtime: Runtime, path: str, key: str | None) -> None:
    if key is not None:
        with runtime.db.write() as conn:
            secret = links.secret(conn)
        if links.check_feed_key(secret, path, key):
            return
        raise Forbidden("invalid feed key")
    if bearer_token(request) is None and request.app.state.local_principal is None:
        raise Unauthorized("a calendar feed needs ?key= (see feed_url) or a bearer token")
    get_principal(request, runtime).require("viewer")


def feed_url(runtime: Runtime, path: str) -> str:
    """The calendar feed's URL with its signed key (the web schedule page shows it too)."""
    with runtime.db.read() as conn:
        secret = links.existing_secret(conn)
    if secret is None:
        with runtime.db.write() as conn:
            secret = links.secret(conn)
    return f"{runtime.settings.public_url()}{path}?key={links.feed_key(secret, path)}"


@router.get("/schedules/{name}/feed-url", response_model=out.FeedUrl)
def schedule_feed_url(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> Any:
    principal.require("viewer")
    svc(runtime).show("schedule", name)
    return {"url": feed_url(runtime, f"/api/v1/oncall/schedules/{name}/calendar.ics")}


@router.get(
    "/schedules/{name}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def schedule_feed(
    request: Request, runtime: RuntimeDep, name: str, key: str | None = None
) -> Response:
    _feed_auth(request, runtime, f"/api/v1/oncall/schedules/{name}/calendar.ics", key)
    now = runtime.clock.now()
    shifts = svc(runtime).feed_shifts(name, now - timedelta(days=7), now + timedelta(days=60))
    body = ical.feed(name, [(name, s) for s in shifts], now)
    return Response(body, media_type="text/calendar")


@router.get("/people/{name}/feed-url", response_model=out.FeedUrl)
def person_feed_url(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> Any:
    principal.require("viewer")
    svc(runtime).show("person", name)
    return {"url": feed_url(runtime, f"/api/v1/oncall/people/{name}/calendar.ics")}


@router.get(
    "/people/{name}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def person_feed(
    request: Request, runtime: RuntimeDep, name: str, key: str | None = None
) -> Response:
    _feed_auth(request, runtime, f"/api/v1/oncall/people/{name}/calendar.ics", key)
    now = runtime.clock.now()
    found = svc(runtime).person_shifts(name, now - timedelta(days=7), now + timedelta(days=60))
    body = ical.feed(name, [(f["schedule"], f["shift"]) for f in found], now)
    return Response(body, media_type="text/calendar")


def _generic(kind: str, plural: str) -> None:
    shown = {"person": out.Person, "team": out.Team, "schedule": out.Schedule}[kind]

    @router.get(f"/{plural}/{{name}}", name=f"show_{kind}", response_model=shown)
    def show(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
        principal.require("viewer")
        return svc(runtime).show(kind, name)

    @router.delete(f"/{plural}/{{name}}", status_code=204, name=f"delete_{kind}")
    def remove(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> Response:
        svc(runtime).delete(principal, kind, name)
        return Response(status_code=204)


for _plural, _kind in RESOURCES.items():
    _generic(_kind, _plural)


# ---- escalation policies, contacts, who ------------------------------------------------


@router.get("/escalation-policies", response_model=out.EscalationPolicyList)
def list_policies(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = svc(runtime).list_policies()
    return {
        "items": page_list(
            items,
            POLICIES,
            _by_name,
            limit=limit,
            cursor=cursor,
            request=request,
            response=response,
        )
    }


@router.post("/escalation-policies", status_code=201, response_model=out.EscalationPolicy)
def create_policy(
    runtime: RuntimeDep, principal: PrincipalDep, body: models.EscalationPolicyIn
) -> Any:
    return svc(runtime).create_policy(principal, body)


@router.get("/escalation-policies/{name}", response_model=out.EscalationPolicy)
def show_policy(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> Any:
    principal.require("viewer")
    found = [p for p in svc(runtime).list_policies() if p["name"] == name]
    if not found:
        raise NotFound(f"no escalation policy {name!r}")
    return found[0]


@router.patch("/escalation-policies/{name}", response_model=out.EscalationPolicy)
def update_policy(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.EscalationPolicyPatch
) -> Any:
    return svc(runtime).update_policy(principal, name, body)


@router.delete("/escalation-policies/{name}", status_code=204)
def delete_policy(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> Response:
    svc(runtime).delete(principal, "escalation_policy", name)
    return Response(status_code=204)


@router.get("/services", response_model=out.ServicePolicyList)
def list_service_policies(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    """Each service and the escalation policy that pages for it (and where that is set)."""
    principal.require("viewer")
    items = svc(runtime).escalation.service_policies()
    page = page_list(
        items,
        SERVICES,
        lambda s: (str(s["service"]),),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


@router.get("/services/{service}", response_model=out.ServicePolicy)
def show_service_policy(runtime: RuntimeDep, principal: PrincipalDep, service: str) -> Any:
    principal.require("viewer")
    return svc(runtime).escalation.service_policy(service)


@router.put("/services/{service}", response_model=out.ServicePolicy)
def set_service_policy(
    runtime: RuntimeDep, principal: PrincipalDep, service: str, body: models.ServicePolicyIn
) -> Any:
    """Page through this escalation policy for the service from now on (no restart)."""
    return svc(runtime).escalation.set_service_policy(principal, service, body.escalation_policy)


@router.delete("/services/{service}", response_model=out.ServicePolicy)
def clear_service_policy(runtime: RuntimeDep, principal: PrincipalDep, service: str) -> Any:
    """Forget the mapping set here; the config file's (or the default) applies again."""
    return svc(runtime).escalation.clear_service_policy(principal, service)


@router.get("/paging-problems", response_model=out.PagingProblemList)
def paging_problems(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
    incident: str | None = None,
) -> dict[str, Any]:
    """Open, unacknowledged incidents that must page but whose page reached nobody."""
    principal.require("viewer")
    items = svc(runtime).escalation.paging_problems(incident)
    page = page_list(
        items,
        PAGING_PROBLEMS,
        lambda p: (str(p["since"]), str(p["incident"])),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


@router.get("/activation/{incident}", response_model=out.Activation)
def activation(runtime: RuntimeDep, principal: PrincipalDep, incident: str) -> Any:
    """The response team the policy requires for the incident and which roles are missing."""
    principal.require("viewer")
    return svc(runtime).escalation.activation(incident)


@router.get("/contacts", response_model=out.ContactList)
def list_contacts(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = svc(runtime).contacts()
    return {
        "items": page_list(
            items,
            CONTACTS,
            _by_name,
            limit=limit,
            cursor=cursor,
            request=request,
            response=response,
        )
    }


@router.put("/contacts/{name}", response_model=out.Contact)
def set_contact(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: models.ContactTargetsIn
) -> Any:
    return svc(runtime).set_contact(principal, name, body.targets)


@router.get("/who", response_model=out.OnCallList)
def who(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    at: str | None = None,
    schedule: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = svc(runtime).who_is_on_call(_when(at, runtime), schedule)
    page = page_list(
        items,
        WHO,
        lambda w: (str(w["schedule"]),),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


# ---- pages and acknowledgement --------------------------------------------------------------


@router.post("/pages", status_code=201, response_model=out.PageSent)
def page(runtime: RuntimeDep, principal: PrincipalDep, body: models.PageIn) -> Any:
    return svc(runtime).page(principal, body)


@router.get("/pages", response_model=out.PageList)
def list_pages(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    start = PAGES.decode(cursor)
    rows = svc(runtime).list_pages(limit=limit + 1, before_id=int(start[0]) if start else None)
    items, _ = close_page(
        rows, PAGES, lambda p: (int(p["id"]),), limit=limit, request=request, response=response
    )
    return {"items": items}


@router.post("/pages/{page_id}/ack", response_model=out.Page)
def ack_page(runtime: RuntimeDep, principal: PrincipalDep, page_id: RowId) -> Any:
    return svc(runtime).ack_page(principal, page_id)


def _page_html(title: str, text: str, form: bool = False) -> HTMLResponse:
    button = "<form method=post><button type=submit>Acknowledge</button></form>" if form else ""
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p>{button}</html>"
    )


@router.get("/ack/{token}", include_in_schema=False)
def ack_link_page(runtime: RuntimeDep, token: str) -> HTMLResponse:
    """Show what the link acknowledges; the button POSTs (mail scanners that prefetch GET
    links must not use up a single-use link)."""
    with runtime.db.write() as conn:
        link = links.verify(links.secret(conn), token, runtime.clock.now())
    return _page_html(f"Acknowledge {link.subject.rsplit(':', 1)[0]}", f"as {link.person}", True)


@router.post("/ack/{token}", response_model=out.LinkAcknowledged)
def ack_link(runtime: RuntimeDep, request: Request, token: str) -> Any:
    """Acknowledge with a signed one-click link (HMAC, expiring, single use)."""
    what, person, result = svc(runtime).ack_link(token)
    if "text/html" in request.headers.get("accept", ""):
        return _page_html("Acknowledged", f"{what} acknowledged by {person}.")
    return {"acknowledged": what, "by": person, **result}
