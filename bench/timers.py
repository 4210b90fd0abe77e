"""Durable timer benchmark on SQLite (issue 4: on-call and paging).

1. Firing: N pending timers (outbox rows), of which D are due at once; one worker fires the
   due ones. Reports the firing rate and the lateness (fired - due) p50/p99. The handler is
   trivial, so this measures the outbox machinery (claim with lease, mark done), not delivery.
2. Paging latency, end to end: the warroom app under uvicorn on 127.0.0.1 (a child process,
   embedded worker, default settings) receives Alertmanager webhooks over HTTP at R alerts/s
   (open loop); each new incident is on a service whose escalation policy pages at once, and
   the worker hands each page to the notifier (a recorder in place of Apprise). Reports alert
   received → page handed to the notifier p50/p99, for the worst case (every alert its own
   group: a new incident and a page each) and for a mix (webhooks of 1-10 alerts grouping into
   about 7 new incidents/s).

    python bench/timers.py                               # 100,000 timers, 10,000 due; 200/s
    python bench/timers.py --timers 20000 --due 2000 --seconds 5   # quicker
    python bench/timers.py --only paging --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from warroom.core import outbox, tables
from warroom.core.auth import Principal
from warroom.core.config import parse_config
from warroom.core.outbox import EffectHandler
from warroom.core.runtime import Runtime, settle_heap
from warroom.core.settings import Settings
from warroom.oncall import models, paging
from warroom.worker import Outcome, Worker, WorkerProcess, wake_on_input


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

    worker = Worker(
        runtime, [EffectHandler("bench.timer", handler, transactional=True)], batch=batch
    )
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


# ---- paging: alert received over HTTP -> notification handed to the notifier ----------------

SERVICES = 20
PATH = "/api/v1/alerts/alertmanager"


def _bench_config() -> Any:
    return parse_config(
        {
            "policy": "default",
            "services": [{"name": f"svc-{n}", "escalation_policy": "ops"} for n in range(SERVICES)],
        }
    )


def _recording_worker(
    runtime: Runtime, data_dir: Path, poll: float | None = None
) -> tuple[Worker, Any]:
    """A worker whose `oncall.notify` handler only records when each page was handed to it
    (real delivery is out of scope for the figure)."""
    record = (data_dir / "handed.txt").open("a", buffering=1)  # a line each, for the driver

    def notifier(rt: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
        record.write(f"{effect.payload.get('incident')} {time.time()}\n")
        return Outcome(True)

    # Run as the handler it stands in for: concurrent and urgent.
    worker = Worker(runtime, [EffectHandler(paging.NOTIFY, notifier, concurrent=True, urgent=True)])
    worker.acquire_single_writer_lock()
    return worker, record


def worker_child(data_dir: Path, database_url: str | None, concurrency: int) -> None:
    """The worker process of `serve --worker-process`: woken through its stdin by the server,
    polling every 0.5 s otherwise, stopping at the end of its stdin."""
    settings = Settings(
        data_dir=data_dir, database_url=database_url, worker_concurrency=concurrency
    )
    runtime = Runtime.build(settings, config=_bench_config())
    worker, record = _recording_worker(runtime, data_dir)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    wake_on_input(worker, sys.stdin.fileno())
    settle_heap()
    (data_dir / "worker-ready").write_text("1")
    try:
        worker.run_forever()
    finally:
        record.close()
        runtime.close()


def serve_child(
    data_dir: Path, port: int, database_url: str | None, concurrency: int, embedded: bool = True
) -> None:
    """The server: the ASGI app under uvicorn on 127.0.0.1 with the embedded worker (default
    settings: poll 0.5 s, SQLite synchronous=FULL), or with a worker process it starts and
    wakes through its stdin (`serve --worker-process`)."""
    import uvicorn

    from warroom.api.app import create_app

    settings = Settings(
        data_dir=data_dir, database_url=database_url, port=port, worker_concurrency=concurrency
    )
    runtime = Runtime.build(settings, config=_bench_config())
    admin = Principal(name="bench", scopes=frozenset({"admin"}))
    oncall = runtime.oncall
    oncall.create_person(
        admin,
        models.PersonIn(
            name="ann", contact_methods=[models.ContactMethod(url="json://127.0.0.1:9/x")]
        ),
    )
    oncall.create_policy(
        admin,
        models.EscalationPolicyIn(
            name="ops", levels=[models.LevelIn(delay_minutes=5, targets=["person:ann"])]
        ),
    )
    _, key = runtime.alerts.create_integration(admin, "bench", "alertmanager", {"rate_limit": 0})
    worker, record = _recording_worker(runtime, data_dir) if embedded else (None, None)
    child = None
    if worker is not None:
        worker.start_thread()
    else:
        child = start_worker_child(runtime, data_dir, database_url, concurrency)
    settle_heap()  # as `warroom serve` does
    (data_dir / "key").write_text(key)
    # uvicorn re-raises the SIGTERM it caught once it has shut down: let that return here.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(
            create_app(runtime),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=3,
        )
    finally:
        if worker is not None:
            worker.stop()
            record.close()
        if child is not None:
            child.stop(timeout=30)
        runtime.close()


def alertmanager_body(group: str, service: str, members: list[int], base: datetime) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": f"Bench{group}",
                "service": service,
                "instance": f"pod-{m}",
                "severity": "critical",
            },
            "annotations": {"summary": f"group {group} member {m} misbehaves"},
            "startsAt": base.isoformat().replace("+00:00", "Z"),
            "fingerprint": f"{group}-{m}",
        }
        for m in members
    ]
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="Bench{group}"}}',
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": f"Bench{group}"},
        "commonLabels": {"alertname": f"Bench{group}"},
        "alerts": alerts,
    }
    return json.dumps(body).encode()


def workload(kind: str, rate: float, seconds: float) -> list[tuple[bytes, int]]:
    """(webhook body, alerts in it), sent evenly so that `rate` alerts/s arrive.

    distinct: one alert per webhook, each its own group: every alert opens an incident and
    pages (the worst case). mix: webhooks of 1-10 alerts; a fifth start a new group (a new
    incident), the rest go to one of the 50 latest groups (attached, or repeats of alerts
    already open), so about 7 incidents/s."""
    rng = random.Random(4)
    base = datetime.now(UTC) - timedelta(minutes=1)
    total = int(rate * seconds)
    out: list[tuple[bytes, int]] = []
    if kind == "distinct":
        for n in range(total):
            out.append((alertmanager_body(f"d{n}", f"svc-{n % SERVICES}", [0], base), 1))
        return out
    groups: list[str] = []
    sent = 0
    while sent < total:
        if not groups or rng.random() < 0.2:
            groups.append(f"m{len(groups)}")
            group = groups[-1]
        else:
            group = rng.choice(groups[-50:])
        size = min(rng.randint(1, 10), total - sent)
        members = rng.sample(range(10), size)
        service = f"svc-{int(group[1:]) % SERVICES}"
        out.append((alertmanager_body(group, service, members, base), size))
        sent += size
    return out


async def drive(
    port: int, key: str, bodies: list[tuple[bytes, int]], rate: float, clients: int = 64
) -> list[tuple[float, float, int, int, bytes]]:
    """Open loop: webhook n is due at start + (alerts before it) / rate, whether or not the
    server kept up; its latency counts from that due time (no coordinated omission)."""
    from ingest import Connection

    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(clients):
        pool.put_nowait(Connection("127.0.0.1", port))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    results: list[tuple[float, float, int, int, bytes]] = []

    async def one(due: float, body: bytes, size: int) -> None:
        conn = await pool.get()
        try:
            status, payload = await conn.request("POST", PATH, body, headers)
        except OSError:
            status, payload = 599, b""
            conn = Connection("127.0.0.1", port)
        finally:
            pool.put_nowait(conn)
        results.append((due, time.time(), status, size, payload))

    start = time.time() + 0.2
    tasks = []
    sent = 0
    for body, size in bodies:
        due = start + sent / rate
        sent += size
        pause = due - time.time()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(due, body, size)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return results


def start_child(
    data_dir: Path, database_url: str | None, concurrency: int, separate: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    from ingest import free_port

    port = free_port()
    args = [sys.executable, __file__, "--serve-child", str(data_dir), "--port", str(port)]
    args += ["--concurrency", str(concurrency)]
    if separate:
        args += ["--worker-process"]
    if database_url:
        args += ["--database-url", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    log = (data_dir.parent / f"{data_dir.name}.log").open("wb")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=log)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (data_dir / "key").exists():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc, port
            except OSError:
                pass
        if proc.poll() is not None:
            raise RuntimeError(f"the bench server died; see {log.name}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bench server did not start")


def fresh_postgres(url: str) -> str:
    """A new, empty database next to the one in `url` (dropped first if it exists)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from warroom.core.db import normalise_url

    base = make_url(normalise_url(url))
    name = f"{os.environ.get('WARROOM_TEST_DB_PREFIX', 'warroom')}_bench_paging"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def start_worker_child(
    runtime: Runtime, data_dir: Path, database_url: str | None, concurrency: int
) -> WorkerProcess:
    """The bench worker as `serve --worker-process` runs `warroom worker`: a supervised child
    woken through its stdin."""
    args = [sys.executable, __file__, "--worker-child", str(data_dir)]
    args += ["--concurrency", str(concurrency)]
    if database_url:
        args += ["--database-url", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    child = WorkerProcess(runtime, args, env)
    child.start(check_seconds=0.2)
    deadline = time.time() + 60
    while not (data_dir / "worker-ready").exists():
        if time.time() > deadline:
            child.stop()
            raise RuntimeError("the bench worker did not start; see the server's log")
        time.sleep(0.1)
    (data_dir / "worker-pid").write_text(str(child.pid))
    return child


def paging_latency(
    work: Path,
    kind: str,
    rate: float,
    seconds: float,
    postgres: str | None,
    concurrency: int,
    separate: bool = False,
) -> None:
    data_dir = work / f"paging-{kind}"
    data_dir.mkdir()
    database_url = fresh_postgres(postgres) if postgres else None
    proc, port = start_child(data_dir, database_url, concurrency, separate)
    pids = [proc.pid]
    if separate:  # started by the server, as `serve --worker-process` does
        pids.append(int((data_dir / "worker-pid").read_text()))
    try:
        key = (data_dir / "key").read_text()
        # Warm-up: the first requests pay for imports and caches.
        warm = [(alertmanager_body(f"w{n}", "svc-0", [0], datetime.now(UTC)), 1) for n in range(5)]
        asyncio.run(drive(port, key, warm, 10))
        time.sleep(1.5)
        cpu_before = sum(_cpu_seconds(pid) for pid in pids)
        results = asyncio.run(drive(port, key, workload(kind, rate, seconds), rate))
        opened: dict[str, float] = {}
        for due, _, status, _, payload in results:
            if status == 200:
                for incident in json.loads(payload)["incidents"]:
                    opened.setdefault(incident, due)
        deadline = time.time() + 60  # let the last pages through
        while time.time() < deadline and len(set(opened) - set(_handed(data_dir))) > 0:
            time.sleep(0.2)
        handed = _handed(data_dir)
        cpu = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
        proc.send_signal(signal.SIGTERM)  # the server stops its worker process
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    first_due = min(r[0] for r in results)
    last_done = max(r[1] for r in results)
    ok = [r for r in results if r[2] == 200]
    alerts = sum(r[3] for r in ok)
    intake = [(done - due) * 1000 for due, done, status, _, _ in ok]
    page = [(handed[i] - due) * 1000 for i, due in opened.items() if i in handed]
    backend = "PostgreSQL" if postgres else "SQLite synchronous=FULL"
    print(
        f"paging ({kind}): {alerts:,} alerts in {len(results):,} Alertmanager webhooks at "
        f"{rate:g} alerts/s target, achieved {alerts / (last_done - first_due):.0f} alerts/s "
        f"({len(results) - len(ok)} refused); warroom app under uvicorn + "
        f"{'a worker process' if separate else 'embedded worker'} "
        f"(WARROOM_WORKER_CONCURRENCY={concurrency}), {backend}"
    )
    print(
        f"  webhook answered: p50 {percentile(intake, 50):.0f} ms, "
        f"p99 {percentile(intake, 99):.0f} ms"
    )
    print(
        f"  alert received → page handed to the notifier: p50 {percentile(page, 50):.0f} ms, "
        f"p99 {percentile(page, 99):.0f} ms, max {max(page, default=float('nan')):.0f} ms "
        f"({len(page):,} of {len(opened):,} new incidents paged)"
    )
    who = "server + worker" if separate else "server"
    print(f"  {who} CPU {cpu:.1f} s = {cpu / max(alerts, 1) * 1000:.1f} ms per alert")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _handed(data_dir: Path) -> dict[str, float]:
    """Incident -> when its first page was handed to the notifier (the child's record)."""
    handed: dict[str, float] = {}
    path = data_dir / "handed.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        incident, _, at = line.partition(" ")
        if at:
            handed.setdefault(incident, float(at))
    return handed


def cpu_probe() -> float:
    """Seconds for a fixed pure-Python loop (best of three): paging at 200 new incidents/s is
    CPU-bound, so its figures only compare between runs with similar probes."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        sum(n * n for n in range(10**7))
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="the worker's SQLite default")
    parser.add_argument("--sync", default="FULL", help="firing: SQLite synchronous")
    parser.add_argument("--rate", type=float, default=200, help="paging: alerts/s")
    parser.add_argument("--seconds", type=float, default=10, help="paging: seconds per phase")
    parser.add_argument("--postgres", help="paging on PostgreSQL (a server URL) instead of SQLite")
    parser.add_argument("--only", choices=("firing", "paging"))
    parser.add_argument("--mix", choices=("distinct", "mix", "both"), default="both")
    parser.add_argument("--keep", type=Path, help="a new directory to keep the data in")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Settings().worker_concurrency,
        help="paging: WARROOM_WORKER_CONCURRENCY (default: warroom's)",
    )
    parser.add_argument(
        "--worker-process",
        dest="separate_worker",
        action="store_true",
        help="paging: as `serve --worker-process`, the worker in a child process of the server",
    )
    parser.add_argument("--serve-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child is not None:
        serve_child(
            args.serve_child,
            args.port,
            args.database_url,
            args.concurrency,
            embedded=not args.separate_worker,
        )
        return
    if args.worker_child is not None:
        worker_child(args.worker_child, args.database_url, args.concurrency)
        return
    if args.keep is not None:  # keep the databases (and the server logs) for a look after
        args.keep.mkdir(parents=True, exist_ok=False)
    place = (
        contextlib.nullcontext(str(args.keep))
        if args.keep is not None
        else tempfile.TemporaryDirectory(prefix="bench-timers-")
    )
    print(f"CPU probe: {cpu_probe():.2f} s for a fixed pure-Python loop (compare machines by it)")
    with place as tmp:
        if args.only != "paging":
            firing(Path(tmp), args.timers, args.due, args.batch, args.sync)
        if args.only != "firing":
            kinds = ("distinct", "mix") if args.mix == "both" else (args.mix,)
            for kind in kinds:
                paging_latency(
                    Path(tmp),
                    kind,
                    args.rate,
                    args.seconds,
                    args.postgres,
                    args.concurrency,
                    args.separate_worker,
                )


if __name__ == "__main__":
    main()
