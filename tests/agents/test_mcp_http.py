"""A real MCP client session over streamable HTTP against `/mcp` of a served warroom app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.agents import scenario
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.runtime import Runtime


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    """The whole app (API + /mcp) served by uvicorn on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def agent_token(runtime: Runtime) -> Callable[..., str]:
    def make(name: str, *scopes: str, kind: str = "agent") -> str:
        with runtime.db.write() as conn:
            _, token = auth.create_token(
                conn,
                name=name,
                scopes=list(scopes),
                created_by="tests",
                now=runtime.clock.now(),
                kind=kind,
            )
        return token

    return make


def _client(url: str, token: str, mode: str = "auto") -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode)


def test_an_agent_works_an_incident_over_http(served: str, agent_token: Callable[..., str]) -> None:
    responder = agent_token("triage-bot", "responder")
    viewer = agent_token("watch-bot", "viewer")
    person = agent_token("alice", "responder", kind="token")

    async def session() -> str:
        async with _client(served, responder) as agent:
            incident = await scenario.work_an_incident(agent, "triage-bot")
            await scenario.resources_and_prompts(agent, incident)
        # The handshake-era protocol (initialize) works as well as the current one.
        async with _client(served, viewer, mode="legacy") as watcher:
            await scenario.viewer_is_read_only(watcher, incident)
        return incident

    incident = anyio.run(session)
    # A person resolves, reviews and publishes the post-mortem; then closing is allowed.
    headers = {"Authorization": f"Bearer {person}"}
    with httpx.Client(base_url=served, headers=headers, timeout=30) as http:
        checklist = {item: {"confirmed": True} for item in scenario.ALL_CHECKLIST}
        body = {"summary": "fixed", "checklist": checklist}
        assert http.post(f"/api/v1/incidents/{incident}/resolve", json=body).status_code == 200
        pm = http.get(f"/api/v1/incidents/{incident}/postmortem").json()
        written = pm["body"].replace(
            "What in the system allowed this to happen? Describe mechanisms, not people.",
            "A connection pool limit starved the service.",
        )
        edit = {"body": written, "version": pm["version"]}
        assert http.put(f"/api/v1/incidents/{incident}/postmortem", json=edit).status_code == 200
        for step in ("submit", "publish"):
            reply = http.post(f"/api/v1/incidents/{incident}/postmortem/{step}")
            assert reply.status_code == 200, reply.text
        closed = http.post(f"/api/v1/incidents/{incident}/close")
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"


def test_http_transport_needs_an_agent_token(served: str, agent_token: Callable[..., str]) -> None:
    person = agent_token("alice", "responder", kind="token")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    with httpx.Client(base_url=served, timeout=30) as http:
        missing = http.post("/mcp", json=body)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        bad = http.post("/mcp", json=body, headers={"Authorization": "Bearer wr_nope"})
        assert bad.status_code == 401
        human = http.post("/mcp", json=body, headers={"Authorization": f"Bearer {person}"})
        assert human.status_code == 403
        assert human.json()["error"]["code"] == "agent_token_required"
        assert "--agent" in human.json()["error"]["message"]


def test_a_revoked_agent_token_stops_working_at_once(
    served: str, runtime: Runtime, agent_token: Callable[..., str]
) -> None:
    token = agent_token("triage-bot", "responder")

    async def session() -> None:
        async with _client(served, token) as agent:
            await scenario.ok(agent, "list_incidents")
            with runtime.db.write() as conn:
                token_id = auth.authenticate(conn, token, runtime.clock.now()).token_id
                assert token_id is not None
                auth.revoke_token(conn, token_id, runtime.clock.now())
            # The HTTP layer answers 401 before MCP sees the request.
            with pytest.raises(MCPError, match="error response"):
                await agent.call_tool("list_incidents", {})

    anyio.run(session)


def test_mcp_answers_503_when_the_app_is_not_served(runtime: Runtime) -> None:
    """The CLI's in-process app never starts the lifespan, so MCP is not running there."""
    from starlette.testclient import TestClient

    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    response = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


def test_stdio_server_in_front_of_a_remote_warroom(
    served: str, agent_token: Callable[..., str]
) -> None:
    """`warroom --server URL mcp`: stdio for the assistant, the REST API of a remote warroom."""
    import sys
    from pathlib import Path

    from mcp.client.stdio import StdioServerParameters

    token = agent_token("remote-bot", "responder")
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "warroom"),
        args=["--server", served, "mcp"],
        env={"WARROOM_TOKEN": token},
    )

    async def session() -> None:
        async with Client(params) as agent:
            declared = await scenario.ok(
                agent, "declare_incident", {"title": "Queue backlog", "severity": "SEV4"}
            )
            await scenario.ok(agent, "add_note", {"incident": declared["id"], "text": "draining"})
            timeline = await scenario.ok(agent, "get_timeline", {"incident": declared["id"]})
            assert {e["actor"] for e in timeline["events"]} == {"agent:remote-bot"}

    anyio.run(session)
