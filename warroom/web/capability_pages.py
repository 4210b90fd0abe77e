"""Pages over the capability packages: metrics with charts, on call, alerts and silences.

Each page reads the package's service from the runtime. Writes go through the same service
methods as the API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from warroom.core.durations import parse_duration
from warroom.core.errors import InvalidInput, WarroomError
from warroom.core.runtime import Runtime
from warroom.web import pages
from warroom.web.pages import PageRuntime, PageSession, render

router = APIRouter(include_in_schema=False)

pages.register_nav("On call", "/oncall", order=30)
pages.register_nav("Alerts", "/alerts", order=40)
pages.register_nav("Metrics", "/reports/metrics", order=50)


# ---- metrics --------------------------------------------------------------------------

PERIODS = ("7d", "30d", "90d", "365d")


def metrics_context(runtime: Runtime, since: str, by: str) -> dict[str, Any]:
    from warroom.metrics import charts, compute
    from warroom.metrics.api import build_report

    if by not in compute.GROUPINGS:
        raise InvalidInput(f"by must be one of {', '.join(compute.GROUPINGS)}")
    report = build_report(runtime, since, None, by, None)
    # The SVG comes from our own generator, which escapes every text it places; it has no
    # script, so inlining it is safe under the CSP.
    svgs = [(name, Markup(charts.svg(name, report))) for name in charts.CHARTS]
    return {
        "report": report,
        "charts": svgs,
        "figures": compute.FIGURES,
        "groupings": compute.GROUPINGS,
        "periods": PERIODS,
        "since": since,
        "by": by,
    }


@router.get("/reports/metrics")
def metrics_page(
    request: Request,
    runtime: PageRuntime,
    session: PageSession,
    since: str = "90d",
    by: str = "severity",
) -> HTMLResponse:
    context = metrics_context(runtime, since[:64], by[:16])
    return render(request, "metrics.html", context, session=session)


# ---- on call ----------------------------------------------------------------------------


@router.get("/oncall")
def oncall_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    oncall = runtime.oncall
    context = {
        "now_on_call": oncall.who_is_on_call(),
        "schedules": oncall.list_items("schedule"),
        "policies": oncall.list_policies(),
        "teams": oncall.list_items("team"),
    }
    return render(request, "oncall.html", context, session=session)


# ---- alerts and silences ----------------------------------------------------------------


def alerts_context(runtime: Runtime, state: str) -> dict[str, Any]:
    alerts = runtime.alerts
    status = "open" if state == "open" else None
    items, _ = alerts.list_alerts(status=status, limit=100)
    return {
        "alerts": items,
        "silences": alerts.list_silences(),
        "state": "open" if state == "open" else "all",
    }


@router.get("/alerts")
def alerts_page(
    request: Request, runtime: PageRuntime, session: PageSession, state: str = "open"
) -> HTMLResponse:
    return render(request, "alerts.html", alerts_context(runtime, state), session=session)


def _duration(text: str) -> timedelta:
    try:
        delta: timedelta = parse_duration(text or "1h")
    except ValueError as exc:
        raise InvalidInput(f"duration: {exc}") from None
    return delta


@router.post("/alerts/silences")
async def silence_add(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    form = await request.form()

    def add() -> None:
        principal = pages.form_principal(session, form)
        principal.require("responder")
        alerts = runtime.alerts
        raw = str(form.get("matchers") or "")
        matchers = [m.strip() for m in raw.replace("\n", ",").split(",") if m.strip()]
        if len(matchers) > 50:
            raise InvalidInput("at most 50 matchers")
        comment = str(form.get("comment") or "")[:2000]
        ends_at = runtime.clock.now() + _duration(str(form.get("duration") or "").strip())
        alerts.add_silence(principal, matchers=matchers, ends_at=ends_at, comment=comment)

    try:
        await run_in_threadpool(add)
    except WarroomError as exc:
        context = {**alerts_context(runtime, "open"), "error": exc.message, "form": form}
        return render(request, "alerts.html", context, status_code=exc.status_code, session=session)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/silences/{silence_id}/expire")
async def silence_expire(
    request: Request, runtime: PageRuntime, session: PageSession, silence_id: int
) -> Response:
    form = await request.form()

    def expire() -> None:
        principal = pages.form_principal(session, form)
        runtime.alerts.expire_silence(principal, silence_id)

    await run_in_threadpool(expire)
    return RedirectResponse("/alerts", status_code=303)
