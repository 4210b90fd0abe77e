"""Two warroom servers side by side, in alternating phases: is B faster than A at alert intake?

This machine's speed drifts by up to a factor of two within half an hour, so two runs of
`bench/ingest.py` cannot tell a 10 % change from the drift. Here both servers run at once (A
and B: two versions of the code, or two settings), each phase drives one of them with the
same closed loop of webhooks (through wrk when installed, as `bench/ingest.py` does), the
order alternates (A B, B A, ...), and the result is the ratio of each adjacent pair, which
the drift hardly moves.

    # the code of another commit as A (a git worktree), this checkout as B
    git worktree add /tmp/warroom-old HEAD~3
    python bench/ab_ingest.py --a-tree /tmp/warroom-old
    # two settings of the same code
    python bench/ab_ingest.py --a-env WARROOM_SQLITE_SYNCHRONOUS=FULL \
        --b-env WARROOM_SQLITE_SYNCHRONOUS=NORMAL --size 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import (
    FINGERPRINTS,
    GROUP_SIZE,
    Connection,
    Workload,
    add_client_option,
    backlog,
    checkout,
    cpu_seconds,
    drive,
    free_port,
    launch_serve,
    percentile,
    run_loop,
    setup,
    stop,
    to_warroom,
    uses_wrk,
)


@dataclass
class Side:
    """One of the two servers and what its phases measured."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    key: str
    workload: Workload = field(default_factory=Workload)
    rates: list[float] = field(default_factory=list)
    cpu_per_request: list[float] = field(default_factory=list)


def setting(text: str) -> tuple[str, str]:
    """`NAME=VALUE` on the command line."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


async def start(
    name: str, workdir: Path, env: dict[str, str], tree: str | None, worker_process: bool
) -> Side:
    port = free_port()
    extra = ("--worker-process",) if worker_process else ()
    process = launch_serve(workdir / name, port, env, *extra, tree=tree)
    try:
        side = Side(name, port, process, await setup(port))
    except BaseException:
        stop(process)
        raise
    conn = Connection("127.0.0.1", port)
    try:  # open the 2,000 fingerprints' alerts and their incidents, as bench/ingest.py does
        for group in range(FINGERPRINTS // GROUP_SIZE):
            body, _ = side.workload.webhook(GROUP_SIZE, group)
            await conn.request("POST", "/api/v1/alerts/alertmanager", body, headers(side))
    finally:
        conn.close()
    return side


def headers(side: Side) -> dict[str, str]:
    return {"Authorization": f"Bearer {side.key}", "Content-Type": "application/json"}


async def phase(side: Side, args: argparse.Namespace, workdir: Path) -> None:
    make = to_warroom(side.workload, side.key, args.size)
    while await backlog(side.port):  # each phase starts with nothing left to process
        await asyncio.sleep(0.05)
    before = cpu_seconds(side.process.pid)
    requests, _alerts, latencies, errors = await drive(
        args.use_wrk, side.port, args.clients, args.seconds, make, workdir
    )
    while await backlog(side.port):  # ... and its CPU includes acting on what it took
        await asyncio.sleep(0.05)
    spent = cpu_seconds(side.process.pid) - before
    side.rates.append(requests / args.seconds)
    side.cpu_per_request.append(spent / max(requests, 1))
    print(
        f"  {side.name}: {requests / args.seconds:7.0f} req/s  "
        f"p50 {percentile(latencies, 50) * 1e3:5.2f} ms  "
        f"CPU {spent / max(requests, 1) * 1e6:4.0f} us/request  errors {errors}",
        flush=True,
    )


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="warroom-ab-") as tmp:
        workdir = Path(tmp)
        a = await start("A", workdir, dict(args.a_env), args.a_tree, args.worker_process)
        try:
            b = await start("B", workdir, dict(args.b_env), args.b_tree, args.worker_process)
        except BaseException:
            stop(a.process)
            raise
        try:
            print(
                f"load generator: {'wrk' if args.use_wrk else 'this process'}; "
                f"A and B: warroom serve{' --worker-process' if args.worker_process else ''}, "
                f"{args.size} alert(s) per webhook, {args.clients} clients, "
                f"{args.seconds:g} s phases, {args.rounds} rounds"
            )
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}", flush=True)
                for side in (a, b) if round_ % 2 == 0 else (b, a):
                    await phase(side, args, workdir)
            ratios = [rb / ra for ra, rb in zip(a.rates, b.rates, strict=True)]
            cpu_ratios = [
                cb / ca for ca, cb in zip(a.cpu_per_request, b.cpu_per_request, strict=True)
            ]
            print(
                f"RESULT B/A requests per second: median {statistics.median(ratios):.3f} "
                f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
            print(
                f"RESULT B/A CPU per request: median {statistics.median(cpu_ratios):.3f} "
                f"(A {statistics.median(a.cpu_per_request) * 1e6:.0f} us, "
                f"B {statistics.median(b.cpu_per_request) * 1e6:.0f} us)"
            )
        finally:
            stop(a.process)
            stop(b.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for side in ("a", "b"):
        parser.add_argument(
            f"--{side}-tree",
            type=checkout,
            help=f"a checkout whose code {side.upper()} runs (default: this one)",
        )
        parser.add_argument(
            f"--{side}-env",
            type=setting,
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"an environment variable for {side.upper()} (repeatable)",
        )
    parser.add_argument("--size", type=int, default=1, help="alerts per webhook")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5, help="per phase")
    parser.add_argument("--clients", type=int, default=8)
    add_client_option(parser)
    parser.add_argument(
        "--no-worker-process",
        dest="worker_process",
        action="store_false",
        help="serve in one process (default: --worker-process)",
    )
    args = parser.parse_args()
    args.use_wrk = uses_wrk(args)
    run_loop(run(args))


if __name__ == "__main__":
    main()
