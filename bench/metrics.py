"""Metrics benchmark (issue: metrics and insights).

Loads N incidents and M events in bulk (projection rows and timeline events, as
bench/incidents.py does): every incident has real milestone events (declared, acknowledged,
mitigated, resolved for 90%), status updates with promised next times, some reopens,
milestone corrections and backdated acknowledgements, and notes to reach M events. Then
rows are written in bulk, bypassing the incident service, so the per-incident metrics rows are
filled the way an existing database gets them: `warroom metrics rebuild` (timed here). Then
measures the full report (every figure, weekly trend, flagged list) through MetricsService:

    python bench/metrics.py                       # 100,000 incidents, 2,000,000 events, SQLite
    python bench/metrics.py --incidents 10000 --events 200000          # quicker
    python bench/metrics.py --dir D --reuse       # measure the database an earlier run left in D
    python bench/metrics.py --check               # also compare with the reference computation
    python bench/metrics.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_metrics
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from warroom.core import migrate, tables
from warroom.core.clock import FixedClock
from warroom.core.config import ServiceConfig, default_config
from warroom.core.db import Database, normalise_url, null_pool_engine
from warroom.incidents.model import Event, apply, initial_state
from warroom.incidents.service import IncidentService
from warroom.metrics import charts
from warroom.metrics.exposition import render
from warroom.metrics.service import MetricsService
from warroom.policy.loader import load_preset

SERVICES = [f"svc-{n:02d}" for n in range(20)]
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]
TYPES = ["service_outage", "performance_degradation", "deployment_related", "data_loss"]
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def timeline(n: int, rng: random.Random, size: int) -> tuple[list[Event], list[datetime]]:
    """Events of one incident and, in parallel, their recorded_at times."""
    when = BASE + timedelta(minutes=5 * n)
    detected = when - timedelta(minutes=rng.randint(0, 30))
    started = detected - timedelta(minutes=rng.randint(0, 60))
    events = [
        Event(
            "declared",
            "bench",
            when,
            {
                "public_id": f"INC-{when:%Y%m%d}-{n:06d}",
                "title": f"incident {n}",
                "severity": rng.choice(SEVERITIES),
                "type": rng.choice(TYPES),
                "services": [rng.choice(SERVICES)],
                "started_at": started.isoformat(),
                "detected_at": detected.isoformat(),
                "impact": {"revenue_per_hour": rng.choice([None, 500.0, 5000.0])},
            },
        )
    ]
    recorded = [when]
    t = when

    def add(kind: str, data: dict[str, Any], gap_minutes: int, late: int = 0) -> None:
        nonlocal t
        t = t + timedelta(minutes=gap_minutes)
        events.append(Event(kind, "bench", t, data))
        recorded.append(t + timedelta(minutes=late))

    backdated = rng.random() < 0.01
    add("acknowledged", {}, rng.randint(1, 40), late=30 if backdated else 0)
    for _ in range(rng.randint(1, 4)):
        add(
            "status_update_published",
            {"next_update_at": (t + timedelta(minutes=45)).isoformat()},
            rng.randint(5, 50),
        )
    resolved = rng.random() < 0.9
    if resolved:
        add("status_changed", {"to": "monitoring"}, rng.randint(5, 120))
        add("resolved", {"summary": "fixed", "checklist": {}}, rng.randint(5, 240))
        if rng.random() < 0.02:
            add("reopened", {"reason": "again"}, 60)
            add("resolved", {"summary": "fixed", "checklist": {}}, 90)
        if rng.random() < 0.3:
            add("postmortem_published", {}, 60 * 24)
    if rng.random() < 0.01:
        add(
            "milestone_corrected",
            {"milestone": "detected_at", "at": (detected - timedelta(minutes=5)).isoformat()},
            1,
        )
    while len(events) < size:
        add("note_added", {"text": "working on it"}, 1)
    return events, recorded


def load(db: Database, service: IncidentService, incidents: int, events: int) -> int:
    rng = random.Random(7)
    per_incident = max(8, events // incidents)
    incident_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    service_rows: list[dict[str, Any]] = []
    written = 0
    started = time.perf_counter()
    for n in range(1, incidents + 1):
        items, recorded = timeline(n, rng, per_incident)
        state = initial_state(items[0])
        for event in items[1:]:
            if event.type != "note_added":
                state = apply(state, event)
        row = service._projection(state, items[-1].occurred_at)
        incident_rows.append({"id": n, "version": len(items), **row})
        service_rows.extend({"service": s, "incident_id": n} for s in state.services)
        event_rows.extend(
            {
                "incident_id": n,
                "seq": seq,
                "type": e.type,
                "actor": e.actor,
                "occurred_at": e.occurred_at,
                "recorded_at": at,
                "data": dict(e.data),
            }
            for seq, (e, at) in enumerate(zip(items, recorded, strict=True), start=1)
        )
        if len(event_rows) >= 50_000 or n == incidents:
            with db.write() as conn:
                conn.execute(insert(tables.incidents), incident_rows)
                conn.execute(insert(tables.incident_services), service_rows)
                conn.execute(insert(tables.events), event_rows)
            written += len(event_rows)
            incident_rows, event_rows, service_rows = [], [], []
    print(
        f"loaded {incidents:,} incidents, {written:,} events "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return written


def fresh_postgres(url: str) -> str:
    target = make_url(normalise_url(url))
    admin = null_pool_engine(target.set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", default=None, help="PostgreSQL URL (recreated); default SQLite")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database an earlier run loaded (--dir)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare every report with the reference path"
    )
    args = parser.parse_args()

    if args.url:
        url = fresh_postgres(args.url) if not args.reuse else normalise_url(args.url)
        label = "postgresql"
    else:
        workdir = Path(args.dir or tempfile.mkdtemp(prefix="warroom-bench-"))
        path = workdir / "metrics.db"
        if not args.reuse:
            path.unlink(missing_ok=True)
        url, label = f"sqlite:///{path}", f"sqlite {path}"
    policy = load_preset("default")
    loader = Database(url, sqlite_synchronous="OFF")
    clock = FixedClock(BASE)
    migrate.upgrade(loader)  # a reused database gets the migrations it lacks
    if not args.reuse:
        load(loader, IncidentService(loader, clock, policy), args.incidents, args.events)
    t, c = time.perf_counter(), time.process_time()
    written = MetricsService(loader, clock, policy, default_config()).rebuild()
    print(
        f"metrics rebuild: {written:,} rows in {time.perf_counter() - t:.1f} s "
        f"({time.process_time() - c:.1f} s CPU)"
    )
    # Planner statistics as a settled database has them (autovacuum does this on PostgreSQL;
    # VACUUM also lets the period scan read the incidents index alone).
    if args.url:
        with loader.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with loader.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    with loader.engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    loader.dispose()
    print(f"database: {label}, {total:,} events")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    db = Database(url)
    config = default_config().model_copy(
        update={
            "services": tuple(
                ServiceConfig(name=s, owner_team=f"team-{n % 5}") for n, s in enumerate(SERVICES)
            )
        }
    )
    clock.set(BASE + timedelta(minutes=5 * args.incidents + 60 * 24 * 7))
    metrics = MetricsService(db, clock, policy, config)
    since, until = BASE - timedelta(days=1), clock.now()
    for by in ("severity", "service", "team", "type", "week"):
        timings, cpu = [], []
        for _ in range(args.runs):
            t, c = time.perf_counter(), time.process_time()
            data = metrics.report(since, until, by=by)
            timings.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        print(
            f"full report by {by:<8} over {data['overall']['incidents']:,} incidents: "
            f"median {statistics.median(timings):.3f} s wall "
            f"({statistics.median(cpu):.3f} s CPU), max {max(timings):.3f} s   (target < 1 s)"
        )
        if args.check:
            # The reference computation lives with the tests (tests/metrics/reference.py).
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.metrics.reference import reference_report

            t = time.perf_counter()
            reference = reference_report(metrics, since, until, by=by)
            same = reference == data
            print(
                f"  reference path: {time.perf_counter() - t:.3f} s wall, "
                f"{'the same report' if same else 'DIFFERENT REPORT'}"
            )
            if not same:
                raise SystemExit(1)
    overall = data["overall"]
    print(
        f"  flagged {data['flagged']['total']:,} {overall['flags']}, "
        f"MTTR median {overall['figures']['mttr']['median'] / 60:.0f} min, "
        f"SLA compliance {overall['sla']['compliance']:.1%}, "
        f"update cadence {overall['update_cadence']['compliance']:.1%}, "
        f"{len(data['weekly'])} weeks"
    )
    t = time.perf_counter()
    for name in charts.CHARTS:
        charts.svg(name, data)
    print(f"three SVG charts from the report: {(time.perf_counter() - t) * 1000:.1f} ms")

    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings

    runtime = Runtime(
        settings=Settings(database_url=url),
        config=config,
        policy=policy,
        db=db,
        clock=clock,
        incidents=IncidentService(db, clock, policy),
    )
    timings = []
    for _ in range(args.runs):
        t = time.perf_counter()
        render(runtime, None)
        timings.append(time.perf_counter() - t)
    print(f"/metrics exposition: median {statistics.median(timings) * 1000:.1f} ms")
    db.dispose()


if __name__ == "__main__":
    main()
