"""Alert intake benchmark against a real `warroom serve` on SQLite (issue: alert intake).

Starts `warroom serve` (uvicorn, embedded worker, SQLite with synchronous=FULL) in a temporary
data dir, creates an Alertmanager integration, then measures with keep-alive HTTP clients:

  1. ceiling: requests/s on a no-op endpoint (`GET /healthz`) with the same client;
  2. throughput: C concurrent clients post Alertmanager v4 webhooks (groups of 1-20 alerts
     over 2,000 distinct fingerprints in 100 groups, 20% warnings; repeats, and 2% of alerts
     per notification resolving or firing again) as fast as the server answers -> alerts/s,
     p50/p99 (after a warm-up that opens all 2,000 alerts and their incidents);
  3. latency at a fixed 1,000 alerts/s (open loop: 100 webhooks/s of 10 alerts) -> p50/p99;
  4. single-alert webhooks as fast as possible -> requests/s vs the ceiling;
  5. the same webhooks through the intake service without HTTP (parse + group commit), to
     separate the storage path from the web server's cost.

    python bench/ingest.py                     # 10 s per phase, 32 clients
    python bench/ingest.py --seconds 5 --clients 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ADMIN = "wr_bench_admin_token_0123456789abcdef"
FINGERPRINTS = 2000
GROUP_SIZE = 20


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


class Connection:
    """A minimal keep-alive HTTP/1.1 client (the load generator must cost less than the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", "Connection: keep-alive"]
        for key, value in (headers or {}).items():
            head.append(f"{key}: {value}")
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Workload:
    """Alertmanager notifications over 2,000 fingerprints in groups of up to 20."""

    def __init__(self, seed: int = 11, churn: float = 0.02) -> None:
        self.churn = churn  # chance per alert per notification that it resolves or re-fires
        self.rng = random.Random(seed)
        self.base = datetime.now(UTC) - timedelta(minutes=5)
        self.episode = [0] * FINGERPRINTS  # bumps on resolve: the next firing is a new alert
        self.firing = [True] * FINGERPRINTS

    def webhook(self, size: int | None = None, group: int | None = None) -> tuple[bytes, int]:
        group = self.rng.randrange(FINGERPRINTS // GROUP_SIZE) if group is None else group
        size = size or self.rng.randint(1, GROUP_SIZE)
        members = self.rng.sample(range(GROUP_SIZE), size)
        alerts = []
        for member in members:
            fp = group * GROUP_SIZE + member
            if self.rng.random() < self.churn:
                self.firing[fp] = not self.firing[fp]
                if self.firing[fp]:
                    self.episode[fp] += 1
            starts = self.base + timedelta(seconds=self.episode[fp])
            severity = "warning" if group % 5 == 4 else "critical"
            alerts.append(
                {
                    "status": "firing" if self.firing[fp] else "resolved",
                    "labels": {
                        "alertname": f"Alert{group}",
                        "service": f"svc-{group % 20}",
                        "instance": f"pod-{member}",
                        "severity": severity,
                    },
                    "annotations": {"summary": f"group {group} member {member} misbehaves"},
                    "startsAt": starts.isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": f"{fp:016x}",
                }
            )
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="Alert{group}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "warroom",
            "groupLabels": {"alertname": f"Alert{group}"},
            "commonLabels": {"alertname": f"Alert{group}"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
        return json.dumps(body).encode(), len(alerts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WARROOM_DATA_DIR": str(data_dir),
        "WARROOM_ADMIN_TOKEN": ADMIN,
        "WARROOM_PORT": str(port),
    }
    for name in ("WARROOM_DATABASE_URL", "WARROOM_CONFIG"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                message = proc.stderr.read().decode() if proc.stderr else "died"
                raise RuntimeError(message) from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("warroom serve did not start")


async def setup(port: int) -> str:
    conn = Connection("127.0.0.1", port)
    body = json.dumps(
        {"name": "bench", "kind": "alertmanager", "options": {"rate_limit": 0}}
    ).encode()
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    for _ in range(50):
        status, payload = await conn.request("POST", "/api/v1/integrations", body, headers)
        if status == 201:
            conn.close()
            return str(json.loads(payload)["key"])
        await asyncio.sleep(0.2)
    raise RuntimeError(f"could not create the integration: {status} {payload[:200]!r}")


async def closed_loop(
    port: int, clients: int, seconds: float, make: Any
) -> tuple[int, int, list[float], int]:
    """Each client sends its next request as soon as the previous one is answered."""
    requests = alerts = errors = 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal requests, alerts, errors
        conn = Connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                method, path, body, headers, count = make()
                started = time.perf_counter()
                status, _ = await conn.request(method, path, body, headers)
                latencies.append(time.perf_counter() - started)
                if status >= 300:
                    errors += 1
                requests += 1
                alerts += count
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return requests, alerts, latencies, errors


async def open_loop(
    port: int, rate: float, seconds: float, make: Any, connections: int = 64
) -> tuple[int, int, list[float], int]:
    """Requests start on a fixed schedule whatever the server does (no coordinated omission)."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection("127.0.0.1", port))
    latencies: list[float] = []
    counts = {"requests": 0, "alerts": 0, "errors": 0}

    async def one(scheduled: float) -> None:
        method, path, body, headers, count = make()
        conn = await pool.get()
        try:
            status, _ = await conn.request(method, path, body, headers)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)
        counts["requests"] += 1
        counts["alerts"] += count
        if status >= 300:
            counts["errors"] += 1

    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return counts["requests"], counts["alerts"], latencies, counts["errors"]


def report(name: str, seconds: float, result: tuple[int, int, list[float], int]) -> float:
    requests, alerts, latencies, errors = result
    rps = requests / seconds
    print(
        f"{name:<34} {rps:8.0f} req/s  {alerts / seconds:8.0f} alerts/s  "
        f"p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:6.1f} ms  errors {errors}"
    )
    return rps


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        port = free_port()
        server = start_server(Path(tmp) / "data", port)
        try:
            key = await setup(port)
            workload = Workload()
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

            def noop() -> tuple[str, str, bytes, dict[str, str], int]:
                return "GET", "/healthz", b"", {}, 0

            def webhook() -> tuple[str, str, bytes, dict[str, str], int]:
                body, count = workload.webhook()
                return "POST", "/api/v1/alerts/alertmanager", body, headers, count

            def webhook10() -> tuple[str, str, bytes, dict[str, str], int]:
                body, count = workload.webhook(10)
                return "POST", "/api/v1/alerts/alertmanager", body, headers, count

            def single() -> tuple[str, str, bytes, dict[str, str], int]:
                body, count = workload.webhook(1)
                return "POST", "/api/v1/alerts/alertmanager", body, headers, count

            # Warm up: open the 2,000 fingerprints' alerts and their incidents.
            groups = iter(range(FINGERPRINTS // GROUP_SIZE))

            def whole_group() -> tuple[str, str, bytes, dict[str, str], int]:
                body, count = workload.webhook(GROUP_SIZE, next(groups, 0))
                return "POST", "/api/v1/alerts/alertmanager", body, headers, count

            conn = Connection("127.0.0.1", port)
            for _ in range(FINGERPRINTS // GROUP_SIZE):
                method, path, body, hdrs, _count = whole_group()
                await conn.request(method, path, body, hdrs)
            conn.close()
            await closed_loop(port, args.clients, 2, webhook)
            print(
                f"warroom serve on SQLite (synchronous=FULL), {args.clients} clients, "
                f"{args.seconds:g} s per phase, {os.cpu_count()} CPUs shared by client and server"
            )
            ceiling = report(
                "no-op GET /healthz (ceiling)",
                args.seconds,
                await closed_loop(port, args.clients, args.seconds, noop),
            )
            report(
                "Alertmanager webhooks (1-20 alerts)",
                args.seconds,
                await closed_loop(port, args.clients, args.seconds, webhook),
            )
            report(
                "at 1,000 alerts/s (100 x 10/s)",
                args.seconds,
                await open_loop(port, 100, args.seconds, webhook10),
            )
            single_rps = report(
                "single-alert webhooks",
                args.seconds,
                await closed_loop(port, args.clients, args.seconds, single),
            )
            print(f"single-alert posts at {100 * single_rps / ceiling:.0f}% of the no-op rate")
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def in_process(seconds: float) -> None:
    """Parse + ingest through AlertService and its group-commit writer, no HTTP."""
    from warroom.alerts import domain
    from warroom.core.auth import SYSTEM
    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        runtime = Runtime.build(Settings(data_dir=Path(tmp), config=None, database_url=None))
        svc = runtime.alerts
        integration, _ = svc.create_integration(SYSTEM, "bench", "alertmanager", {})
        workload = Workload()
        for group in range(FINGERPRINTS // GROUP_SIZE):
            body, _ = workload.webhook(GROUP_SIZE, group)
            svc.ingest(integration, domain.parse_alertmanager(json.loads(body)))
        bodies = [workload.webhook() for _ in range(20_000)]
        alerts = requests = 0
        started = time.perf_counter()
        pending = []
        for raw, count in bodies:
            pending.append(
                svc.ingest_future(integration, domain.parse_alertmanager(json.loads(raw)))
            )
            alerts += count
            requests += 1
            if len(pending) >= 256:
                for future in pending:
                    future.result()
                pending.clear()
            if time.perf_counter() - started > seconds:
                break
        for future in pending:
            future.result()
        elapsed = time.perf_counter() - started
        svc.close()
        runtime.close()
    print(
        f"{'intake service, no HTTP':<34} {requests / elapsed:8.0f} req/s  "
        f"{alerts / elapsed:8.0f} alerts/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args))
    in_process(args.seconds)


if __name__ == "__main__":
    main()
