"""Services and on-call page render time (server side) on the demo plus a bigger catalog.

Loads `warroom demo` with its catalog (`warroom/web/demo.yaml`) plus --services extra catalog
services spread over --schedules extra weekly schedules (each with its own escalation policy),
logs in, then times GET requests through the ASGI app in-process (routing, session lookup,
queries, schedule math, Jinja rendering; no network):

    python bench/web_oncall_pages.py                          # 100 services, 20 schedules
    python bench/web_oncall_pages.py --services 500 --schedules 50 --rounds 30
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import yaml
from starlette.testclient import TestClient

from warroom.api.app import create_app
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock, SystemClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.oncall import models
from warroom.web.demo import load_into
from warroom.web.demo_oncall import CATALOG

PASSWORD = "bench password"
ADMIN = Principal(name="user:bench", scopes=frozenset({"admin"}), kind="session")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def config(services: int, schedules: int) -> dict[str, Any]:
    data = yaml.safe_load(CATALOG.read_text())
    for n in range(services):
        data["services"].append(
            {
                "name": f"svc-{n:03d}",
                "owner_team": f"team-{n % schedules:02d}",
                "escalation_policy": f"policy-{n % schedules:02d}",
            }
        )
    return dict(data)


def extra(runtime: Runtime, schedules: int) -> None:
    oncall = runtime.oncall
    start = (runtime.clock.now() - timedelta(days=60)).astimezone(UTC).replace(tzinfo=None)
    for n in range(schedules):
        people = [f"p{n:02d}-{k}" for k in range(4)]
        for person in people:
            oncall.create_person(ADMIN, models.PersonIn(name=person))
        oncall.create_team(ADMIN, models.TeamIn(name=f"team-{n:02d}", members=people))
        oncall.create_schedule(
            ADMIN,
            models.ScheduleIn(
                name=f"sched-{n:02d}",
                timezone="Europe/Berlin",
                layers=[models.LayerIn(users=people, start=start, shift_unit="weeks")],
            ),
        )
        levels = [
            models.LevelIn(delay_minutes=0, targets=[f"schedule:sched-{n:02d}"]),
            models.LevelIn(delay_minutes=15, targets=[f"team:team-{n:02d}"]),
        ]
        oncall.create_policy(
            ADMIN, models.EscalationPolicyIn(name=f"policy-{n:02d}", levels=levels)
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), config=None, sqlite_synchronous="OFF")
        cfg = parse_config(config(args.services, args.schedules))
        clock = FixedClock(SystemClock().now())
        runtime = Runtime.build(settings, clock=clock, config=cfg)
        load_into(runtime, clock, password=PASSWORD)
        started = time.perf_counter()
        extra(runtime, args.schedules)
        print(f"loaded demo + {args.services} services over {args.schedules} schedules "
              f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
        runtime.close()
        runtime = Runtime.build(settings, config=cfg)  # the real clock from here on
        with TestClient(create_app(runtime)) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            client.post(
                "/login", data={"name": "alice", "password": PASSWORD, "csrf_token": token[1]}
            )
            for label, path in (
                (f"services ({args.services + 5})", "/services"),
                ("service public-api", "/services/public-api"),
                ("schedule platform-primary", "/oncall/schedules/platform-primary"),
                ("escalation policies", "/oncall/policies"),
                ("policy edge-critical", "/oncall/policies/edge-critical"),
                ("people", "/oncall/people"),
                ("person erin", "/oncall/people/erin"),
            ):
                for _ in range(2):
                    assert client.get(path).status_code == 200
                timings = []
                for _ in range(args.rounds):
                    begin = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - begin) * 1000)
                    assert response.status_code == 200
                print(
                    f"{label:28s} p50 {statistics.median(timings):6.1f} ms  "
                    f"p99 {percentile(timings, 99):6.1f} ms   ({len(response.content)} bytes)"
                )
        runtime.close()


if __name__ == "__main__":
    main()
