"""Status page benchmark on SQLite (issue 6: communications).

Loads C components, I public incidents (3 updates each, spread over 90 days) and S confirmed
webhook subscribers, then measures through the real app and worker handlers:
  - GET /status/api/v2/summary.json and the /status HTML page (p50/p99, built afresh, and
    served from the few-second response cache),
  - GET /status/history.rss,
  - publishing a status update (p50/p99),
  - planning the fan-out of one public update to every subscriber.

    python bench/statuspage.py                      # 50 components, 2,000 incidents, 5,000 subs
    python bench/statuspage.py --incidents 200 --subscribers 500   # quicker
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from starlette.testclient import TestClient

from warroom.api.app import create_app
from warroom.comms import tables as ct
from warroom.comms.delivery import handle_fanout
from warroom.comms.updates import UpdateIn
from warroom.core import outbox
from warroom.core.auth import Principal
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def timed(fn, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    services = [
        {"name": f"svc-{n:02d}", "description": f"Service {n}", "owner_team": f"team-{n % 5}"}
        for n in range(args.components)
    ]
    config = parse_config(
        {"services": services, "comms": {"statuspage": {"allow_private_webhooks": True}}}
    )
    runtime = Runtime.build(Settings(data_dir=workdir, config=None), config=config)
    now = datetime.now(UTC)
    rng = random.Random(6)
    with runtime.db.write() as conn:
        for n in range(args.incidents):
            start = now - timedelta(minutes=rng.randint(60, 90 * 24 * 60))
            pid = conn.execute(
                insert(ct.public_incidents).values(
                    code=f"{n:012x}",
                    name=f"Incident {n}",
                    status="resolved",
                    impact="major",
                    components=[f"svc-{rng.randrange(args.components):02d}"],
                    component_status=rng.choice(["partial_outage", "major_outage"]),
                    created_at=start,
                    updated_at=start + timedelta(minutes=50),
                    resolved_at=start + timedelta(minutes=rng.randint(5, 240)),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                insert(ct.public_incident_updates),
                [
                    {
                        "code": f"{n:010x}{k:02x}",
                        "public_incident_id": pid,
                        "status": status,
                        "body": f"update {k} of incident {n}",
                        "created_at": start + timedelta(minutes=10 * k),
                        "display_at": start + timedelta(minutes=10 * k),
                    }
                    for k, status in enumerate(("investigating", "identified", "resolved"))
                ],
            )
        conn.execute(
            insert(ct.subscribers),
            [
                {
                    "kind": "webhook",
                    "target": f"http://127.0.0.1:9/{n}",
                    "components": [] if n % 2 else ["svc-00"],
                    "status": "confirmed",
                    "nonce": f"{n:016x}",
                    "created_at": now,
                }
                for n in range(args.subscribers)
            ],
        )
    client = TestClient(create_app(runtime))
    principal = Principal(name="bench", scopes=frozenset({"admin"}))
    incident = runtime.incidents.declare(
        principal, schemas.DeclareIn(title="bench", severity="SEV2", services=["svc-00"])
    ).public_id
    print(
        f"components={args.components} public incidents={args.incidents} "
        f"subscribers={args.subscribers} (SQLite, {args.rounds} rounds)"
    )
    page = runtime.comms.statuspage
    for name, path in (
        ("summary.json", "/status/api/v2/summary.json"),
        ("status page HTML", "/status"),
        ("history.rss", "/status/history.rss"),
    ):
        client.get(path)

        def cold(p: str = path) -> None:
            page.touch()  # drop the short response cache: measure a full build
            client.get(p)

        samples = timed(cold, args.rounds)
        warm = timed(lambda p=path: client.get(p), args.rounds)  # type: ignore[misc]
        print(
            f"{name:18s} p50 {statistics.median(samples):7.1f} ms   "
            f"p99 {percentile(samples, 99):7.1f} ms   cached p50 {statistics.median(warm):5.1f} ms"
        )
    service = runtime.comms.service
    request = UpdateIn(status="identified", impact="slow", action="scaling", public=True)
    samples = timed(lambda: service.publish(principal, incident, request), args.rounds)
    print(
        f"{'publish update':18s} p50 {statistics.median(samples):7.1f} ms   "
        f"p99 {percentile(samples, 99):7.1f} ms"
    )
    with runtime.db.read() as conn:
        update_id = conn.execute(
            select(ct.public_incident_updates.c.id).order_by(ct.public_incident_updates.c.id.desc())
        ).first()[0]  # type: ignore[index]
    effect = outbox.ClaimedEffect(
        0, "statuspage_fanout", {"update_id": update_id}, None, 1, now, None
    )
    start = time.perf_counter()
    outcome = handle_fanout(runtime, effect)
    elapsed = (time.perf_counter() - start) * 1000
    print(f"{'fan-out planning':18s} {elapsed:7.1f} ms  ({outcome.message})")
    client.close()
    runtime.close()


if __name__ == "__main__":
    main()
