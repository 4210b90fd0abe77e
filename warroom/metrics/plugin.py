"""The metrics capability: report service, API, `/metrics`, request latency, CLI."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import BaseModel, ConfigDict

from warroom.core.runtime import Runtime
from warroom.metrics.api import router, scrape_router
from warroom.metrics.exposition import LatencyMiddleware, RequestMetrics
from warroom.metrics.projection import MetricsProjector
from warroom.metrics.service import MetricsService


class MetricsConfig(BaseModel):
    """The `metrics:` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Serve /metrics without a token (only on a private network); default: a viewer token.
    exposition_public: bool = False


config_sections: dict[str, type[BaseModel]] = {"metrics": MetricsConfig}
routers = [router, scrape_router]


def install(runtime: Runtime) -> None:
    runtime.extras["metrics"] = MetricsService(
        runtime.db, runtime.clock, runtime.policy, runtime.config, runtime.extras
    )
    # The per-incident metrics row is written with the incident's events.
    runtime.incidents.projectors.append(MetricsProjector(runtime.policy))


def configure_app(app: Any) -> None:
    metrics = RequestMetrics()
    app.state.request_metrics = metrics
    app.add_middleware(LatencyMiddleware, metrics=metrics)


def register_cli(app: typer.Typer) -> None:
    from warroom.metrics.cli import metrics_app

    app.add_typer(metrics_app, name="metrics")
