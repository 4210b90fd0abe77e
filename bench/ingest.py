"""Alert intake benchmark: warroom, a no-op FastAPI endpoint and Alertmanager, in one run.

Starts, side by side on this machine: `warroom serve` (uvicorn, embedded worker, SQLite with
synchronous=FULL unless --synchronous NORMAL) in a temporary data dir with an Alertmanager
integration; a no-op FastAPI endpoint on uvicorn (1 worker: parse the JSON body, answer 200);
and, when installed, Debian's `prometheus-alertmanager` (its own in-memory `/api/v2/alerts`).
The same keep-alive HTTP load generator then sends the same Alertmanager v4 webhooks (2,000
fingerprints in groups of 20, 20% warnings, 2% of alerts per notification resolving or firing
again; after a warm-up that opens them all) to each, in interleaved rounds so that a slow
phase of a shared machine hits every system alike:

  - 1 alert per request: warroom vs the no-op endpoint;
  - 10 alerts per request: warroom vs the no-op endpoint and vs Alertmanager;
  - then warroom alone: mixed webhooks (1-20 alerts), and latency at a fixed 1,000 alerts/s
    (open loop: 100 webhooks/s of 10 alerts, so no coordinated omission);
  - the war room page (a logged-in viewer, 10 loads/s), quiet and during 2,000 alerts/s;
  - last, the intake service without HTTP (parse + group commit) in this process.

The closed-loop phases (a connection sends its next request once the last is answered) run
wrk (Debian's `wrk`, 1 thread, `--clients` connections) replaying webhooks made here, so the
load generator costs little of the 2 cores the servers share; without wrk, or with `--client
python`, a keep-alive client in this process sends them. The open-loop phases always use the
client in this process.

It prints each phase and the RATIO lines (sums over the rounds): compare ratios, not absolute
figures, between runs on a shared machine.

    .venv/bin/python bench/ingest.py                # 10 s per phase, 8 connections, 2 rounds
    .venv/bin/python bench/ingest.py --worker-process   # the worker process acts on webhooks
    .venv/bin/python bench/ingest.py --seconds 5 --rounds 3 --synchronous NORMAL --no-service
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ADMIN = "wr_bench_admin_token_0123456789abcdef"
FINGERPRINTS = 2000
GROUP_SIZE = 20


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


class Connection:
    """A minimal keep-alive HTTP/1.1 client (the load generator must cost less than the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.headers: list[tuple[str, str]] = []  # the last response's

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", "Connection: keep-alive"]
        for key, value in (headers or {}).items():
            head.append(f"{key}: {value}")
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        self.headers = []
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            self.headers.append((name.lower(), value.strip()))
            if name.lower() == "content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Workload:
    """Alertmanager notifications over 2,000 fingerprints in groups of up to 20."""

    def __init__(self, seed: int = 11, churn: float = 0.02) -> None:
        self.churn = churn  # chance per alert per notification that it resolves or re-fires
        self.rng = random.Random(seed)
        self.base = datetime.now(UTC) - timedelta(minutes=5)
        self.episode = [0] * FINGERPRINTS  # bumps on resolve: the next firing is a new alert
        self.firing = [True] * FINGERPRINTS

    def webhook(self, size: int | None = None, group: int | None = None) -> tuple[bytes, int]:
        group = self.rng.randrange(FINGERPRINTS // GROUP_SIZE) if group is None else group
        size = size or self.rng.randint(1, GROUP_SIZE)
        members = self.rng.sample(range(GROUP_SIZE), size)
        alerts = []
        for member in members:
            fp = group * GROUP_SIZE + member
            if self.rng.random() < self.churn:
                self.firing[fp] = not self.firing[fp]
                if self.firing[fp]:
                    self.episode[fp] += 1
            starts = self.base + timedelta(seconds=self.episode[fp])
            severity = "warning" if group % 5 == 4 else "critical"
            alerts.append(
                {
                    "status": "firing" if self.firing[fp] else "resolved",
                    "labels": {
                        "alertname": f"Alert{group}",
                        "service": f"svc-{group % 20}",
                        "instance": f"pod-{member}",
                        "severity": severity,
                    },
                    "annotations": {"summary": f"group {group} member {member} misbehaves"},
                    "startsAt": starts.isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": f"{fp:016x}",
                }
            )
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="Alert{group}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "warroom",
            "groupLabels": {"alertname": f"Alert{group}"},
            "commonLabels": {"alertname": f"Alert{group}"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
        return json.dumps(body).encode(), len(alerts)


Request = tuple[str, str, bytes, dict[str, str], int]  # method, path, body, headers, alerts


def to_warroom(workload: Workload, key: str, size: int | None) -> Callable[[], Request]:
    """Requests for the load generators: Alertmanager webhooks of `size` alerts (None: 1-20)
    to warroom, with the integration's key."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def make() -> Request:
        body, count = workload.webhook(size)
        return "POST", "/api/v1/alerts/alertmanager", body, headers, count

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    proc: subprocess.Popen[bytes], port: int, what: str, log: Path | None = None
) -> None:
    """Returns once `port` accepts; RuntimeError with the process's messages (its stderr
    pipe, or `log`) if it exits first."""
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                if log is not None:
                    message = log.read_text(errors="replace")[-4000:]
                else:
                    message = proc.stderr.read().decode() if proc.stderr else "died"
                raise RuntimeError(f"{what}: {message}") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{what} did not start")


def launch_serve(
    data_dir: Path, port: int, env: dict[str, str], *extra_args: str, tree: str | None = None
) -> subprocess.Popen[bytes]:
    """`warroom serve` in a child process with the bench's admin token and `env` (no config
    file or database from the caller's environment unless `env` names them); returns once it
    listens. Its messages (and its worker process's) go to `serve.log` in `data_dir`: a pipe
    nobody reads would stop both once full. `tree`: a checkout whose code it runs (see
    `checkout`), else this one's."""
    child_env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("WARROOM_DATABASE_URL", "WARROOM_CONFIG")
        },
        "WARROOM_DATA_DIR": str(data_dir),
        "WARROOM_ADMIN_TOKEN": ADMIN,
        "WARROOM_PORT": str(port),
        **env,
    }
    # `python -m warroom` imports from its working directory first, ahead of the installed
    # checkout; PYTHONPATH gives the tree to its worker process too.
    where = Path(tree).resolve() if tree else Path(__file__).resolve().parent.parent
    if tree:
        child_env["PYTHONPATH"] = str(where)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "serve.log"
    with log.open("ab") as messages:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "warroom", "serve", "--port", str(port)),
                *("--log-level", "warning", *extra_args),
            ],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=messages,
            cwd=where,
        )
    wait_for_port(proc, port, "warroom serve", log)
    return proc


