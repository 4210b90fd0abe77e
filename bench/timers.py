"""Durable timer benchmark on SQLite (issue 4: on-call and paging).

1. Firing: N pending timers (outbox rows), of which D are due at once; one worker fires the
   due ones. Reports the firing rate and the lateness (fired - due) p50/p99. The handler is
   trivial, so this measures the outbox machinery (claim with lease, mark done), not delivery.
2. Paging latency: incidents declared at R per second on a service with an escalation policy;
   the worker runs the page step and hands each notification to the notifier (a recorder in
   place of Apprise). Reports declare → notifier p50/p99.

    python bench/timers.py                               # 100,000 timers, 10,000 due; 200/s
    python bench/timers.py --timers 20000 --due 2000 --seconds 5   # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from warroom.core import outbox, tables
from warroom.core.auth import SYSTEM, Principal
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.oncall import models, paging
from warroom.worker import Outcome, Worker


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def firing(data_dir: Path, total: int, due: int, batch: int, sync: str) -> None:
    settings = Settings(data_dir=data_dir / "firing", sqlite_synchronous=sync)
    runtime = Runtime.build(settings)
    now = datetime.now(UTC)

    def row(n: int, at: datetime) -> dict[str, Any]:
        return {
            "kind": "bench.timer",
            "payload": {"n": n},
            "status": outbox.PENDING,
            "due_at": at,
            "attempts": 0,
            "created_at": now,
            "dedup_key": f"bench:{n}",
        }

    later = [row(n, now + timedelta(days=1, seconds=n)) for n in range(due, total)]
    with runtime.db.write() as conn:
        for chunk in range(0, len(later), 5000):
            conn.execute(insert(tables.outbox), later[chunk : chunk + 5000])
    start_due = datetime.now(UTC) + timedelta(seconds=2)
    with runtime.db.write() as conn:  # the due ones last, all due at the same instant
        conn.execute(insert(tables.outbox), [row(n, start_due) for n in range(due)])
    lateness: list[float] = []

    def handler(rt: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
        lateness.append((datetime.now(UTC) - effect.due_at).total_seconds())
        return Outcome(True)

    handler.transactional = True  # type: ignore[attr-defined]
    worker = Worker(runtime, {"bench.timer": handler}, batch=batch)
    while datetime.now(UTC) < start_due:
        time.sleep(0.01)
    began = time.perf_counter()
    while len(lateness) < due:
        worker.run_once()
    elapsed = time.perf_counter() - began
    print(
        f"firing: {total:,} pending timers, {due:,} due at once, batch {batch} "
        f"(SQLite synchronous={sync}, 1 worker)"
    )
    print(f"  fired {len(lateness):,} in {elapsed:.2f} s = {len(lateness) / elapsed:,.0f}/s")
    print(
        f"  lateness p50 {percentile(lateness, 50):.3f} s, p99 {percentile(lateness, 99):.3f} s, "
        f"max {max(lateness):.3f} s"
    )
    runtime.close()


def paging_latency(data_dir: Path, rate: float, seconds: float, sync: str) -> None:
    config = parse_config(
        {"policy": "default", "services": [{"name": "api", "escalation_policy": "api"}]}
    )
    settings = Settings(
        data_dir=data_dir / "paging", worker_poll_seconds=0.02, sqlite_synchronous=sync
    )
    runtime = Runtime.build(settings, config=config)
    service = runtime.extras["oncall"]
    admin = Principal(name="bench", scopes=frozenset({"admin"}))
    service.create_person(
        admin,
        models.PersonIn(
            name="ann", contact_methods=[models.ContactMethod(url="json://127.0.0.1:9/x")]
        ),
    )
    service.create_policy(
        admin,
        models.EscalationPolicyIn(
            name="api", levels=[models.LevelIn(delay_minutes=5, targets=["person:ann"])]
        ),
    )
    declared: dict[str, float] = {}
    handed: dict[str, float] = {}

    def notifier(rt: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
        incident = str(effect.payload.get("incident"))
        handed.setdefault(incident, time.perf_counter())
        return Outcome(True)

    worker = Worker(runtime, {paging.NOTIFY: notifier}, batch=200)
    thread = threading.Thread(target=worker.run_forever, args=(0.02,), daemon=True)
    thread.start()
    interval = 1.0 / rate
    count = int(rate * seconds)
    began = time.perf_counter()
    behind = 0
    for n in range(count):
        target = began + n * interval
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        else:
            behind += 1
        t0 = time.perf_counter()
        state = runtime.incidents.declare(
            SYSTEM,
            schemas.DeclareIn(title=f"alert {n}", severity="SEV2", services=["api"]),
        )
        declared[state.public_id] = t0
    sent_for = time.perf_counter() - began
    deadline = time.perf_counter() + 30
    while len(handed) < count and time.perf_counter() < deadline:
        time.sleep(0.05)
    worker.stop()
    thread.join(timeout=5)
    latencies = [(handed[k] - declared[k]) * 1000 for k in declared if k in handed]
    print(
        f"paging: {count} incidents declared at {rate:g}/s target "
        f"(achieved {count / sent_for:.0f}/s; worker in the same process, "
        f"SQLite synchronous={sync})"
    )
    print(
        f"  declare → notifier: p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {percentile(latencies, 99):.0f} ms, handed {len(latencies)}/{count}"
    )
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="the worker's SQLite default")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sync", default="FULL", help="SQLite synchronous: FULL or NORMAL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        firing(Path(tmp), args.timers, args.due, args.batch, args.sync)
        paging_latency(Path(tmp), args.rate, args.seconds, args.sync)


if __name__ == "__main__":
    main()
