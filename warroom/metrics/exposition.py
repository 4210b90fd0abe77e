"""`GET /metrics`: Prometheus exposition of what warroom is doing right now.

Figures are read from the database at scrape time (open incidents, notification events,
outbox depth and lag), so every server process reports the same numbers; request latency is a
histogram of this process. Other packages add their own families with `register_collector`:

    from warroom.metrics.exposition import register_collector
    register_collector("alerts", lambda runtime, conn: [...metric families...])

The alerts package can instead (or also) expose `runtime.alerts.alert_counts(conn)`
returning `{"received": n, "created": n, ..., "open": n}`; those become
`warroom_alerts_total{outcome=...}` and `warroom_alerts_open`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from warroom.core import outbox, tables
from warroom.core.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CollectorFn = Callable[[Runtime, Connection], Iterable[Metric]]

_collectors: dict[str, CollectorFn] = {}


def register_collector(name: str, fn: CollectorFn) -> None:
    """Add (or replace) a named source of metric families, called at every scrape."""
    _collectors[name] = fn


def unregister_collector(name: str) -> None:
    _collectors.pop(name, None)


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """Per-app request latency histogram (a registry of its own, so apps do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "warroom_http_request_duration_seconds",
            "HTTP request latency by method, route template and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Each label set's series, looked up once (`labels` checks and locks every time).
        self._series: dict[tuple[str, str, int], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request answered (a `warroom.api.guards.RequestObserver`)."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self.latency.labels(method, route, str(status))
        series.observe(seconds)


class LatencyMiddleware:
    """ASGI middleware timing every HTTP request, labelled by route template (not raw path)."""

    def __init__(self, app: Any, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            self.metrics.observe(
                scope.get("method", "GET"), template, status["code"], time.perf_counter() - started
            )


class _DatabaseCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[Metric]:
        runtime = self.runtime
        now = runtime.clock.now()
        with runtime.db.read() as conn:
            families = list(core_families(conn, now))
            families += duration_families(conn)
            families += alert_families(runtime, conn)
            up = GaugeMetricFamily(
                "warroom_collector_up",
                "Whether a registered collector worked (1) or failed (0) in this scrape.",
                labels=["collector"],
            )
            for name, fn in list(_collectors.items()):
                try:
                    families += list(fn(runtime, conn))
                    up.add_metric([name], 1.0)
                except Exception as exc:  # one broken collector must not break the scrape
                    up.add_metric([name], 0.0)
                    runtime_log(exc)
            if _collectors:
                families.append(up)
        return families


def runtime_log(exc: Exception) -> None:
    import logging

    logging.getLogger("warroom.metrics").warning("metrics collector failed: %s", exc)


def core_families(conn: Connection, now: Any) -> Iterable[Metric]:
    i = tables.incidents
    open_incidents = GaugeMetricFamily(
        "warroom_incidents_open",
        "Open incidents by severity and status.",
        labels=["severity", "status"],
    )
    rows = conn.execute(
        select(i.c.severity, i.c.status, func.count())
        .where(i.c.is_open.is_(True))
        .group_by(i.c.severity, i.c.status)
    ).all()
    for severity, status, count in rows:
        open_incidents.add_metric([str(severity), str(status)], float(count))
    yield open_incidents

    e = tables.events
    notifications = CounterMetricFamily(
        "warroom_notifications",
        "Notifications delivered (sent) or given up on (failed).",
        labels=["outcome"],
    )
    counts: dict[str, int] = dict(
        conn.execute(
            select(e.c.type, func.count())
            .where(e.c.type.in_(("notification_sent", "notification_failed")))
            .group_by(e.c.type)
        ).all()
    )
    notifications.add_metric(["sent"], float(counts.get("notification_sent", 0)))
    notifications.add_metric(["failed"], float(counts.get("notification_failed", 0)))
    yield notifications

    depth = outbox.depth(conn)
    outbox_depth = GaugeMetricFamily(
        "warroom_outbox_effects",
        "Outbox effects by status (pending, running, failed, dead).",
        labels=["status"],
    )
    for status in (outbox.PENDING, outbox.RUNNING, outbox.FAILED, outbox.DEAD):
        outbox_depth.add_metric([status], float(depth.get(status, 0)))
    yield outbox_depth

    o = tables.outbox
    oldest = conn.execute(
        select(func.min(o.c.due_at)).where(
            o.c.status.in_((outbox.PENDING, outbox.FAILED)), o.c.due_at <= now
        )
    ).scalar()
    lag = 0.0
    if oldest is not None:
        from warroom.core.clock import ensure_utc

        lag = max(0.0, (now - ensure_utc(oldest)).total_seconds())
    yield GaugeMetricFamily(
        "warroom_outbox_lag_seconds",
        "How long the oldest due effect has waited for a worker (0 when none is due).",
        value=lag,
    )


# (metric name, read-model column, help): the incident durations Prometheus can trend.
DURATIONS = (
    (
        "warroom_incident_time_to_resolve_seconds",
        "mttr",
        "Time to resolve (MTTR) of resolved incidents, by severity.",
    ),
    (
        "warroom_incident_time_to_mitigate_seconds",
        "time_to_mitigate",
        "Time to mitigate (MTTM: acknowledged to mitigated) of incidents, by severity.",
    ),
    (
        "warroom_incident_time_to_acknowledge_seconds",
        "time_to_acknowledge",
        "Time to acknowledge (MTTA) of incidents, by severity.",
    ),
)


def duration_families(conn: Connection) -> Iterable[Metric]:
    """MTTR, MTTM and MTTA as summaries (count and sum per severity) from the read model.

    `rate(..._sum[1d]) / rate(..._count[1d])` gives the mean over a window. An incident counts
    once its phase is measured; a reopened one counts with its latest figures.
    """
    from warroom.metrics.tables import incident_metrics as m

    columns = [m.c[column] for _, column, _ in DURATIONS]
    query = select(
        m.c.severity,
        *(func.count(c) for c in columns),
        *(func.coalesce(func.sum(c), 0.0) for c in columns),
    ).group_by(m.c.severity)
    rows = conn.execute(query).all()
    for n, (name, _, text) in enumerate(DURATIONS):
        family = SummaryMetricFamily(name, text, labels=["severity"])
        for row in rows:
            count, total = row[1 + n], row[1 + len(DURATIONS) + n]
            family.add_metric([str(row[0])], count_value=int(count), sum_value=float(total))
        yield family


def alert_families(runtime: Runtime, conn: Connection) -> list[Metric]:
    available = GaugeMetricFamily(
        "warroom_alerts_available", "1 when the alerts package reports alert counts."
    )
    available.add_metric([], 1.0)
    counts = runtime.alerts.alert_counts(conn)
    alerts = CounterMetricFamily("warroom_alerts", "Alerts by intake outcome.", labels=["outcome"])
    for outcome in ALERT_OUTCOMES:
        alerts.add_metric([outcome], float(counts.get(outcome, 0)))
    open_alerts = GaugeMetricFamily(
        "warroom_alerts_open", "Alerts firing or acknowledged now (silenced ones included)."
    )
    open_alerts.add_metric([], float(counts.get("open", 0)))
    backlog = GaugeMetricFamily(
        "warroom_intake_backlog", "Webhook requests acknowledged and not yet processed."
    )
    backlog.add_metric([], float(runtime.alerts.intake_backlog()))
    lag = GaugeMetricFamily(
        "warroom_intake_lag_seconds",
        "How long the oldest webhook request acknowledged and not yet processed has waited.",
    )
    lag.add_metric([], runtime.alerts.intake_lag(runtime.clock.now()))
    return [available, alerts, open_alerts, backlog, lag]


ALERT_OUTCOMES = (
    "received",
    "created",
    "deduplicated",
    "acknowledged",
    "resolved",
    "silenced",
    "recorded",
    "dropped",
    "tests",
)


def render(runtime: Runtime, requests: RequestMetrics | None) -> bytes:
    """The whole exposition text."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseCollector(runtime))
    text = generate_latest(registry)
    if requests is not None:
        text += generate_latest(requests.registry)
    return text
