"""Incident store benchmark on SQLite (issue: foundation).

Loads N incidents and M events (one incident gets a 10,000-event timeline), then measures
through the real service:
  - reading that incident's whole timeline,
  - the 50 newest open SEV1/SEV2 incidents for one service,
  - declaring an incident (p50/p99, with the default durable `synchronous=FULL`).

    python bench/incidents.py                     # 100,000 incidents, 2,000,000 events
    python bench/incidents.py --incidents 10000 --events 200000   # quicker
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from warroom.core import migrate, tables
from warroom.core.auth import Principal
from warroom.core.clock import SystemClock
from warroom.core.db import Database
from warroom.incidents import schemas
from warroom.incidents.model import Event, apply, initial_state
from warroom.incidents.service import IncidentService
from warroom.policy.loader import load_preset

SERVICES = [f"svc-{n:02d}" for n in range(20)]
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]
BIG_TIMELINE = 10_000


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def load(db: Database, service: IncidentService, incidents: int, events: int) -> None:
    rng = random.Random(7)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    per_incident, remainder = divmod(max(0, events - BIG_TIMELINE), max(1, incidents - 1))
    per_incident = max(1, per_incident)
    incident_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    service_rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for n in range(1, incidents + 1):
        when = base + timedelta(minutes=5 * n)
        svc = rng.choice(SERVICES)
        count = BIG_TIMELINE if n == 1 else per_incident + (1 if n - 2 < remainder else 0)
        declared = Event(
            "declared",
            "bench",
            when,
            {
                "public_id": f"INC-{when:%Y%m%d}-{n:06d}",
                "title": f"incident {n}",
                "severity": rng.choice(SEVERITIES),
                "type": "service_outage",
                "services": [svc],
            },
        )
        timeline = [declared]
        resolved = rng.random() < 0.9 and n != 1
        for k in range(1, count):
            kind = "resolved" if resolved and k == count - 1 else "note_added"
            data = (
                {"summary": "fixed", "checklist": {}} if kind == "resolved" else {"text": f"n{k}"}
            )
            timeline.append(Event(kind, "bench", when + timedelta(seconds=k), data))
        state = initial_state(declared)
        for event in timeline[1:]:
            state = apply(state, event)
        row = service._projection(state, when)
        incident_rows.append({"id": n, "version": len(timeline), **row})
        service_rows.append({"service": svc, "incident_id": n})
        event_rows.extend(
            {
                "incident_id": n,
                "seq": seq,
                "type": e.type,
                "actor": e.actor,
                "occurred_at": e.occurred_at,
                "recorded_at": e.occurred_at,
                "data": dict(e.data),
            }
            for seq, e in enumerate(timeline, start=1)
        )
        if len(event_rows) >= 50_000 or n == incidents:
            with db.write() as conn:
                if incident_rows:
                    conn.execute(insert(tables.incidents), incident_rows)
                    conn.execute(insert(tables.incident_services), service_rows)
                conn.execute(insert(tables.events), event_rows)
            incident_rows, event_rows, service_rows = [], [], []
    print(f"loaded {incidents:,} incidents in {time.perf_counter() - started:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--declares", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database already loaded in --dir"
    )
    args = parser.parse_args()

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="warroom-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "bench.db"
    policy = load_preset("default")
    loader_db = Database(f"sqlite:///{path}", sqlite_synchronous="OFF")
    if not (args.reuse and path.exists()):
        loader_db.dispose()
        path.unlink(missing_ok=True)
        loader_db = Database(f"sqlite:///{path}", sqlite_synchronous="OFF")
        migrate.upgrade(loader_db)
        service = IncidentService(loader_db, SystemClock(), policy)
        load(loader_db, service, args.incidents, args.events)
    migrate.upgrade(loader_db)
    with loader_db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        total_events = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    loader_db.dispose()
    print(f"database: {path} ({path.stat().st_size / 1e6:.0f} MB), {total_events:,} events")

    db = Database(f"sqlite:///{path}")  # default durable settings
    service = IncidentService(db, SystemClock(), policy)
    principal = Principal(name="bench", scopes=frozenset({"responder"}))
    big_id = f"INC-{datetime(2025, 1, 1, 0, 5, tzinfo=UTC):%Y%m%d}-{1:06d}"  # incident n=1

    timings: list[float] = []
    for _ in range(20):
        t = time.perf_counter()
        events = service.timeline(big_id)
        timings.append((time.perf_counter() - t) * 1000)
    assert len(events) == BIG_TIMELINE
    print(
        f"timeline of {len(events):,} events: median {statistics.median(timings):.1f} ms, "
        f"max {max(timings):.1f} ms   (target < 100 ms)"
    )

    timings = []
    for n in range(200):
        flt = schemas.ListFilter(
            service=SERVICES[n % len(SERVICES)], severity=["SEV1", "SEV2"], open=True, limit=50
        )
        t = time.perf_counter()
        page = service.search(flt)
        timings.append((time.perf_counter() - t) * 1000)
    print(
        f"50 newest open SEV1/SEV2 for a service ({len(page.items)} rows): "
        f"median {statistics.median(timings):.2f} ms, p99 {percentile(timings, 99):.2f} ms   "
        "(target < 50 ms)"
    )

    timings = []
    for n in range(args.declares):
        request = schemas.DeclareIn(
            title=f"bench declare {n}", severity="SEV2", services=[SERVICES[n % len(SERVICES)]]
        )
        t = time.perf_counter()
        service.declare(principal, request)
        timings.append((time.perf_counter() - t) * 1000)
    print(
        f"declare ({args.declares} sequential, synchronous=FULL): "
        f"p50 {percentile(timings, 50):.2f} ms, p99 {percentile(timings, 99):.2f} ms   "
        "(target p99 < 20 ms)"
    )
    db.dispose()


if __name__ == "__main__":
    main()
