"""The plug-in contract: what a capability package may add to warroom, in one typed object.

Each capability package (alerts, on-call, comms, ...) has a `plugin.py` that defines `plugin`,
an instance of a `Plugin` subclass overriding the hooks it needs. The hooks are documented
here, one docstring each (as Datasette's `hookspecs.py` documents its hooks); a test checks
that `docs/architecture.md` names every one.

A package's `plugin.py` stays cheap to import: it imports its own modules inside the hooks,
so `warroom --help` and the CLI's remote commands load no service, router or table. The
command names a package adds are declared up front (`cli_commands`) for the same reason.

Order matters in two places: `PLUGINS` is the order routers are matched and reactors run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI
    from pydantic import BaseModel
    from starlette.types import ASGIApp

    from warroom.core.config import AppConfig
    from warroom.core.outbox import EffectHandler
    from warroom.core.runtime import Runtime
    from warroom.incidents.model import IncidentState
    from warroom.incidents.service import Projector, Reactor

# One problem a config check found: {"path": "alert_routes.0.match", "message": "..."}.
Problem = dict[str, str]


class Plugin:
    """What one capability package adds. Subclass it, set `name`, override the hooks you need.

    The runtime calls, for every plug-in in `PLUGINS` order: `install`, then `reactors`,
    `projectors`, `after_commit` and `effect_handlers`. The app (`create_app`) includes every
    plug-in's `first_routers`, then the incident routes, then every `routers`, calls `mount`,
    and last `configure_app`. The config loader validates `config_sections` and runs
    `check_config`. The CLI lists `cli_commands` and calls `register_cli` when one runs.
    """

    #: Short name of the package ("alerts"); also the attribute its main service takes on
    #: the runtime when it has one (`runtime.alerts`).
    name: ClassVar[str]
    #: Dotted module holding the package's tables on the shared metadata (`tables.py`);
    #: imported by migrations and tests so every table is known.
    tables: ClassVar[str | None] = None
    #: The top-level commands `register_cli` adds, name -> the one line `warroom --help` shows.
    cli_commands: ClassVar[Mapping[str, str]] = {}

    def config_sections(self) -> Mapping[str, type[BaseModel]]:
        """Top-level sections of the config file this package owns, name -> pydantic model.
        The runtime's `config.section(name)` holds the validated model (defaults when the
        file omits the section)."""
        return {}

    def check_config(self, config: AppConfig) -> list[Problem]:
        """Cross-checks of a whole config a model cannot do alone (names of services,
        severities, contacts...). `warroom config check` and the server's start list them."""
        return []

    def config_warnings(self, config: AppConfig) -> list[Problem]:
        """Valid but unsafe choices in a whole config (an option that publishes internal
        text...). `warroom config check` prints them without failing."""
        return []

    def install(self, runtime: Runtime) -> None:
        """Build the package's services and set them on the runtime's typed attributes
        (declare a new attribute on `Runtime`). Runs once per runtime, in `PLUGINS` order."""

    def reactors(self, runtime: Runtime) -> Sequence[Reactor]:
        """Incident reactors: pure functions planning outbox effects for newly appended
        incident events; their effects commit with the events."""
        return ()

    def projectors(self, runtime: Runtime) -> Sequence[Projector]:
        """Incident projectors: keep the package's read model up to date through the use
        case's connection, so it commits or rolls back with the events."""
        return ()

    def after_commit(self, runtime: Runtime) -> Sequence[Callable[[IncidentState], None]]:
        """Callbacks run in the request right after an incident use case commits (best
        effort: an outbox effect must back anything that has to happen)."""
        return ()

    def effect_handlers(self) -> Sequence[EffectHandler]:
        """How the worker runs the outbox effect kinds this package enqueues (declared in the
        package's `effects.py`: handler and options: in-transaction, concurrent, urgent)."""
        return ()

    def first_routers(self) -> Sequence[APIRouter]:
        """Routes matched before every other one (hot machine-to-machine endpoints: the alert
        webhooks)."""
        return ()

    def routers(self) -> Sequence[APIRouter]:
        """The package's API and web routes."""
        return ()

    def mount(self, app: FastAPI, runtime: Runtime) -> None:
        """Mount an ASGI sub-application on the app (the MCP transport at /mcp)."""

    def outer_layers(self, runtime: Runtime) -> Sequence[Callable[[ASGIApp], ASGIApp]]:
        """ASGI layers outside all of the app's own (FastAPI's error handling and every
        middleware): a fast path for a hot endpoint (the alert webhooks) that answers there,
        applying the request guards itself (`warroom.api.guards`: body cap, NUL refusal,
        security headers, request observers) and handing every other request on."""
        return ()

    def configure_app(self, app: FastAPI) -> None:
        """Wrap or configure the finished app: middleware, exception handlers, static files."""

    def register_cli(self, app: typer.Typer) -> None:
        """Add the commands named in `cli_commands` to the `warroom` command line."""

    def first_start(self, runtime: Runtime) -> list[str]:
        """Lines `warroom serve` prints when it starts (e.g. a one-time password)."""
        return []


# The capability packages, in the order their routes are matched and their reactors run.
PLUGINS: tuple[str, ...] = (
    "warroom.notify.plugin",
    "warroom.agents.plugin",
    "warroom.workbench.plugin",
    "warroom.metrics.plugin",
    "warroom.postmortems.plugin",
    "warroom.oncall.plugin",
    "warroom.comms.plugin",
    "warroom.web.plugin",
    "warroom.alerts.plugin",
    "warroom.chat.plugin",
    "warroom.importers.plugin",
    "warroom.identity.plugin",
)


@cache
def load_plugins() -> tuple[Plugin, ...]:
    """The `plugin` object of every package in `PLUGINS` (cheap: no service is imported)."""
    found: list[Plugin] = []
    for name in PLUGINS:
        plugin = importlib.import_module(name).plugin
        if not isinstance(plugin, Plugin):
            raise TypeError(f"{name}.plugin is not a warroom.core.plugins.Plugin")
        found.append(plugin)
    return tuple(found)


def load_tables() -> None:
    """Import the core tables and every package's, so the shared metadata knows them all."""
    importlib.import_module("warroom.core.tables")
    for plugin in load_plugins():
        if plugin.tables:
            importlib.import_module(plugin.tables)
