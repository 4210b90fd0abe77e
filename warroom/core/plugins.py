"""The capability packages that plug into the core.

Each entry names a module with any of:
- `install(runtime) -> None`: build the package's services, add incident reactors (plan
  outbox effects), incident projectors (keep the package's read model up to date in the
  same transaction as the events) and outbox effect handlers to the runtime;
- `routers: list[APIRouter]`: API or web routes mounted by `create_app`;
- `register_cli(app: typer.Typer) -> None`: the package's commands;
- `mount(app: FastAPI, runtime) -> None`: mount an ASGI sub-application (e.g. MCP at /mcp).
Tables live in each package's `tables.py` on the shared metadata; `ALL_TABLE_MODULES`
lists them so migrations and tests see every table.
"""

from __future__ import annotations

import importlib
from types import ModuleType

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
)

ALL_TABLE_MODULES: tuple[str, ...] = (
    "warroom.core.tables",
    "warroom.workbench.tables",
    "warroom.postmortems.tables",
    "warroom.notify.tables",
    "warroom.oncall.tables",
    "warroom.comms.tables",
    "warroom.web.tables",
    "warroom.alerts.tables",
    "warroom.metrics.tables",
    "warroom.chat.tables",
)


def load_plugins() -> list[ModuleType]:
    return [importlib.import_module(name) for name in PLUGINS]


def load_tables() -> None:
    for name in ALL_TABLE_MODULES:
        importlib.import_module(name)