def start_server(
    data_dir: Path, port: int, synchronous: str = "FULL", worker_process: bool = False
) -> subprocess.Popen[bytes]:
    extra = ("--worker-process",) if worker_process else ()
    return launch_serve(data_dir, port, {"WARROOM_SQLITE_SYNCHRONOUS": synchronous}, *extra)


async def admin_get(port: int, path: str) -> bytes:
    """GET `path` with the admin token; the body (RuntimeError unless 200)."""
    conn = Connection("127.0.0.1", port)
    try:
        status, body = await conn.request("GET", path, b"", {"Authorization": f"Bearer {ADMIN}"})
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    return body


# The reference: what a do-nothing FastAPI endpoint costs on the same uvicorn (parse, answer).
NOOP_APP = """
import json
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/hook")
async def hook(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    return JSONResponse({"status": "ok", "received": len(body.get("alerts", ()))})
"""


def start_noop(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    (workdir / "noop_endpoint.py").write_text(NOOP_APP)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "noop_endpoint:app", "--app-dir", str(workdir)),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            *("--workers", "1"),  # loop and http "auto", as `warroom serve` runs uvicorn
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for_port(proc, port, "no-op endpoint")
    return proc


ALERTMANAGER_CONFIG = """
route:
  receiver: nowhere
  group_wait: 1h
receivers:
  - name: nowhere
"""


