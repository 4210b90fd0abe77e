"""`warroom mcp`: the MCP server over stdio for one agent (its token from WARROOM_TOKEN)."""

from __future__ import annotations

import sys
from typing import Any

import anyio

from warroom.agents.gateway import Gateway, Refusal, in_process_client, remote_client
from warroom.agents.server import build_server


class StartError(Exception):
    """The server cannot start (bad token, not an agent token, server unreachable)."""


async def serve_stdio(token: str, server: str | None = None) -> None:
    """Run until stdin closes. Local database unless `server` names a warroom URL."""
    runtime: Any = None
    if server:
        http = remote_client(server)
    else:
        from warroom.api.app import create_app
        from warroom.core.runtime import Runtime
        from warroom.core.settings import Settings

        runtime = Runtime.build(Settings())
        http = in_process_client(create_app(runtime))
    try:
        gateway = Gateway(http, token)
        try:
            me = await gateway.get("/agents/me")
        except Refusal as refusal:
            raise StartError(f"{refusal.code}: {refusal.message}") from None
        if me.get("kind") != "agent":
            raise StartError(
                f"{me.get('name')} is not an agent token; create one with: "
                "warroom token create NAME --agent --scope responder"
            )
        print(
            f"warroom MCP server (stdio) for {me['name']} ({', '.join(me['scopes'])})",
            file=sys.stderr,
        )
        await build_server(lambda _request: gateway).run_stdio_async()
    finally:
        await http.aclose()
        if runtime is not None:
            runtime.close()


def run(token: str, server: str | None = None) -> None:
    anyio.run(serve_stdio, token, server)
