"""The importers plug-in: `warroom import VENDOR` and the API that applies an import plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter


class ImportersPlugin(Plugin):
    name = "importers"
    tables = "warroom.importers.tables"
    cli_commands = {"import": "Import on-call set-up from PagerDuty, Opsgenie or Grafana OnCall."}

    def routers(self) -> Sequence[APIRouter]:
        from warroom.importers.api import router

        return [router]

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.importers.cli import import_app

        app.add_typer(import_app, name="import")


plugin = ImportersPlugin()
