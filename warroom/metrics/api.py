"""Metrics endpoints: the report as JSON or CSV, charts as SVG or PNG, and `/metrics`."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from warroom.api.deps import PrincipalDep, RuntimeDep, get_principal
from warroom.api.models import ApiRoute
from warroom.core.errors import InvalidInput, NotFound
from warroom.core.inputs import moment, time_zone
from warroom.core.runtime import Runtime
from warroom.metrics import charts, compute, exposition
from warroom.metrics import responses as out
from warroom.metrics.service import MetricsService, parse_moment

router = APIRouter(prefix="/api/v1", tags=["metrics"], route_class=ApiRoute)
scrape_router = APIRouter(tags=["metrics"])

DEFAULT_SPAN = timedelta(days=90)
ByParam = Annotated[str, Query(pattern="^(" + "|".join(compute.GROUPINGS) + ")$")]
TextParam = Annotated[str | None, Query(max_length=64)]


def service_of(runtime: Runtime) -> MetricsService:
    return runtime.metrics


def window(
    runtime: Runtime, since: str | None, until: str | None, tz_name: str | None
) -> tuple[datetime, datetime, tzinfo | None]:
    """Parse the period (ISO dates/datetimes or durations ago like `30d`) and the time zone."""
    tz: tzinfo | None = None
    if tz_name:
        try:
            tz = time_zone(tz_name)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    now = runtime.clock.now()
    try:
        end = parse_moment(until, now, tz) if until else now
        start = parse_moment(since, now, tz) if since else end - DEFAULT_SPAN
    except (ValueError, OverflowError):
        raise InvalidInput(
            "since/until must be an ISO date or datetime (2026-11-01, 2026-11-01T08:00+01:00) "
            "or a duration ago (30d, 12w)",
            details={"since": since, "until": until},
        ) from None
    try:
        start, end = moment(start), moment(end)
    except ValueError as exc:
        raise InvalidInput(
            f"since/until: {exc}", details={"since": since, "until": until}
        ) from None
    if start >= end:
        raise InvalidInput("since must be before until", details={"since": since, "until": until})
    return start, end, tz


def build_report(
    runtime: Runtime,
    since: str | None,
    until: str | None,
    by: str,
    tz_name: str | None,
    include_incidents: bool = False,
) -> dict[str, Any]:
    start, end, tz = window(runtime, since, until, tz_name)
    return service_of(runtime).report(start, end, by=by, tz=tz, include_incidents=include_incidents)


@router.get(
    "/metrics",
    summary="Incident metrics: MTTx, SLA, cadence, post-mortems, trends",
    response_model=out.MetricsReport,
    responses={200: {"content": {"text/csv": {}}}},
)
def metrics_report(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    since: TextParam = None,
    until: TextParam = None,
    by: ByParam = "severity",
    tz: TextParam = None,
    incidents: bool = False,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    principal.require("viewer")
    data = build_report(runtime, since, until, by, tz, include_incidents=incidents)
    if format == "csv":
        return Response(
            compute.to_csv(data, incidents=incidents),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="warroom-metrics.csv"'},
        )
    return data


@router.post(
    "/metrics/rebuild",
    summary="Fill or refresh the per-incident metrics rows (admin)",
    response_model=out.Rebuilt,
)
def metrics_rebuild(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    all: Annotated[bool, Query(description="Recompute every row, not only stale ones")] = False,
) -> dict[str, Any]:
    principal.require("admin")
    return service_of(runtime).rebuild_as(principal, everything=all)


@router.get(
    "/metrics/charts/{name}",
    summary="A metrics chart as SVG (default) or PNG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
def metrics_chart(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    name: str,
    since: TextParam = None,
    until: TextParam = None,
    by: ByParam = "severity",
    tz: TextParam = None,
    format: Annotated[str, Query(pattern="^(svg|png)$")] = "svg",
) -> Response:
    principal.require("viewer")
    stem, dot, suffix = name.partition(".")
    if dot:
        if suffix not in ("svg", "png"):
            raise NotFound(f"charts come as .svg or .png, not .{suffix}")
        format = suffix
    if stem not in charts.CHARTS:
        raise NotFound(f"no chart {stem!r}; charts: {', '.join(charts.CHARTS)}")
    data = build_report(runtime, since, until, by, tz)
    if format == "png":
        return Response(charts.png(stem, data), media_type="image/png")
    return Response(charts.svg(stem, data), media_type="image/svg+xml")


@scrape_router.get(
    "/metrics",
    summary="Prometheus exposition",
    include_in_schema=True,
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def prometheus(request: Request, runtime: RuntimeDep) -> Response:
    settings = runtime.config.section("metrics")
    if not getattr(settings, "exposition_public", False):
        get_principal(request, runtime).require("viewer")
    requests = getattr(request.app.state, "request_metrics", None)
    return Response(exposition.render(runtime, requests), media_type=exposition.CONTENT_TYPE)