def start_alertmanager(workdir: Path, port: int) -> subprocess.Popen[bytes] | None:
    """Debian's prometheus-alertmanager, if installed: its own in-memory `/api/v2/alerts`."""
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        return None
    (workdir / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for_port(proc, port, "Alertmanager")
    return proc


def as_alertmanager_alerts(webhook_body: bytes) -> bytes:
    """The same alerts in the shape Alertmanager's own `POST /api/v2/alerts` takes."""
    alerts = json.loads(webhook_body)["alerts"]
    return json.dumps(
        [
            {
                "labels": a["labels"],
                "annotations": a["annotations"],
                "startsAt": a["startsAt"],
                "generatorURL": a["generatorURL"],
                **({"endsAt": a["startsAt"]} if a["status"] == "resolved" else {}),
            }
            for a in alerts
        ]
    ).encode()


def profile(
    args: argparse.Namespace, server: subprocess.Popen[bytes], phase: str, round_: int
) -> subprocess.Popen[bytes] | None:
    """With --profile DIR: py-spy samples the server and its worker process during this phase
    (collapsed stacks of the thread holding the GIL, one line per process and thread)."""
    if not args.profile:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    label = phase.split(",")[1].strip().replace(" ", "-").replace("/", "-per-")
    out = Path(args.profile) / f"{round_}-{label}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            *(spy, "record", "--pid", str(server.pid), "--duration", str(int(args.seconds))),
            *("--rate", "200", "--format", "raw", "--gil", "--threads", "--subprocesses"),
            *("--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


async def setup(port: int) -> str:
    conn = Connection("127.0.0.1", port)
    body = json.dumps(
        {"name": "bench", "kind": "alertmanager", "options": {"rate_limit": 0}}
    ).encode()
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    for _ in range(50):
        status, payload = await conn.request("POST", "/api/v1/integrations", body, headers)
        if status == 201:
            conn.close()
            return str(json.loads(payload)["key"])
        await asyncio.sleep(0.2)
    raise RuntimeError(f"could not create the integration: {status} {payload[:200]!r}")


async def login(port: int) -> str:
    """A web session for the war room page (a viewer made through the API): its cookie."""
    conn = Connection("127.0.0.1", port)
    password = "bench-viewer-password-0123"
    try:
        status, payload = await conn.request(
            "POST",
            "/api/v1/users",
            json.dumps({"name": "bench", "password": password, "role": "viewer"}).encode(),
            {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
        if status != 201:
            raise RuntimeError(f"could not create the web user: {status} {payload[:200]!r}")
        status, page = await conn.request("GET", "/login")
        cookie = next(v for k, v in conn.headers if k == "set-cookie").split(";")[0]
        token = page.decode().split('name="csrf_token" value="')[1].split('"')[0]
        form = f"name=bench&password={password}&csrf_token={token}&next=/".encode()
        status, _ = await conn.request(
            "POST",
            "/login",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        session = [v for k, v in conn.headers if k == "set-cookie" and "warroom_session" in v]
        if status != 303 or not session:
            raise RuntimeError(f"could not log in: {status}")
        return session[0].split(";")[0]
    finally:
        conn.close()


async def war_room_page(port: int) -> str:
    """The path of the newest incident's war room page."""
    payload = await admin_get(port, "/api/v1/incidents?limit=1")
    return f"/incidents/{json.loads(payload)['items'][0]['id']}"


async def closed_loop(
    port: int, clients: int, seconds: float, make: Any
) -> tuple[int, int, list[float], int]:
    """Each client sends its next request as soon as the previous one is answered."""
    requests = alerts = errors = 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal requests, alerts, errors
        conn = Connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                method, path, body, headers, count = make()
                started = time.perf_counter()
                status, _ = await conn.request(method, path, body, headers)
                latencies.append(time.perf_counter() - started)
                if status >= 300:
                    errors += 1
                requests += 1
                alerts += count
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return requests, alerts, latencies, errors


# Replays the requests of the file given after `--`, in turn; reports what `wrk_closed_loop`
# reads: the count, the errors (socket errors and non-2xx/3xx answers) and the latency at every
# percentile, in microseconds.
WRK_SCRIPT = r"""
local queue = {}
local turn = 0
function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local at = 1
  while at <= #data do
    local newline = data:find("\n", at, true)
    local size = tonumber(data:sub(at, newline - 1))
    queue[#queue + 1] = data:sub(newline + 1, newline + size)
    at = newline + size + 1
  end
end
function request()
  turn = turn % #queue + 1
  return queue[turn]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests %d errors %d\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
  for p = 0, 100 do
    io.write(string.format("BENCH percentile %d %d\n", p, latency:percentile(p)))
  end
end
"""
# Made per phase and replayed in turn: 20,000 requests, or fewer when they pass 40 MB (a
# 10-alert phase: about 10,000).
WRK_REQUESTS = 20_000
WRK_BYTES = 40_000_000


async def wrk_closed_loop(
    port: int, clients: int, seconds: float, make: Any, workdir: Path
) -> tuple[int, int, list[float], int]:
    """`closed_loop` driven by wrk: the requests `make` gives, replayed in turn. The latencies
    returned are wrk's at each percentile from 0 to 100 (so `percentile` reads them as wrk
    measured them). wrk runs whole seconds."""
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"wrk runs whole seconds, not {seconds:g}")
    made: list[tuple[str, str, bytes, dict[str, str], int]] = []
    size = 0
    while len(made) < WRK_REQUESTS and size < WRK_BYTES:
        made.append(make())
        size += len(made[-1][2])
    alerts_each = sum(m[4] for m in made) / len(made)
    data = workdir / "wrk-requests"
    with data.open("wb") as out:
        for method, path, body, headers, _count in made:
            head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
            head += [f"{key}: {value}" for key, value in headers.items()]
            head.append(f"Content-Length: {len(body)}")
            raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
            out.write(f"{len(raw)}\n".encode() + raw)
    script = workdir / "replay.lua"
    script.write_text(WRK_SCRIPT)
    proc = await asyncio.create_subprocess_exec(
        *("wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", "--timeout", "10s"),
        *("-s", str(script), f"http://127.0.0.1:{port}", "--", str(data)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    requests = errors = 0
    latencies: list[float] = []
    for line in output.decode().splitlines():
        fields = line.split()
        if fields[:2] == ["BENCH", "requests"]:
            requests, errors = int(fields[2]), int(fields[4])
        elif fields[:2] == ["BENCH", "percentile"]:
            latencies.append(int(fields[3]) / 1e6)
    if not latencies:
        raise RuntimeError(f"wrk failed: {output.decode()[-500:]}")
    return requests, round(requests * alerts_each), latencies, errors


async def drive(
    use_wrk: bool, port: int, clients: int, seconds: float, make: Any, workdir: Path
) -> tuple[int, int, list[float], int]:
    """A closed-loop phase through wrk or through the client in this process."""
    if use_wrk:
        return await wrk_closed_loop(port, clients, seconds, make, workdir)
    return await closed_loop(port, clients, seconds, make)


def add_client_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="closed-loop load generator (auto: wrk when installed)",
    )


def uses_wrk(args: argparse.Namespace) -> bool:
    """Whether `--client` picks wrk; a whole number of `--seconds` is then required."""
    chosen = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if chosen and (args.seconds < 1 or args.seconds != int(args.seconds)):
        raise SystemExit("wrk runs whole seconds: give --seconds as a whole number")
    return chosen


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the bench's client side, on uvloop where it is installed (a lighter client)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main)


def checkout(text: str) -> str:
    """`--tree`: a directory holding warroom's code (e.g. a git worktree)."""
    if not (Path(text) / "warroom" / "__main__.py").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a warroom checkout (no warroom/ in it)")
    return text


async def open_loop(
    port: int, rate: float, seconds: float, make: Any, connections: int = 64
) -> tuple[int, int, list[float], int]:
    """Requests start on a fixed schedule whatever the server does (no coordinated omission)."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection("127.0.0.1", port))
    latencies: list[float] = []
    counts = {"requests": 0, "alerts": 0, "errors": 0}

    async def one(scheduled: float) -> None:
        method, path, body, headers, count = make()
        conn = await pool.get()
        try:
            status, _ = await conn.request(method, path, body, headers)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)
        counts["requests"] += 1
        counts["alerts"] += count
        if status >= 300:
            counts["errors"] += 1

    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return counts["requests"], counts["alerts"], latencies, counts["errors"]


def report(name: str, seconds: float, result: tuple[int, int, list[float], int]) -> float:
    """Print one phase; return its alerts/s (requests/s where a request carries no alert)."""
    requests, alerts, latencies, errors = result
    rps = requests / seconds
    print(
        f"{name:<44} {rps:8.0f} req/s  {alerts / seconds:8.0f} alerts/s  "
        f"p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:6.1f} ms  errors {errors}"
    )
    return alerts / seconds if alerts else rps


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process, its threads and its live child processes
    (`serve --worker-process`'s worker) (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in child_pids(pid))


def child_pids(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            found += [int(child) for child in task.read_text().split()]
    return found


async def backlog(port: int) -> int:
    """warroom's intake backlog: webhooks acknowledged (202) and not yet processed."""
    body = await admin_get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("warroom_intake_backlog "):
            return int(float(line.split()[1]))
    raise RuntimeError("no warroom_intake_backlog in /metrics")


async def drain(port: int, name: str, seconds: float, alerts: int) -> None:
    """After a warroom phase: how long processing took to catch up with what was accepted."""
    started = time.perf_counter()
    left = await backlog(port)
    while left:
        await asyncio.sleep(0.05)
        left = await backlog(port)
    caught_up = time.perf_counter() - started
    print(
        f"{'  processed (' + name + ')':<44} caught up {caught_up:5.1f} s after the phase: "
        f"{alerts / (seconds + caught_up):8.0f} alerts/s processed"
    )


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        workdir = Path(tmp)
        port, noop_port, am_port = free_port(), free_port(), free_port()
        server = start_server(workdir / "data", port, args.synchronous, args.worker_process)
        noop = start_noop(workdir, noop_port)
        alertmanager = start_alertmanager(workdir, am_port)
        try:
            key = await setup(port)
            workload = Workload()
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            json_only = {"Content-Type": "application/json"}

            def to_noop(size: int) -> Any:
                def make() -> tuple[str, str, bytes, dict[str, str], int]:
                    body, count = workload.webhook(size)
                    return "POST", "/hook", body, json_only, count

                return make

            def to_alertmanager(size: int) -> Any:
                def make() -> tuple[str, str, bytes, dict[str, str], int]:
                    body, count = workload.webhook(size)
                    return "POST", "/api/v2/alerts", as_alertmanager_alerts(body), json_only, count

                return make

            # Warm up: open the 2,000 fingerprints' alerts and their incidents.
            conn = Connection("127.0.0.1", port)
            for group in range(FINGERPRINTS // GROUP_SIZE):
                body, _count = workload.webhook(GROUP_SIZE, group)
                await conn.request("POST", "/api/v1/alerts/alertmanager", body, headers)
            conn.close()
            await closed_loop(port, args.clients, 2, to_warroom(workload, key, None))
            while await backlog(port):
                await asyncio.sleep(0.05)
            use_wrk = args.use_wrk
            print(f"load generator for the closed loops: {'wrk' if use_wrk else 'this process'}")
            print(
                f"warroom serve{' --worker-process' if args.worker_process else ''} on SQLite "
                f"(synchronous={args.synchronous}), a no-op FastAPI "
                f"endpoint (uvicorn, 1 worker) and Alertmanager /api/v2/alerts, "
                f"{args.clients} clients, {args.seconds:g} s per phase x {args.rounds} rounds, "
                f"{os.cpu_count()} CPUs shared by clients and servers"
            )
            rates: dict[str, list[float]] = {}
            cpu: dict[str, list[tuple[float, int]]] = {}
            for round_ in range(1, args.rounds + 1):
                # Interleaved, so a slow phase of a shared machine hits every system alike.
                phases = [
                    ("no-op endpoint, 1 alert/request", noop_port, to_noop(1)),
                    ("warroom, 1 alert/request", port, to_warroom(workload, key, 1)),
                    ("no-op endpoint, 10 alerts/request", noop_port, to_noop(10)),
                    ("warroom, 10 alerts/request", port, to_warroom(workload, key, 10)),
                ]
                if alertmanager is not None:
                    phases.append(
                        ("Alertmanager /api/v2/alerts, 10/request", am_port, to_alertmanager(10))
                    )
                pids = {port: server.pid, noop_port: noop.pid}
                if alertmanager is not None:
                    pids[am_port] = alertmanager.pid
                for name, target, make in phases:
                    spy = profile(args, server, name, round_) if target == port else None
                    cpu_before = cpu_seconds(pids[target])
                    result = await drive(use_wrk, target, args.clients, args.seconds, make, workdir)
                    if spy is not None:
                        spy.wait()
                    rates.setdefault(name, []).append(
                        report(f"[{round_}] {name}", args.seconds, result)
                    )
                    if target == port:  # every system's phase starts with nothing pending
                        await drain(port, name, args.seconds, result[1])
                    # The server's CPU for the phase (warroom's: processing included): unlike
                    # rates, hardly moved by what else runs on the machine.
                    spent = cpu_seconds(pids[target]) - cpu_before
                    cpu.setdefault(name, []).append((spent, result[1]))
                    print(f"{'  server CPU':<44} {spent / max(result[1], 1) * 1e6:8.0f} us/alert")
            mixed_webhooks = to_warroom(workload, key, None)
            mixed = await closed_loop(port, args.clients, args.seconds, mixed_webhooks)
            report("warroom, mixed webhooks (1-20 alerts)", args.seconds, mixed)
            await drain(port, "mixed", args.seconds, mixed[1])
            fixed = await open_loop(port, 100, args.seconds, to_warroom(workload, key, 10))
            report("warroom at 1,000 alerts/s (100 x 10/s)", args.seconds, fixed)
            await drain(port, "1,000 alerts/s", args.seconds, fixed[1])

            # The war room page a responder keeps open, quiet and during a storm.
            cookie = await login(port)
            path = await war_room_page(port)

            def to_page() -> tuple[str, str, bytes, dict[str, str], int]:
                return "GET", path, b"", {"Cookie": cookie}, 0

            await open_loop(port, 10, 1, to_page, connections=8)  # templates, caches
            quiet = await open_loop(port, 10, args.seconds, to_page, connections=8)
            report("war room page, quiet (10/s)", args.seconds, quiet)
            storm, during = await asyncio.gather(
                open_loop(port, 200, args.seconds, to_warroom(workload, key, 10)),
                open_loop(port, 10, args.seconds, to_page, connections=8),
            )
            report("warroom at 2,000 alerts/s (200 x 10/s)", args.seconds, storm)
            report("war room page during it (10/s)", args.seconds, during)
            await drain(port, "2,000 alerts/s", args.seconds, storm[1])

            def total(name: str) -> float:
                return sum(rates.get(name, [0.0]))

            single = total("warroom, 1 alert/request") / total("no-op endpoint, 1 alert/request")
            print(
                f"RATIO warroom / no-op endpoint, 1 alert/request:   {single:6.1%} (target >= 50%)"
            )
            batch = total("warroom, 10 alerts/request") / total("no-op endpoint, 10 alerts/request")
            print(f"RATIO warroom / no-op endpoint, 10 alerts/request: {batch:6.1%}")
            if alertmanager is not None:
                am = total("warroom, 10 alerts/request") / total(
                    "Alertmanager /api/v2/alerts, 10/request"
                )
                print(
                    f"RATIO warroom / Alertmanager, 10 alerts/request:   {am:6.1%} (target >= 50%)"
                )

            def p99(result: tuple[int, int, list[float], int]) -> str:
                return f"{percentile(result[2], 99) * 1e3:.1f} ms"

            print(
                f"TARGET p99 at 1,000 alerts/s: {p99(fixed)} (< 50 ms); war room page p99 "
                f"during 2,000 alerts/s: {p99(during)} (< 100 ms; quiet {p99(quiet)}); "
                f"errors {fixed[3] + storm[3] + during[3] + quiet[3]} (0)"
            )

            def per_alert(name: str) -> float:
                spent = sum(seconds for seconds, _ in cpu.get(name, []))
                return spent / max(sum(alerts for _, alerts in cpu.get(name, [])), 1)

            # Alerts per CPU-second, warroom's over the reference's: the same ratios as above
            # when each server is CPU-bound, and comparable across runs on a busy machine.
            for label, ours, reference in (
                (
                    "no-op endpoint, 1 alert/request",
                    "warroom, 1 alert/request",
                    "no-op endpoint, 1 alert/request",
                ),
                (
                    "no-op endpoint, 10 alerts/request",
                    "warroom, 10 alerts/request",
                    "no-op endpoint, 10 alerts/request",
                ),
                (
                    "Alertmanager, 10 alerts/request",
                    "warroom, 10 alerts/request",
                    "Alertmanager /api/v2/alerts, 10/request",
                ),
            ):
                if reference in cpu:
                    print(
                        f"CPU RATIO warroom / {label}: "
                        f"{per_alert(reference) / max(per_alert(ours), 1e-9):6.1%} "
                        f"({per_alert(ours) * 1e6:.0f} vs "
                        f"{per_alert(reference) * 1e6:.0f} us/alert)"
                    )
        finally:
            stop(server)
            stop(noop)
            stop(alertmanager)


def in_process(seconds: float) -> None:
    """Parse + append to the intake log (group commit) through the intake service, no HTTP;
    then how long its processor takes to act on all of it."""
    from warroom.alerts import domain
    from warroom.core.auth import SYSTEM
    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        runtime = Runtime.build(Settings(data_dir=Path(tmp), config=None, database_url=None))
        svc = runtime.alerts
        integration, _ = svc.create_integration(SYSTEM, "bench", "alertmanager", {})
        workload = Workload()
        for group in range(FINGERPRINTS // GROUP_SIZE):
            body, _ = workload.webhook(GROUP_SIZE, group)
            svc.ingest(integration, domain.parse_alertmanager(json.loads(body)))
        bodies = [workload.webhook() for _ in range(20_000)]
        alerts = requests = 0
        started = time.perf_counter()
        pending = []
        for raw, count in bodies:
            pending.append(
                svc.intake.accept(integration, domain.parse_alertmanager(json.loads(raw)))
            )
            alerts += count
            requests += 1
            if len(pending) >= 256:
                for future in pending:
                    future.result()
                pending.clear()
            if time.perf_counter() - started > seconds:
                break
        for future in pending:
            future.result()
        accepted = time.perf_counter() - started
        while svc.intake_backlog():
            time.sleep(0.05)
        processed = time.perf_counter() - started
        svc.close()
        runtime.close()
    print(
        f"{'intake service, no HTTP: accepted':<44} {requests / accepted:8.0f} req/s  "
        f"{alerts / accepted:8.0f} alerts/s"
    )
    print(
        f"{'intake service, no HTTP: processed':<44} {requests / processed:8.0f} req/s  "
        f"{alerts / processed:8.0f} alerts/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--clients", type=int, default=8, help="connections (wrk's -c)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    add_client_option(parser)
    parser.add_argument("--no-service", action="store_true", help="skip the no-HTTP phase")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the server (and its worker process) in each warroom phase, into DIR",
    )
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=["FULL", "NORMAL"],
        help="WARROOM_SQLITE_SYNCHRONOUS for the server (NORMAL: no fsync per commit)",
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="serve --worker-process: the server acknowledges, its worker process acts",
    )
    args = parser.parse_args()
    args.use_wrk = uses_wrk(args)
    run_loop(run(args))
    if not args.no_service:
        in_process(args.seconds)


if __name__ == "__main__":
    main()
