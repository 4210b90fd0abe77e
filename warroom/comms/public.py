"""The public status page: no authentication, nothing internal.

Every route here is under `/status` (`PUBLIC_PREFIX`) and tagged `public`, so an
authorization test can list them as the intentionally public part of the app. They read only
the public tables through `StatusPage.snapshot`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from warroom.api.deps import RuntimeDep
from warroom.comms import feeds, views
from warroom.comms.statuspage import StatusPage, SubscribeIn
from warroom.core.clock import iso_utc
from warroom.core.errors import InvalidInput, WarroomError, error_body
from warroom.core.runtime import Runtime

PUBLIC_PREFIX = "/status"
PAST_SHOWN = 20  # the feeds and incidents.json have more
router = APIRouter(prefix=PUBLIC_PREFIX, tags=["public"])

_env = Environment(
    loader=PackageLoader("warroom.comms", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_CACHE = {"Cache-Control": "public, max-age=30"}
_NO_STORE = {"Cache-Control": "no-store"}
_STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}
_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(runtime: Runtime) -> StatusPage:
    page: StatusPage = runtime.comms.statuspage
    return page


def _iso(moment: datetime | None) -> str:
    return iso_utc(moment) if moment else ""


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%b %d, %Y %H:%M UTC") if moment else ""


def _html(template: str, page: StatusPage, status_code: int = 200, **context: Any) -> HTMLResponse:
    text = _env.get_template(template).render(
        page=page.page(),
        base=page.base_url,
        iso=_iso,
        when=_when,
        labels=_STATUS_LABELS,
        percent=_percent,
        **context,
    )
    headers = {
        **_SECURITY,
        **(_CACHE if status_code == 200 and "token" not in context else _NO_STORE),
    }
    return HTMLResponse(text, status_code=status_code, headers=headers)


_JSON_HEADERS = {**_CACHE, "Access-Control-Allow-Origin": "*"}
CACHE_SECONDS = 5


def _json(data: Any) -> JSONResponse:
    return JSONResponse(data, headers=_JSON_HEADERS)


def _cached(
    runtime: Runtime, key: str, build: Callable[[], Response], headers: dict[str, str]
) -> Response:
    """Serve a public response from a short cache: every write on this process clears it,
    and entries expire after `CACHE_SECONDS` of the clock (other replicas' writes)."""
    page = _page(runtime)
    bucket = int(runtime.clock.now().timestamp() // CACHE_SECONDS)
    entry = page.response_cache.get((key, page.generation, bucket))
    if entry is None:
        response = build()
        if response.status_code != 200:
            return response
        entry = (bytes(response.body), response.media_type or "application/octet-stream")
        if len(page.response_cache) > 64:
            page.response_cache.clear()
        page.response_cache[(key, page.generation, bucket)] = entry
    return Response(entry[0], media_type=entry[1], headers=headers)


def _percent(uptime: float) -> str:
    """Two decimals, rounded down: any downtime at all shows below 100.00 %."""
    return f"{math.floor(uptime * 100) / 100:.2f}%"


def _runs(days: list[views.DayUptime]) -> list[dict[str, Any]]:
    """Uptime bars as runs: consecutive operational days share one bar (a small page)."""
    runs: list[dict[str, Any]] = []
    for day in days:
        if day.worst == "operational" and day.uptime == 100.0:
            if runs and runs[-1]["status"] == "operational" and not runs[-1]["title"]:
                runs[-1]["count"] += 1
                continue
            runs.append({"status": "operational", "count": 1, "title": ""})
        else:
            label = _STATUS_LABELS.get(day.worst, day.worst)
            title = f"{day.day}: {label}, {_percent(day.uptime)} uptime"
            runs.append({"status": day.worst, "count": 1, "title": title})
    return runs


# ---- JSON (Statuspage-compatible) -----------------------------------------------------


@router.get("/api/v2/summary.json", summary="Page, status, components, open incidents")
def summary(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "summary", lambda: _summary(runtime), _JSON_HEADERS)


def _summary(runtime: Runtime) -> JSONResponse:
    return _json(views.summary_json(_page(runtime).snapshot(history_days=0)))


@router.get("/api/v2/status.json", summary="The page's overall status")
def status(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "status", lambda: _status(runtime), _JSON_HEADERS)


def _status(runtime: Runtime) -> JSONResponse:
    snapshot = _page(runtime).snapshot(history_days=0, updates_for="open")
    return _json({"page": views.page_json(snapshot), "status": views.status_json(snapshot)})


@router.get("/api/v2/components.json", summary="Components and groups")
def components(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "components", lambda: _components(runtime), _JSON_HEADERS)


def _components(runtime: Runtime) -> JSONResponse:
    snapshot = _page(runtime).snapshot(history_days=0, updates_for="open")
    return _json({"page": views.page_json(snapshot), "components": views.components_json(snapshot)})


@router.get("/uptime.json", summary="Each component's uptime over 90 days, per day")
def uptime(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "uptime", lambda: _uptime(runtime), _JSON_HEADERS)


def _uptime(runtime: Runtime) -> JSONResponse:
    snapshot = _page(runtime).snapshot(updates_for="open", states=True)
    return _json(
        {"page": views.page_json(snapshot), **views.uptime_json(snapshot)},
    )


@router.get("/api/v2/incidents.json", summary="Recent incidents (last 50)")
def incidents(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "incidents", lambda: _incidents(runtime), _JSON_HEADERS)


def _incidents(runtime: Runtime) -> JSONResponse:
    snapshot = _page(runtime).snapshot(history_days=None, limit=50)
    return _json(
        {
            "page": views.page_json(snapshot),
            "incidents": [views.incident_json(snapshot, i) for i in snapshot.incidents[:50]],
        }
    )


@router.get("/api/v2/incidents/unresolved.json", summary="Unresolved incidents")
def unresolved(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "unresolved", lambda: _unresolved(runtime), _JSON_HEADERS)


def _unresolved(runtime: Runtime) -> JSONResponse:
    snapshot = _page(runtime).snapshot(history_days=0)
    return _json(
        {
            "page": views.page_json(snapshot),
            "incidents": [
                views.incident_json(snapshot, i) for i in snapshot.incidents if i.unresolved
            ],
        }
    )


def _maintenances(runtime: Runtime, which: str) -> JSONResponse:
    snapshot = _page(runtime).snapshot(history_days=0, updates_for="open")
    chosen = [m for m in snapshot.maintenances if which == "all" or m.status(snapshot.now) == which]
    return _json(
        {
            "page": views.page_json(snapshot),
            "scheduled_maintenances": [views.maintenance_json(snapshot, m) for m in chosen],
        }
    )


@router.get("/api/v2/scheduled-maintenances.json", summary="Scheduled maintenance (all)")
def maintenances_all(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "maint-all", lambda: _maintenances(runtime, "all"), _JSON_HEADERS)


@router.get("/api/v2/scheduled-maintenances/upcoming.json", summary="Upcoming maintenance")
def maintenances_upcoming(runtime: RuntimeDep) -> Response:
    return _cached(
        runtime, "maint-scheduled", lambda: _maintenances(runtime, "scheduled"), _JSON_HEADERS
    )


@router.get("/api/v2/scheduled-maintenances/active.json", summary="Maintenance in progress")
def maintenances_active(runtime: RuntimeDep) -> Response:
    return _cached(
        runtime, "maint-in_progress", lambda: _maintenances(runtime, "in_progress"), _JSON_HEADERS
    )


# ---- feeds ----------------------------------------------------------------------------


def _feed_entries(runtime: Runtime) -> list[feeds.FeedEntry]:
    page = _page(runtime)
    snapshot = page.snapshot(history_days=0, updates_for="open")
    return feeds.entries(page.page(), page.history(), snapshot.maintenances, snapshot.now)


@router.get("/history.rss", summary="Incident history (RSS 2.0)")
def history_rss(runtime: RuntimeDep) -> Response:
    def build() -> Response:
        body = feeds.rss(_page(runtime).page(), _feed_entries(runtime), runtime.clock.now())
        return Response(body, media_type="application/rss+xml; charset=utf-8")

    return _cached(runtime, "rss", build, _CACHE)


@router.get("/history.atom", summary="Incident history (Atom 1.0)")
def history_atom(runtime: RuntimeDep) -> Response:
    def build() -> Response:
        body = feeds.atom(_page(runtime).page(), _feed_entries(runtime), runtime.clock.now())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    return _cached(runtime, "atom", build, _CACHE)


# ---- HTML -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse, summary="The status page (HTML, no JavaScript)")
def status_page(runtime: RuntimeDep) -> Response:
    return _cached(runtime, "page", lambda: _status_page(runtime), {**_SECURITY, **_CACHE})


def _status_page(runtime: Runtime) -> HTMLResponse:
    page = _page(runtime)
    snapshot = page.snapshot(updates_for="open", states=True)
    now = snapshot.now
    groups: list[tuple[str | None, list[dict[str, Any]]]] = []
    index: dict[str | None, list[dict[str, Any]]] = {}
    for component in views.visible_components(snapshot):
        days = views.component_uptime(snapshot, component)
        entry = {
            "runs": _runs(days),
            "component": component,
            "status": snapshot.effective.get(component.slug, component.status),
            "uptime": _percent(views.overall_uptime(days, now)),
            "bad_days": [d for d in days if d.worst != "operational"][::-1],
        }
        if component.group not in index:
            index[component.group] = []
            groups.append((component.group, index[component.group]))
        index[component.group].append(entry)
    affected = [
        entry for _, members in groups for entry in members if entry["status"] != "operational"
    ]
    return _html(
        "status_page.html",
        page,
        status=views.status_json(snapshot),
        open_incidents=[i for i in snapshot.incidents if i.unresolved],
        past=[i for i in snapshot.incidents if not i.unresolved][:PAST_SHOWN],
        upcoming=[m for m in snapshot.maintenances if m.status(now) != "completed"],
        groups=groups,
        affected=affected,
        now=now,
    )


@router.get("/incidents/{code}", response_class=HTMLResponse, summary="One public incident")
def incident_page(runtime: RuntimeDep, code: str) -> HTMLResponse:
    page = _page(runtime)
    snapshot = page.snapshot(history_days=None, only_code=code)
    if not snapshot.incidents:
        return _html(
            "status_message.html",
            page,
            status_code=404,
            heading="Not found",
            message="There is no such incident.",
        )
    incident = snapshot.incidents[0]
    names = {c.slug: c.name for c in snapshot.components}
    return _html(
        "status_incident.html",
        page,
        incident=incident,
        components=[names[s] for s in incident.components if s in names],
    )


@router.get("/subscribe", response_class=HTMLResponse, summary="The subscribe form")
def subscribe_form(runtime: RuntimeDep) -> HTMLResponse:
    page = _page(runtime)
    settings = page.config.statuspage
    return _html(
        "status_subscribe.html",
        page,
        email_enabled=settings.allow_email_subscribers and bool(settings.email_url),
        webhook_enabled=settings.allow_webhook_subscribers,
        error=None,
        kept={},
    )


@router.post("/subscribe", summary="Subscribe (form post or JSON); confirmation required")
async def subscribe(request: Request, runtime: RuntimeDep) -> Response:
    page = _page(runtime)
    is_json = request.headers.get("content-type", "").startswith("application/json")
    kept: dict[str, str] = {}

    def refused(status_code: int, message: str) -> HTMLResponse:
        """The form again, with the reason and what was typed."""
        settings = page.config.statuspage
        return _html(
            "status_subscribe.html",
            page,
            status_code=status_code,
            email_enabled=settings.allow_email_subscribers and bool(settings.email_url),
            webhook_enabled=settings.allow_webhook_subscribers,
            error=message,
            kept=kept,
        )

    try:
        if is_json:
            try:
                data = await request.json()
            except ValueError:
                raise InvalidInput("the request body is not valid JSON") from None
            body = SubscribeIn.model_validate(data if isinstance(data, dict) else {})
        else:
            form = await request.form()
            kept = {key: str(form.get(key) or "")[:500] for key in ("email", "webhook")}
            body = SubscribeIn(
                email=kept["email"] or None,
                webhook=kept["webhook"] or None,
                components=[str(v) for v in form.getlist("components")],
            )
        result = page.subscribe(body)
    except WarroomError as exc:
        if is_json:
            return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=_NO_STORE)
        return refused(exc.status_code, exc.message)
    except ValueError as exc:  # pydantic validation of the body
        message = str(exc).splitlines()[-1].strip() if str(exc) else "invalid input"
        if is_json:
            error = error_body("invalid_input", message)
            return JSONResponse(error, status_code=422, headers=_NO_STORE)
        return refused(422, "check the address and try again")
    if is_json:
        return JSONResponse(result, status_code=202, headers=_NO_STORE)
    return _html(
        "status_message.html",
        page,
        status_code=202,
        heading="Check your inbox",
        message="We sent a confirmation link. Nothing else is sent until you confirm.",
    )


def _token_page(
    runtime: Runtime, purpose: str, token: str, heading: str, message: str, button: str
) -> HTMLResponse:
    page = _page(runtime)
    try:
        page.check_token(purpose, token)
    except WarroomError as exc:
        return _html(
            "status_message.html",
            page,
            status_code=400,
            heading="Invalid link",
            message=exc.message,
        )
    action = f"{page.base_url}/subscribers/{'confirm' if purpose == 'confirm' else 'unsubscribe'}"
    return _html(
        "status_message.html",
        page,
        heading=heading,
        message=message,
        form_action=action,
        token=token,
        button=button,
    )


@router.get("/subscribers/confirm", response_class=HTMLResponse, summary="Confirm page")
def confirm_page(
    runtime: RuntimeDep, token: Annotated[str, Query(max_length=300)] = ""
) -> HTMLResponse:
    # A GET only shows the button: mail scanners that follow links must not confirm.
    return _token_page(
        runtime,
        "confirm",
        token,
        "Confirm your subscription",
        "Press the button to start receiving incident updates.",
        "Confirm subscription",
    )


@router.post("/subscribers/confirm", response_class=HTMLResponse, summary="Confirm")
def confirm(runtime: RuntimeDep, token: Annotated[str, Form(max_length=300)] = "") -> HTMLResponse:
    page = _page(runtime)
    try:
        page.confirm(token)
    except WarroomError as exc:
        return _html(
            "status_message.html",
            page,
            status_code=400,
            heading="Invalid link",
            message=exc.message,
        )
    return _html(
        "status_message.html",
        page,
        heading="Subscribed",
        message="You will receive incident updates. Every message has an unsubscribe link.",
    )


def _unsubscribe(runtime: Runtime, token: str) -> HTMLResponse:
    page = _page(runtime)
    try:
        page.unsubscribe(token)
    except WarroomError as exc:
        return _html(
            "status_message.html",
            page,
            status_code=400,
            heading="Invalid link",
            message=exc.message,
        )
    return _html(
        "status_message.html",
        page,
        heading="Unsubscribed",
        message="You will not receive any more updates.",
    )


@router.get(
    "/subscribers/unsubscribe", response_class=HTMLResponse, summary="One-click unsubscribe"
)
def unsubscribe_get(
    runtime: RuntimeDep, token: Annotated[str, Query(max_length=300)] = ""
) -> HTMLResponse:
    return _unsubscribe(runtime, token)


@router.post(
    "/subscribers/unsubscribe", response_class=HTMLResponse, summary="Unsubscribe (RFC 8058)"
)
async def unsubscribe_post(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    token = request.query_params.get("token", "")
    if not token:
        form = await request.form()
        token = str(form.get("token") or "")
    return _unsubscribe(runtime, token[:300])


@router.get("/", include_in_schema=False)
def slash() -> RedirectResponse:
    return RedirectResponse(PUBLIC_PREFIX, status_code=308)
