"""Workbench benchmark (issue: response workbench).

Measures on SQLite:
  - pure correlation scoring of N changes against one incident,
  - correlating an incident through the service with N changes in the table (indexed query
    plus scoring; p50/p99),
  - the command executor's overhead for a trivial command (`true`; p50/p99),
  - an HTTP step against a local server (p50/p99).

    python bench/workbench.py                 # 100,000 changes
    python bench/workbench.py --changes 10000 # quicker
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.workbench import executors
from warroom.workbench import tables as wt
from warroom.workbench.correlation import Change, correlate
from warroom.workbench.service import Workbench

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SERVICES = [f"svc-{n:02d}" for n in range(50)]
KINDS = ["deploy", "config", "flag", "infra"]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def timed(fn: Any, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), percentile(samples, 99)


def make_changes(count: int) -> list[dict[str, Any]]:
    rng = random.Random(11)
    rows = []
    for n in range(count):
        at = NOW - timedelta(minutes=rng.uniform(0, 60 * 24 * 60))  # 60 days back
        rows.append(
            {
                "service": rng.choice(SERVICES),
                "kind": rng.choice(KINDS),
                "version": f"v{n}",
                "by": "ci",
                "link": "",
                "description": "",
                "occurred_at": at,
                "recorded_at": at,
                "recorded_by": "ci",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100_000)
    args = parser.parse_args()
    rows = make_changes(args.changes)

    pure = [
        Change(n, r["service"], r["kind"], r["version"], r["occurred_at"])
        for n, r in enumerate(rows)
    ]
    deps = {s: (SERVICES[(i + 1) % len(SERVICES)],) for i, s in enumerate(SERVICES)}
    p50, p99 = timed(
        lambda: correlate(
            pure,
            services=["svc-01"],
            dependencies=deps,
            started_at=NOW,
            window=timedelta(hours=24),
        ),
        20,
    )
    print(f"pure correlate over {len(pure):,} changes: p50 {p50:.1f} ms, p99 {p99:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=None, config=None)
        config = parse_config(
            {
                "services": [{"name": s, "dependencies": list(deps[s])} for s in SERVICES],
                "runbooks": {"auto_run": False},
            }
        )
        runtime = Runtime.build(settings, clock=FixedClock(NOW), config=config)
        with runtime.db.write() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(insert(wt.changes), rows[start : start + 5000])
        workbench: Workbench = runtime.workbench
        state = runtime.incidents.declare(
            SYSTEM,
            schemas.DeclareIn(title="bench", severity="SEV2", services=["svc-01"]),
        )
        found = workbench.correlations(state)
        p50, p99 = timed(lambda: workbench.correlations(state), 200)
        print(
            f"correlate an incident with {len(rows):,} changes stored "
            f"({len(found)} in its 24h window): p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
        runtime.close()

    p50, p99 = timed(lambda: executors.run_command("true", timeout=5, env={}), 100)
    print(f"command step `true`: p50 {p50:.2f} ms, p99 {p99:.2f} ms")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    p50, p99 = timed(lambda: executors.http_check(url, timeout=5), 200)
    print(f"http step against 127.0.0.1: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
