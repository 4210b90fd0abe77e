"""`/mcp` on the served app, started lazily so plain API use never loads the MCP SDK.

The route and a lifespan hook are installed by `create_app`; the MCP server itself is built
on the first `/mcp` request and runs in a task group owned by the app's lifespan (the CLI's
in-process client never starts the lifespan, so it never pays for MCP).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from warroom.core.errors import error_body
from warroom.core.runtime import Runtime

if TYPE_CHECKING:
    from warroom.agents.http import McpEndpoint

PATH = "/mcp"


class LazyMcp:
    """ASGI endpoint at /mcp: builds and starts the MCP transport on first use."""

    def __init__(self, runtime: Runtime, app: FastAPI) -> None:
        self.runtime = runtime
        self.app = app
        self._endpoint: McpEndpoint | None = None
        self._group: TaskGroup | None = None
        self._lock = anyio.Lock()

    async def _ensure(self, group: TaskGroup) -> McpEndpoint:
        async with self._lock:
            if self._endpoint is None:
                from warroom.agents.http import McpEndpoint

                endpoint = McpEndpoint(self.runtime, self.app)
                await group.start(endpoint.serve)
                self._endpoint = endpoint
            return self._endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = self._group
        if group is None:
            body = json.dumps(error_body("unavailable", "MCP runs under warroom serve")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        endpoint = await self._ensure(group)
        await endpoint(scope, receive, send)

    def lifespan(
        self, previous: Callable[[Any], AbstractAsyncContextManager[Any]]
    ) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
        @asynccontextmanager
        async def run(app: Any) -> AsyncIterator[Any]:
            async with anyio.create_task_group() as group, previous(app) as state:
                self._group = group
                try:
                    yield state
                finally:
                    self._group = None
                    self._endpoint = None
                    group.cancel_scope.cancel()

        return run


def mount(app: FastAPI, runtime: Runtime) -> LazyMcp:
    """Serve MCP at /mcp on this app; its transport starts and stops with the app."""
    endpoint = LazyMcp(runtime, app)
    # An ASGI endpoint (not a function) gets the raw scope and every HTTP method.
    app.router.routes.append(Route(PATH, endpoint=endpoint, include_in_schema=False))
    app.router.lifespan_context = endpoint.lifespan(app.router.lifespan_context)
    return endpoint
