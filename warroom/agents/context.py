"""The agent behind the MCP request being handled (set per request by the server)."""

from __future__ import annotations

from contextvars import ContextVar

from warroom.agents.gateway import Gateway

_current: ContextVar[Gateway | None] = ContextVar("warroom_agent_gateway", default=None)


def api() -> Gateway:
    """The REST API as the calling agent (only inside an MCP request)."""
    gateway = _current.get()
    if gateway is None:
        raise RuntimeError("no agent is authenticated for this MCP request")
    return gateway


def bind(gateway: Gateway | None) -> object:
    return _current.set(gateway)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
