"""The work of one paged incident, stage by stage: instructions (callgrind) or CPU time.

One process runs warroom's app with the catalog of `bench/paging.py` (20 services, one
escalation policy, a schedule of one person paged through Apprise `json://`) and a receiver
in a child process. N webhooks each declare an incident; then each stage runs alone, in turn:

- intake: the intake processor acting on the logged webhooks (alert, group, incident, its
  timeline, metrics row and planned effects);
- escalate: the escalation steps' round (who is on call, the page planned, `paged`);
- notify: the deliveries through Apprise, 16 at once, and their records (delivery log,
  `notification_sent`, the effect done).

Instruction counts hardly move with the machine's speed, which drifts up to twofold within
half an hour here: two versions of the code compare in one run each.

    python bench/paging_cost.py                             # instructions (needs valgrind)
    python bench/paging_cost.py --tree /tmp/warroom-old     # another checkout's code
    python bench/paging_cost.py --measure cpu               # CPU time, no valgrind
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from ingest import ADMIN, checkout
from paging import CONFIG, catalog, webhook

STAGES = ("intake", "escalate", "notify")
WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=50, help="measured (after 20 more)")
    parser.add_argument("--measure", choices=("instructions", "cpu"), default="instructions")
    parser.add_argument(
        "--tree", type=checkout, help="run the code of this checkout (e.g. a git worktree)"
    )
    parser.add_argument("--stage-of", help=argparse.SUPPRESS)  # the measured child's dumps
    args = parser.parse_args()
    if args.incidents < 1:
        parser.error("--incidents must be at least 1")
    tree = args.tree or str(Path(__file__).resolve().parent.parent)
    if args.measure == "instructions" and args.stage_of is None:
        print_instructions(parser, args, tree)
        return
    costs = run_stages(args.incidents, tree, args.stage_of)
    if costs:
        report(costs, args.incidents, "ms of CPU")


def print_instructions(
    parser: argparse.ArgumentParser, args: argparse.Namespace, tree: str
) -> None:
    """Run this script again under callgrind, instrumented only while a stage runs."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("counting instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="warroom-cost-") as out:
        command = [
            *("valgrind", "--tool=callgrind", "--instr-atstart=no"),
            f"--callgrind-out-file={out}/cg.%p.out",
            *(sys.executable, __file__, "--incidents", str(args.incidents)),
            *("--stage-of", out, *(("--tree", args.tree) if args.tree else ())),
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"the measured run failed:\n{done.stderr[-3000:]}")
        costs = {}
        for dump in Path(out).glob("cg.*.out.*"):
            text = dump.read_text()
            stage = next(line.split()[-1] for line in text.splitlines() if "Trigger: dump" in line)
            totals = next(line for line in text.splitlines() if line.startswith("totals:"))
            costs[stage] = int(totals.split()[1]) / 1e6
    if sorted(costs) != sorted(STAGES):
        sys.exit(f"callgrind gave counts for {sorted(costs)}, not for every stage")
    report(costs, args.incidents, "million instructions")


def report(costs: dict[str, float], incidents: int, unit: str) -> None:
    print(f"per paged incident ({incidents} incidents), {unit}:")
    for stage in STAGES:
        print(f"  {stage:10s} {costs[stage] / incidents:8.2f}")
    print(f"  {'all':10s} {sum(costs.values()) / incidents:8.2f}")


def run_stages(incidents: int, tree: str, dumps: str | None) -> dict[str, float]:
    """Declare `incidents` incidents and run each stage alone; the CPU milliseconds of each
    (or, under callgrind, a dump of each stage's instructions named after it)."""
    sys.path.insert(0, tree)
    receiver = subprocess.Popen(  # `python -c` imports from its working directory first
        [sys.executable, "-c", "import paging; paging.serve_receiver()"],
        cwd=Path(__file__).resolve().parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    hook = f"json://127.0.0.1:{int(receiver.stdout.readline())}/page"
    data = Path(tempfile.mkdtemp(prefix="warroom-cost-data-"))
    try:
        (data / "warroom.yaml").write_text(json.dumps(CONFIG))
        os.environ.update(
            WARROOM_DATA_DIR=str(data / "data"), WARROOM_CONFIG=str(data / "warroom.yaml")
        )
        os.environ.pop("WARROOM_DATABASE_URL", None)  # SQLite in the data dir
        return _run(incidents, tree, hook, dumps)
    finally:
        receiver.kill()
        shutil.rmtree(data, ignore_errors=True)


def _run(incidents: int, tree: str, hook: str, dumps: str | None) -> dict[str, float]:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    import warroom

    if not str(Path(warroom.__file__).resolve()).startswith(str(Path(tree).resolve())):
        sys.exit(f"warroom was imported from {warroom.__file__}, not from {tree}")
    from warroom.api.app import create_app
    from warroom.core.auth import ensure_admin_token
    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings
    from warroom.notify.tables import deliveries
    from warroom.worker import Worker

    runtime = Runtime.build(Settings())
    with runtime.db.write() as conn:
        ensure_admin_token(conn, ADMIN, runtime.clock.now())
    admin = {"Authorization": f"Bearer {ADMIN}"}

    def worker(kind: str, concurrency: int) -> Worker:
        only = Worker(runtime, concurrency=concurrency)
        only.handlers = {k: h for k, h in only.handlers.items() if k == kind}
        only.urgent_kinds = frozenset(k for k, h in only.handlers.items() if h.urgent)
        return only

    costs: dict[str, float] = {}
    with TestClient(create_app(runtime)) as client:
        key = _set_up(client, admin, hook)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        processor = runtime.alerts.intake.processor
        processor.stop()  # the stages below run it, in this thread
        escalate, notify = worker("oncall.escalate", 1), worker("oncall.notify", 16)
        stages: list[tuple[str, Callable[[], Any]]] = [
            ("intake", processor.run_once),
            ("escalate", escalate.run_once),
            ("notify", notify.run_once),
        ]
        start = 0
        for count, measured in ((WARM_UP, False), (incidents, True)):
            for n in range(start, start + count):
                sent = client.post(
                    "/api/v1/alerts/alertmanager", headers=headers, content=webhook(n)
                )
                sent.raise_for_status()
            start += count
            for stage, step in stages:
                gc.collect()
                gc.disable()  # a collection falls on one stage or another by chance
                if measured and dumps is not None:
                    _callgrind("--instr=on")
                began = time.process_time()
                while step():
                    pass
                spent = time.process_time() - began
                if measured and dumps is not None:
                    _callgrind("--instr=off")
                    _callgrind(f"--dump={stage}")
                gc.enable()
                if measured:
                    costs[stage] = spent * 1000
    with runtime.db.read() as conn:
        paged = conn.execute(select(func.count()).where(deliveries.c.ok)).scalar_one()
    runtime.close()
    if paged != WARM_UP + incidents:
        sys.exit(f"{paged} pages sent for {WARM_UP + incidents} incidents")
    return {} if dumps is not None else costs


def _set_up(client: Any, admin: dict[str, str], hook: str) -> str:
    """The catalog of `bench/paging.py`; returns the integration's key."""
    made: Any = None
    for path, body in catalog(hook):
        made = client.post(path, headers=admin, json=body)
        made.raise_for_status()
    return str(made.json()["key"])


def _callgrind(option: str) -> None:
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", option, pid], capture_output=True, check=True)


if __name__ == "__main__":
    main()
