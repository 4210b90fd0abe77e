"""`warroom mcp`: serve the MCP tools for an AI assistant over stdio."""

from __future__ import annotations

from typing import Annotated

import typer


def register_cli(app: typer.Typer) -> None:
    app.command("mcp")(mcp_command)


def mcp_command(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Option(help="The agent's token (default: WARROOM_TOKEN or the global --token)."),
    ] = None,
) -> None:
    """Serve the MCP tools for an AI assistant over stdio (an agent token is required)."""
    from warroom.agents.stdio import StartError, run
    from warroom.cli.common import fail, state

    cli = state(ctx)
    value = token or cli.token
    if not value:
        fail(
            "give the agent's token with --token or WARROOM_TOKEN "
            "(create one: warroom token create NAME --agent --scope responder)"
        )
    try:
        run(value, cli.server)
    except StartError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
