"""The agents plugin: `warroom mcp` (stdio), `/mcp` (HTTP) and `GET /api/v1/agents/me`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI

    from warroom.core.runtime import Runtime


class AgentsPlugin(Plugin):
    name = "agents"
    cli_commands = {
        "mcp": "Serve the MCP tools for an AI assistant over stdio (an agent token is required).",
    }

    def routers(self) -> Sequence[APIRouter]:
        from warroom.agents.api import router

        return [router]

    def mount(self, app: FastAPI, runtime: Runtime) -> None:
        """Mount the MCP streamable-HTTP transport at /mcp."""
        from warroom.agents.mount import mount as mount_mcp

        mount_mcp(app, runtime)

    def register_cli(self, app: typer.Typer) -> None:
        from warroom.agents.cli import register_cli

        register_cli(app)


plugin = AgentsPlugin()
