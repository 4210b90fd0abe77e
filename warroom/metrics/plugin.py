"""The metrics capability: report service, API, `/metrics`, request latency, CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI
    from pydantic import BaseModel

    from warroom.core.runtime import Runtime
    from warroom.incidents.service import Projector


class MetricsPlugin(Plugin):
    name = "metrics"
    tables = "warroom.metrics.tables"
    cli_commands = {"metrics": "Incident metrics: MTTx, SLA, update cadence, trends, charts."}

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        from warroom.metrics.config import MetricsConfig

        return {"metrics": MetricsConfig}

    def install(self, runtime: Runtime) -> None:
        from warroom.metrics.service import MetricsService

        runtime.metrics = MetricsService(runtime.db, runtime.clock, runtime.policy, runtime.config)

    def projectors(self, runtime: Runtime) -> Sequence[Projector]:
        from warroom.metrics.projection import MetricsProjector

        # The per-incident metrics row is written with the incident's events.
        return [MetricsProjector(runtime.policy)]

    def routers(self) -> Sequence[APIRouter]:
        from warroom.metrics.api import router, scrape_router

        return [router, scrape_router]

    def configure_app(self, app: FastAPI) -> None:
        from warroom.metrics.exposition import LatencyMiddleware, RequestMetrics

        metrics = RequestMetrics()
        app.state.request_metrics = metrics
        app.add_middleware(LatencyMiddleware, metrics=metrics)
        app.state.request_observers.append(metrics.observe)  # requests a fast path answers

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.metrics.cli import metrics_app

        app.add_typer(metrics_app, name="metrics")


plugin = MetricsPlugin()
