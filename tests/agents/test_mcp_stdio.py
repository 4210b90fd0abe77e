"""A real MCP client session over stdio: `warroom mcp` spawned on a temp data dir (SQLite), and
on the PostgreSQL test database when it is configured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.agents import scenario
from warroom.core import auth
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

WARROOM = str(Path(sys.executable).parent / "warroom")


def _tokens(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=database_url, config=None))
    made: dict[str, str] = {}
    try:
        with runtime.db.write() as conn:
            for key, name, scopes, kind in (
                ("responder", "triage-bot", ["responder"], "agent"),
                ("viewer", "watch-bot", ["viewer"], "agent"),
                ("person", "alice", ["responder"], "token"),
            ):
                _, made[key] = auth.create_token(
                    conn,
                    name=name,
                    scopes=scopes,
                    created_by="tests",
                    now=runtime.clock.now(),
                    kind=kind,
                )
    finally:
        runtime.close()
    return made


def _params(data_dir: Path, token: str, database_url: str | None = None) -> StdioServerParameters:
    env = {"WARROOM_DATA_DIR": str(data_dir), "WARROOM_TOKEN": token}
    if database_url is not None:
        env["WARROOM_DATABASE_URL"] = database_url
    return StdioServerParameters(command=WARROOM, args=["mcp"], env=env)


@pytest.mark.slow
def test_an_agent_works_an_incident_over_stdio(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    url = None if database_url.startswith("sqlite") else database_url
    tokens = _tokens(data_dir, url)

    async def session() -> None:
        async with Client(_params(data_dir, tokens["responder"], url)) as agent:
            incident = await scenario.work_an_incident(agent, "triage-bot")
            await scenario.resources_and_prompts(agent, incident)
        async with Client(_params(data_dir, tokens["viewer"], url)) as viewer:
            await scenario.viewer_is_read_only(viewer, incident)

    anyio.run(session)


@pytest.mark.parametrize(
    ("token", "message"),
    [("person", "is not an agent token"), (None, "unauthorized: invalid or revoked token")],
)
def test_stdio_refuses_to_start_without_an_agent_token(
    tmp_path: Path, token: str | None, message: str
) -> None:
    data_dir = tmp_path / "data"
    tokens = _tokens(data_dir)
    value = tokens[token] if token else "wr_not-a-token"
    result = subprocess.run(
        [WARROOM, "mcp", "--token", value],
        env={"WARROOM_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert message in result.stderr
