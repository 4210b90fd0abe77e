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
# What each figure is called and measures, in words (docs/metrics.md has the milestones).
FIGURE_LABELS = {
    "time_to_detect": ("Time to detect (MTTD)", "impact began → detected"),
    "time_to_acknowledge": ("Time to acknowledge (MTTA)", "detected → someone acknowledged"),
    "time_to_mitigate": (
        "Time to mitigate (MTTM)",
        "acknowledged → mitigated (a mitigation that worked, or monitoring)",
    ),
    "time_to_resolve": ("Time to resolve", "mitigated → resolved"),
    "mttr": ("Total time to resolve (MTTR)", "{origin} → resolved"),
}
GROUPING_LABELS = {
    "severity": "Severity", "service": "Service", "team": "Team", "type": "Incident type",
    "week": "Week", "month": "Month",
}  # fmt: skip


def metrics_context(runtime: Runtime, since: str, by: str) -> dict[str, Any]:
    from warroom.metrics import charts, compute
    from warroom.metrics.api import build_report

    if by not in compute.GROUPINGS:
        raise InvalidInput(f"by must be one of {', '.join(compute.GROUPINGS)}")
    report = build_report(runtime, since, None, by, None)
    # The SVG comes from our own generator, which escapes every text it places; it has no
    # script, so inlining it is safe under the CSP.
    svgs = [(name, Markup(charts.svg(name, report))) for name in charts.CHARTS]
    origin = "impact began" if report.get("mttr_from") != "detected_at" else "detected"
    labels = {
        name: (title, measures.format(origin=origin))
        for name, (title, measures) in FIGURE_LABELS.items()
    }
    return {
        "report": report,
        "charts": svgs,
        "figures": compute.FIGURES,
        "figure_labels": labels,
        "grouping_labels": GROUPING_LABELS,
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
    from warroom.web.oncall_pages import coverage, my_shifts

    oncall = runtime.oncall
    now = runtime.clock.now()
    services_by_policy: dict[str, list[str]] = {}
    for service in runtime.config.services:
        if service.escalation_policy:
            services_by_policy.setdefault(service.escalation_policy, []).append(service.name)
    context = {
        "coverage": coverage(runtime, now),
        "mine": my_shifts(runtime, session.name, now),
        "policies": oncall.list_policies(),
        "services_by_policy": services_by_policy,
        "teams": oncall.list_items("team"),
    }
    return render(request, "oncall.html", context, session=session)


# ---- alerts and silences ----------------------------------------------------------------


# Labels that name what an alert is about: a silence prefilled from an alert matches these.
SILENCE_LABELS = ("alertname", "service", "region", "cluster", "namespace", "instance", "job")
ALERT_STATES = ("open", "firing", "all")


def alerts_context(runtime: Runtime, state: str, silence_for: int | None = None) -> dict[str, Any]:
    alerts = runtime.alerts
    state = state if state in ALERT_STATES else "open"
    status = {"open": "open", "firing": "firing", "all": None}[state]
    items, _ = alerts.list_alerts(status=status, limit=100)
    # Open incidents the listed alerts belong to that nobody has acknowledged yet.
    unacked: set[str] = set()
    for incident in {a["incident"] for a in items if a.get("incident")}:
        try:
            if runtime.incidents.get(incident).status.value in ("triggered", "reopened"):
                unacked.add(incident)
        except WarroomError:
            continue
    prefill = None
    if silence_for is not None:
        found = next((a for a in items if a["id"] == silence_for), None)
        if found is not None:
            labels = found.get("labels") or {}
            pairs = [f"{k}={labels[k]}" for k in SILENCE_LABELS if labels.get(k)]
            prefill = {"matchers": ", ".join(pairs or [f"alertname={found['identity']}"]),
                       "duration": "1h", "comment": ""}  # fmt: skip
    return {
        "alerts": items,
        "silences": alerts.list_silences(),
        "state": state,
        "states": ALERT_STATES,
        "unacked_incidents": unacked,
        "prefill": prefill,
    }


@router.get("/alerts")
def alerts_page(
    request: Request,
    runtime: PageRuntime,
    session: PageSession,
    state: str = "open",
    silence: int | None = None,
) -> HTMLResponse:
    context = alerts_context(runtime, state, silence)
    return render(request, "alerts.html", context, session=session)


@router.post("/alerts/incidents/{public_id}/ack")
async def alert_incident_ack(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    """Acknowledge, from the alert list, the incident an alert opened (stops its paging)."""
    form = await request.form()

    def ack() -> None:
        runtime.incidents.acknowledge(pages.form_principal(session, form), public_id)

    try:
        await run_in_threadpool(ack)
    except WarroomError as exc:
        context = {**alerts_context(runtime, "open"), "error": exc.message}
        return render(request, "alerts.html", context, status_code=exc.status_code, session=session)
    state = str(form.get("state") or "")
    return RedirectResponse(
        f"/alerts?state={state if state in ALERT_STATES else 'open'}", status_code=303
    )


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
