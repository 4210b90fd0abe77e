"""Web page render time (server side) on the demo dataset plus extra incidents.

Loads `warroom demo` into a fresh SQLite data dir, adds --open open incidents (each with a
few notes), --resolved resolved ones and one incident with --timeline notes, logs in, then
times GET requests through the ASGI app in-process (routing, session lookup, queries, Jinja
rendering; no network). The war room's lazy panels (fetched once after the page, never on
live updates) are timed apart. "first" is the first request (Markdown render cache cold):

    python bench/web_pages.py                        # 50 open + 500 resolved extra
    python bench/web_pages.py --open 200 --resolved 5000 --rounds 100
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from warroom.api.app import create_app
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock, SystemClock
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.web.demo import load_into

PASSWORD = "bench password"
WHO = Principal(name="user:bench", scopes=frozenset({"responder"}), kind="session")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def extra(runtime: Runtime, open_count: int, resolved: int) -> None:
    svc = runtime.incidents
    checklist = {
        item.id: schemas.ChecklistAnswer(confirmed=True)
        for item in runtime.policy.resolution_checklist
    }
    for n in range(open_count + resolved):
        incident = svc.declare(
            WHO,
            schemas.DeclareIn(
                title=f"Bench incident {n}", severity=f"SEV{n % 4 + 1}", services=[f"svc-{n % 9}"]
            ),
        ).public_id
        for k in range(3):
            svc.add_note(WHO, incident, schemas.NoteIn(text=f"note {k} with `code` and **bold**"))
        if n >= open_count:
            svc.resolve(WHO, incident, schemas.ResolveIn(summary="done", checklist=checklist))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=50)
    parser.add_argument("--resolved", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--timeline", type=int, default=2000, help="notes on one extra open incident"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), config=None, sqlite_synchronous="OFF")
        clock = FixedClock(SystemClock().now())
        runtime = Runtime.build(settings, clock=clock)
        demo = load_into(runtime, clock, password=PASSWORD)
        started = time.perf_counter()
        extra(runtime, args.open, args.resolved)
        long_one = runtime.incidents.declare(
            WHO, schemas.DeclareIn(title="A long war room", severity="SEV2")
        ).public_id
        for n in range(args.timeline):
            runtime.incidents.add_note(WHO, long_one, schemas.NoteIn(text=f"update {n}: *ok*"))
        print(f"loaded demo + {args.open} open + {args.resolved} resolved incidents + "
              f"one with {args.timeline} notes "
              f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
        runtime.close()
        runtime = Runtime.build(settings)  # the real clock from here on
        sev1 = next(i["id"] for i in demo["incidents"] if i["severity"] == "SEV1")
        sev2 = next(i["id"] for i in demo["incidents"] if i["severity"] == "SEV2")
        with TestClient(create_app(runtime)) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            client.post(
                "/login", data={"name": "alice", "password": PASSWORD, "csrf_token": token[1]}
            )
            for label, path in (
                ("dashboard", "/"),
                ("incident page (SEV1 war room)", f"/incidents/{sev1}"),
                (f"incident page ({args.timeline} notes)", f"/incidents/{long_one}"),
                ("  its suspected changes (lazy)", f"/incidents/{long_one}/panels/changes"),
                ("  its similar incidents (lazy)", f"/incidents/{long_one}/panels/similar"),
                ("post-mortem page (SEV2, published)", f"/incidents/{sev2}/postmortem"),
                ("status page admin", "/admin/statuspage"),
                ("incident list (open)", "/incidents"),
                ("incident list (search, all)", "/incidents?state=all&q=bench"),
            ):
                begin = time.perf_counter()
                assert client.get(path).status_code == 200
                first = (time.perf_counter() - begin) * 1000
                for _ in range(2):
                    assert client.get(path).status_code == 200
                timings = []
                for _ in range(args.rounds):
                    begin = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - begin) * 1000)
                    assert response.status_code == 200
                print(
                    f"{label:30s} first {first:6.1f} ms  p50 {statistics.median(timings):5.1f} ms  "
                    f"p99 {percentile(timings, 99):6.1f} ms   ({len(response.content)} bytes)"
                )
        runtime.close()


if __name__ == "__main__":
    main()
