"""MCP tool-call latency (issue: agent interface), on a temp SQLite data dir.

Measures a real MCP client session against warroom:
  - HTTP: `/mcp` of the served app (uvicorn on loopback), stateless JSON mode;
  - stdio: a spawned `warroom mcp` process;
for a read tool (get_incident) and a write tool (add_note), p50/p99 and calls per second; and,
to tell server from client cost, the same tool as one raw JSON-RPC POST next to the REST GET.

    python bench/mcp_tools.py               # 300 calls per tool and transport
    python bench/mcp_tools.py --calls 100   # quicker
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


async def measure(label: str, calls: int, call: Callable[[], Awaitable[Any]]) -> None:
    for _ in range(5):  # warm-up
        await call()
    timings = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    print(
        f"{label:<28} p50 {statistics.median(timings):6.2f} ms   "
        f"p99 {percentile(timings, 99):6.2f} ms   {calls / total:7.1f} calls/s"
    )


async def exercise(client: Client, transport: str, calls: int) -> None:
    declared = await client.call_tool("declare_incident", {"title": "bench", "severity": "SEV3"})
    assert declared.structured_content is not None
    incident = declared.structured_content["id"]

    async def read() -> None:
        result = await client.call_tool("get_incident", {"incident": incident})
        assert not result.is_error

    async def write() -> None:
        result = await client.call_tool("add_note", {"incident": incident, "text": "tick"})
        assert not result.is_error

    await measure(f"{transport} get_incident", calls, read)
    await measure(f"{transport} add_note", calls, write)


def raw_baseline(url: str, token: str, calls: int) -> None:
    """Server-side cost: a REST GET vs the same read as one MCP tools/call POST."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        incident = http.post("/api/v1/incidents", json={"title": "raw", "severity": "SEV4"})
        public_id = incident.json()["id"]
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "get_incident", "arguments": {"incident": public_id}},
        }

        async def rest() -> None:
            assert http.get(f"/api/v1/incidents/{public_id}").status_code == 200

        async def rpc() -> None:
            assert http.post("/mcp", json=call).status_code == 200

        async def both() -> None:
            await measure("raw REST GET incident", calls, rest)
            await measure("raw MCP POST get_incident", calls, rpc)

        anyio.run(both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        runtime = Runtime.build(Settings(data_dir=data_dir, database_url=None, config=None))
        with runtime.db.write() as conn:
            _, token = auth.create_token(
                conn,
                name="bench-bot",
                scopes=["responder"],
                created_by="bench",
                now=runtime.clock.now(),
                kind="agent",
            )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        print(f"warroom MCP tool calls, SQLite, {args.calls} calls each, sequential")
        raw_baseline(f"http://127.0.0.1:{port}", token, args.calls)

        async def run_http() -> None:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)
            async with Client(transport) as client:
                await exercise(client, "http", args.calls)

        async def run_stdio() -> None:
            params = StdioServerParameters(
                command=str(Path(sys.executable).parent / "warroom"),
                args=["mcp"],
                env={"WARROOM_DATA_DIR": str(data_dir), "WARROOM_TOKEN": token},
            )
            async with Client(params) as client:
                await exercise(client, "stdio", args.calls)

        try:
            anyio.run(run_http)
            anyio.run(run_stdio)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            runtime.close()


if __name__ == "__main__":
    main()
