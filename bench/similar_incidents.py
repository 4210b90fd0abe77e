"""Benchmark: similar-incident lookup over 100,000 past incidents (target p99 < 100 ms).

Fills a fresh database (SQLite by default, or --database-url) with synthetic incidents spread
over 60 services, alert fingerprints, labels, deploy correlations and post-mortems with root
causes, then times `SimilarityService.similar(public_id)` end to end: the incremental refresh
check, the index lookup with reasons, and the database reads for titles and action items.

    .venv/bin/python bench/similar_incidents.py [--incidents 100000] [--lookups 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from warroom.core import migrate, tables
from warroom.core.clock import SystemClock
from warroom.core.db import Database
from warroom.postmortems.similarity import SimilarityService
from warroom.postmortems.tables import action_items, postmortems

WORDS = [
    "checkout",
    "payments",
    "login",
    "search",
    "cart",
    "api",
    "gateway",
    "database",
    "replica",
    "queue",
    "worker",
    "cache",
    "timeout",
    "latency",
    "errors",
    "500",
    "502",
    "503",
    "outage",
    "degraded",
    "slow",
    "failing",
    "memory",
    "cpu",
    "disk",
    "full",
    "certificate",
    "expired",
    "dns",
    "resolution",
    "connection",
    "pool",
    "exhausted",
    "deadlock",
    "migration",
    "lock",
    "kafka",
    "consumer",
    "lag",
    "redis",
    "eviction",
    "oom",
    "kill",
    "deploy",
    "rollback",
    "config",
    "flag",
    "regression",
    "webhook",
    "retry",
    "storm",
    "rate",
    "limit",
    "throttling",
    "third-party",
    "provider",
    "stripe",
    "s3",
    "bucket",
    "region",
    "network",
    "partition",
    "packet",
    "loss",
    "load",
    "balancer",
    "health",
    "check",
    "crashloop",
    "pod",
    "node",
    "scheduler",
]
CAUSES = (
    "connection pool limit too low after release",
    "expired TLS certificate on the gateway",
    "feature flag enabled a slow query path",
    "disk filled with debug logs",
    "provider outage without a fallback",
    "schema migration took a table lock",
)


def fill(db: Database, count: int, seed: int) -> None:
    rng = random.Random(seed)
    services = [f"svc-{n:02d}" for n in range(60)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    pms: list[dict[str, object]] = []
    items: list[dict[str, object]] = []

    def flush(conn: object) -> None:
        if batch:
            conn.execute(insert(tables.incidents), batch)  # type: ignore[attr-defined]
        if events:
            conn.execute(insert(tables.events), events)  # type: ignore[attr-defined]
        if pms:
            conn.execute(insert(postmortems), pms)  # type: ignore[attr-defined]
        if items:
            conn.execute(insert(action_items), items)  # type: ignore[attr-defined]
        batch.clear()
        events.clear()
        pms.clear()
        items.clear()

    with db.write() as conn:
        for n in range(1, count + 1):
            at = start + timedelta(minutes=10 * n)
            chosen = rng.sample(services, rng.choice((1, 1, 1, 2)))
            title = " ".join(rng.sample(WORDS, 4))
            summary = " ".join(rng.sample(WORDS, 8))
            batch.append(
                {
                    "id": n,
                    "public_id": f"INC-{at:%Y%m%d}-{n:06d}",
                    "title": title,
                    "summary": summary,
                    "severity": rng.choice(("SEV1", "SEV2", "SEV3", "SEV4")),
                    "severity_rank": 2,
                    "type": "service_outage",
                    "status": "closed",
                    "is_open": False,
                    "services": chosen,
                    "labels": {"team": f"team-{rng.randrange(12)}", "env": "prod"},
                    "declared_at": at,
                    "started_at": at,
                    "detected_at": at,
                    "resolved_at": at + timedelta(hours=1),
                    "updated_at": at,
                    "version": 1,
                    "state": {},
                }
            )
            seq = 1
            events.append(
                {
                    "incident_id": n,
                    "seq": seq,
                    "type": "declared",
                    "actor": "bench",
                    "occurred_at": at,
                    "recorded_at": at,
                    "data": {},
                }
            )
            if rng.random() < 0.6:
                seq += 1
                alert = rng.randrange(300)
                events.append(
                    {
                        "incident_id": n,
                        "seq": seq,
                        "type": "alert_attached",
                        "actor": "warroom",
                        "occurred_at": at,
                        "recorded_at": at,
                        "data": {
                            "fingerprint": f"{alert:016x}",
                            "labels": {"alertname": f"Alert{alert}", "service": chosen[0]},
                        },
                    }
                )
            if rng.random() < 0.3:
                seq += 1
                events.append(
                    {
                        "incident_id": n,
                        "seq": seq,
                        "type": "deploy_correlated",
                        "actor": "warroom",
                        "occurred_at": at,
                        "recorded_at": at,
                        "data": {"service": chosen[0], "kind": rng.choice(("deploy", "config"))},
                    }
                )
            if rng.random() < 0.2:
                pms.append(
                    {
                        "incident_id": n,
                        "public_id": batch[-1]["public_id"],
                        "status": "published",
                        "requirement": "required",
                        "body": "## Root cause\n\n" + rng.choice(CAUSES) + "\n",
                        "root_cause_category": "code",
                        "version": 1,
                        "created_at": at,
                        "updated_at": at,
                        "reviewers": [],
                    }
                )
                for k in range(2):
                    items.append(
                        {
                            "incident_id": n,
                            "title": f"follow-up {k}",
                            "description": "",
                            "priority": 2,
                            "type": "prevent",
                            "status": rng.choice(("open", "done")),
                            "source": "bench",
                            "external": {},
                            "version": 1,
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
            if len(batch) >= 2000:
                flush(conn)
        flush(conn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    db = Database(url, sqlite_synchronous="OFF")
    migrate.upgrade(db)
    started = time.perf_counter()
    fill(db, args.incidents, args.seed)
    print(
        f"filled {args.incidents:,} incidents in "
        f"{time.perf_counter() - started:.1f} s ({db.dialect})"
    )
    service = SimilarityService(db, SystemClock())
    started = time.perf_counter()
    service.refresh()
    print(
        f"index built in {time.perf_counter() - started:.1f} s ({len(service.index):,} incidents)"
    )
    rng = random.Random(args.seed + 1)
    ids = list(service._by_public)
    timings: list[float] = []
    found = 0
    for _ in range(args.lookups):
        public_id = rng.choice(ids)
        t0 = time.perf_counter()
        matches = service.similar(public_id, limit=5)
        timings.append((time.perf_counter() - t0) * 1000)
        found += bool(matches)
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(len(timings) * p))]

    print(
        f"similar-incident lookup over {args.incidents:,} incidents, {args.lookups} lookups: "
        f"p50 {pct(0.50):.1f} ms, p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms, "
        f"max {timings[-1]:.1f} ms, mean {statistics.mean(timings):.1f} ms; "
        f"{found / args.lookups:.0%} with matches; target p99 < 100 ms: "
        + ("PASS" if pct(0.99) < 100 else "FAIL")
    )
    index_only: list[float] = []
    for _ in range(args.lookups):
        key = service._by_public[rng.choice(ids)]
        t0 = time.perf_counter()
        service.index.lookup(service.index.features[key], limit=5, exclude=key)
        index_only.append((time.perf_counter() - t0) * 1000)
    index_only.sort()
    print(
        "of which the in-memory index lookup with reasons: "
        f"p50 {index_only[len(index_only) // 2]:.1f} ms, "
        f"p99 {index_only[min(len(index_only) - 1, int(len(index_only) * 0.99))]:.1f} ms"
    )
    db.dispose()


if __name__ == "__main__":
    main()
