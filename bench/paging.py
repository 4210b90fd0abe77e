"""Paging during an alert storm: how long from a webhook to the on-call person's page.

Starts `warroom serve` (SQLite, embedded worker) with 20 services on one escalation policy whose
first level is a schedule with one person, paged through Apprise `json://` to a receiver in
this process. Then sends, on a fixed schedule (open loop), webhooks that each open a new alert
group, so each declares an incident that pages; and times each page from its webhook's send to
its arrival at the receiver.

    python bench/paging.py                    # 200 new incidents/s for 10 s
    python bench/paging.py --rate 50 --seconds 5
    python bench/paging.py --worker-process          # the worker in a process of its own
    python bench/paging.py --tree /tmp/warroom-old   # another checkout's code (a worktree)

The machine's speed drifts by up to a factor of two within half an hour: to compare two
versions of the code, alternate runs of each (`--tree` for one of them) and compare pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from ingest import (
    ADMIN,
    Connection,
    checkout,
    cpu_seconds,
    free_port,
    launch_serve,
    open_loop,
    percentile,
    stop,
)

SERVICES = 20
CONFIG = {
    "policy": "default",
    "services": [{"name": f"svc-{n}", "escalation_policy": "bench"} for n in range(SERVICES)],
    "oncall": {"fallback_contacts": []},
}
MARK = re.compile(rb"storm-(\d+)-end")


class Receiver:
    """A minimal HTTP server that notes when each page arrives."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests in turn on one connection, kept open for the next as most web servers do,
        until the sender closes it or asks to."""
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                length, close = 0, False
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b""):
                        break
                    name, _, value = header.decode().partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value.strip())
                    elif name == "connection":
                        close = value.strip().lower() == "close"
                body = await reader.readexactly(length) if length else b""
                now = time.perf_counter()
                self.requests += 1
                for found in MARK.finditer(body):
                    self.arrived.setdefault(int(found.group(1)), now)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # The bench is over while a sender still holds its connection open.
            return
        finally:
            writer.close()


def serve_receiver() -> None:
    """A receiver alone (for a bench that measures its own process): prints its port, then
    answers until it is killed."""

    async def serve() -> None:
        listener = await asyncio.start_server(Receiver().handle, "127.0.0.1", 0)
        print(listener.sockets[0].getsockname()[1], flush=True)
        await listener.serve_forever()

    asyncio.run(serve())


def start_server(
    data_dir: Path, port: int, worker_process: bool = False, tree: str | None = None
) -> subprocess.Popen[bytes]:
    """`warroom serve` with the bench's catalog; `tree`: the checkout whose code it runs."""
    config = data_dir.parent / "warroom.yaml"
    config.write_text(json.dumps(CONFIG))  # YAML is a superset of JSON
    extra = ["--worker-process"] if worker_process else []
    return launch_serve(data_dir, port, {"WARROOM_CONFIG": str(config)}, *extra, tree=tree)


async def api(port: int, method: str, path: str, body: Any) -> Any:
    conn = Connection("127.0.0.1", port)
    try:
        status, payload = await conn.request(
            method,
            path,
            json.dumps(body).encode(),
            {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
    finally:
        conn.close()
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {payload[:300]!r}")
    return json.loads(payload) if payload else None


def catalog(hook: str) -> list[tuple[str, dict[str, Any]]]:
    """The API requests that set the bench's on-call up, the integration last: one person
    paged through `hook` (an Apprise URL), on a schedule, first level of the policy `bench`."""
    layer = {"users": ["oncall"], "start": "2026-01-05T09:00", "shift_unit": "weeks"}
    return [
        (
            "/api/v1/oncall/people",
            {"name": "oncall", "contact_methods": [{"name": "hook", "url": hook}]},
        ),
        ("/api/v1/oncall/schedules", {"name": "primary", "timezone": "UTC", "layers": [layer]}),
        (
            "/api/v1/oncall/escalation-policies",
            {"name": "bench", "levels": [{"delay_minutes": 30, "targets": ["schedule:primary"]}]},
        ),
        (
            "/api/v1/integrations",
            {"name": "bench", "kind": "alertmanager", "options": {"rate_limit": 0}},
        ),
    ]


async def set_up(port: int, receiver_port: int) -> str:
    """The catalog, through the server's API; returns the integration's key."""
    made: Any = None
    for path, body in catalog(f"json://127.0.0.1:{receiver_port}/page"):
        made = await api(port, "POST", path, body)
    return str(made["key"])


def webhook(n: int) -> bytes:
    """One critical alert of a group of its own: a new incident, which pages."""
    labels = {"alertname": f"Storm{n}", "service": f"svc-{n % SERVICES}", "severity": "critical"}
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="Storm{n}"}}',
            "status": "firing",
            "receiver": "warroom",
            "groupLabels": {"alertname": f"Storm{n}"},
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": f"storm-{n}-end"},
                    "startsAt": "2026-12-07T03:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"{n:016x}",
                }
            ],
        }
    ).encode()


async def run(args: argparse.Namespace) -> None:
    receiver = Receiver()
    listener = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver_port = listener.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        port = free_port()
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp) / "data"
        server = start_server(data_dir, port, args.worker_process, args.tree)
        try:
            key = await set_up(port, receiver_port)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            sent: dict[int, float] = {}
            counter = iter(range(10**9))

            def make() -> tuple[str, str, bytes, dict[str, str], int]:
                n = next(counter)
                sent[n] = time.perf_counter()
                return "POST", "/api/v1/alerts/alertmanager", webhook(n), headers, 1

            # Warm up: a few incidents, all paged, before the clock starts.
            for _ in range(5):
                await open_loop(port, 5, 1, make)
            deadline = time.perf_counter() + 30
            while len(receiver.arrived) < len(sent) and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            warm = set(sent)
            cpu_before = cpu_seconds(server.pid)
            result = await open_loop(port, args.rate, args.seconds, make)
            wanted = [n for n in sent if n not in warm]
            deadline = time.perf_counter() + args.wait
            while time.perf_counter() < deadline and any(n not in receiver.arrived for n in wanted):
                await asyncio.sleep(0.1)
            cpu = cpu_seconds(server.pid) - cpu_before  # everything done for these incidents
            latencies = [receiver.arrived[n] - sent[n] for n in wanted if n in receiver.arrived]
            missing = len(wanted) - len(latencies)
            requests, _alerts, webhook_latencies, errors = result
            print(
                f"{args.rate:g} new incidents/s for {args.seconds:g} s: {requests} webhooks "
                f"(p99 {percentile(webhook_latencies, 99) * 1e3:.1f} ms, errors {errors}); "
                f"{len(latencies)} paged, {missing} not paged within {args.wait:g} s; "
                f"server CPU {cpu / max(len(wanted), 1) * 1e3:.1f} ms per incident"
            )
            print(
                f"TARGET paging p99 at {args.rate:g} new incidents/s: "
                f"{percentile(latencies, 99) * 1e3:.0f} ms (< 500 ms); "
                f"p50 {percentile(latencies, 50) * 1e3:.0f} ms, "
                f"max {max(latencies, default=float('nan')) * 1e3:.0f} ms"
            )
        finally:
            stop(server)
            listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="new incidents per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--wait", type=float, default=60.0, help="for pages after the load")
    parser.add_argument("--data-dir", help="keep the server's data here (to look into after)")
    parser.add_argument(
        "--tree", type=checkout, help="run the code of this checkout (e.g. a git worktree)"
    )
    parser.add_argument(
        "--worker-process", action="store_true", help="serve --worker-process (its own core)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
