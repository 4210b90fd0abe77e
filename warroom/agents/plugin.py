"""The agents plugin: `warroom mcp` (stdio), `/mcp` (HTTP) and `GET /api/v1/agents/me`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from fastapi import APIRouter, FastAPI

from warroom.api.deps import PrincipalDep
from warroom.core.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["agents"])


@router.get("/agents/me", summary="Who the caller is: name on the timeline, kind, scopes")
def whoami(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "name": principal.actor,
        "kind": principal.kind,
        "scopes": sorted(principal.scopes),
        "effective_scopes": sorted(principal.effective_scopes),
    }


routers = [router]


def mount(app: FastAPI, runtime: Runtime) -> None:
    """Mount the MCP streamable-HTTP transport at /mcp."""
    from warroom.agents.mount import mount as mount_mcp

    mount_mcp(app, runtime)


def register_cli(app: typer.Typer) -> None:
    @app.command("mcp")
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
