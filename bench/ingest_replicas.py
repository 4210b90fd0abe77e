"""Alert intake on PostgreSQL: one `warroom serve` replica, then two on the same database.

Starts N replicas of `warroom serve` (each with its embedded worker) on a fresh PostgreSQL
database, sends the same Alertmanager webhooks as `bench/ingest.py` over keep-alive
connections spread across the replicas (closed loop; one wrk per replica when wrk is installed,
else a client in this process), waits until the shared intake log is processed, and prints
accepted and processed alerts per second and the servers' CPU per alert.
It runs 1 replica, then 2, and prints the ratio: on a machine with cores to spare, aggregate
intake grows with replicas (every replica appends to the log; one processor at a time acts on
it, in order).

    python bench/ingest_replicas.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (
    FINGERPRINTS,
    GROUP_SIZE,
    Connection,
    Workload,
    add_client_option,
    backlog,
    cpu_seconds,
    free_port,
    launch_serve,
    percentile,
    setup,
    stop,
    uses_wrk,
    wrk_closed_loop,
)

from warroom.core.db import normalise_url, null_pool_engine

DATABASE = "warroom_bench_replicas"


def fresh_database(url: str) -> str:
    """A new, empty database next to `url`'s; returns its URL."""
    admin = null_pool_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return make_url(normalise_url(url)).set(database=DATABASE).render_as_string(False)


def start_replica(database_url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return launch_serve(data_dir, port, {"WARROOM_DATABASE_URL": database_url})


async def spread_closed_loop(
    ports: list[int], clients: int, seconds: float, make: Any
) -> tuple[int, int, list[float], int]:
    """`ingest.closed_loop`, with client i connected to replica i mod N."""
    requests = alerts = errors = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(port: int) -> None:
        nonlocal requests, alerts, errors
        conn = Connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                method, path, body, headers, count = make()
                started = time.perf_counter()
                status, _ = await conn.request(method, path, body, headers)
                latencies.append(time.perf_counter() - started)
                errors += status >= 300
                requests += 1
                alerts += count
        finally:
            conn.close()

    await asyncio.gather(*(client(ports[n % len(ports)]) for n in range(clients)))
    return requests, alerts, latencies, errors


async def wrk_spread(
    ports: list[int], clients: int, seconds: float, make: Any, workdir: Path
) -> tuple[int, int, list[float], int]:
    """`spread_closed_loop` through one wrk per replica, all at once. The latencies are each
    wrk's at every percentile, put together (close to the whole's when the rates are alike)."""
    shares = [clients // len(ports) + (n < clients % len(ports)) for n in range(len(ports))]
    dirs = [workdir / f"wrk{n}" for n in range(len(ports))]
    for found in dirs:
        found.mkdir()
    results = await asyncio.gather(
        *(
            wrk_closed_loop(port, share, seconds, make, where)
            for port, share, where in zip(ports, shares, dirs, strict=True)
        )
    )
    return (
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        [latency for r in results for latency in r[2]],
        sum(r[3] for r in results),
    )


async def measure(args: argparse.Namespace, replicas: int) -> float:
    database_url = fresh_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        ports = [free_port() for _ in range(replicas)]
        # The first replica migrates the database; the others start once it is up.
        servers = [start_replica(database_url, Path(tmp) / "r0", ports[0])]
        try:
            for n, port in enumerate(ports[1:], start=1):
                servers.append(start_replica(database_url, Path(tmp) / f"r{n}", port))
            key = await setup(ports[0])
            workload = Workload()
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

            def make() -> tuple[str, str, bytes, dict[str, str], int]:
                body, count = workload.webhook(args.size)
                return "POST", "/api/v1/alerts/alertmanager", body, headers, count

            conn = Connection("127.0.0.1", ports[0])
            for group in range(FINGERPRINTS // GROUP_SIZE):  # open every alert first
                body, _count = workload.webhook(GROUP_SIZE, group)
                await conn.request("POST", "/api/v1/alerts/alertmanager", body, headers)
            conn.close()
            while await backlog(ports[0]):
                await asyncio.sleep(0.05)
            cpu_before = sum(cpu_seconds(s.pid) for s in servers)
            if args.use_wrk:
                result = await wrk_spread(ports, args.clients, args.seconds, make, Path(tmp))
            else:
                result = await spread_closed_loop(ports, args.clients, args.seconds, make)
            requests, alerts, latencies, errors = result
            started = time.perf_counter()
            while await backlog(ports[0]):
                await asyncio.sleep(0.05)
            caught_up = time.perf_counter() - started
            spent = sum(cpu_seconds(s.pid) for s in servers) - cpu_before
        finally:
            for server in servers:
                stop(server)
    rate = alerts / args.seconds
    print(
        f"{replicas} replica(s): {requests / args.seconds:7.0f} req/s {rate:8.0f} alerts/s accepted"
        f"  p50 {percentile(latencies, 50) * 1000:5.1f} ms  p99 "
        f"{percentile(latencies, 99) * 1000:6.1f} ms  errors {errors}  processed"
        f" {alerts / (args.seconds + caught_up):8.0f} alerts/s (caught up {caught_up:.1f} s after)"
        f"  server CPU {spent / max(alerts, 1) * 1e6:5.0f} us/alert"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server's URL")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--size", type=int, default=10, help="alerts per webhook")
    add_client_option(parser)
    args = parser.parse_args()
    args.use_wrk = uses_wrk(args)
    print(
        f"load generator: {'wrk, one per replica' if args.use_wrk else 'this process'}; "
        f"warroom serve on PostgreSQL, {args.clients} clients, {args.size} alerts per webhook, "
        f"{args.seconds:g} s, {os.cpu_count()} CPUs shared by clients and servers"
    )
    one = asyncio.run(measure(args, 1))
    two = asyncio.run(measure(args, 2))
    print(f"RATIO 2 replicas / 1 replica, accepted alerts/s: {two / one:6.2f}")


if __name__ == "__main__":
    main()
