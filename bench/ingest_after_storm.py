"""Latency at 1,000 alerts/s right after a storm, and after a quiet spell, in turns.

After a storm the worker process folds the intake log's write-ahead file back into the log
(hundreds of megabytes after a few seconds of 10-alert webhooks), and the server's commits
share the disk with that. Each round: a storm of mixed webhooks (1-20 alerts, 8 connections,
as `bench/ingest.py` sends them), until processing has caught up; then 10-alert webhooks at
1,000 alerts/s on a fixed schedule; then 3 quiet seconds and the same again.

    python bench/ingest_after_storm.py --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import (
    Workload,
    add_client_option,
    backlog,
    drive,
    free_port,
    launch_serve,
    open_loop,
    run_loop,
    setup,
    stop,
    to_warroom,
    uses_wrk,
)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="warroom-after-storm-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server = launch_serve(workdir / "data", port, {}, "--worker-process")
        try:
            key = await setup(port)
            workload = Workload()
            mixed, tens = to_warroom(workload, key, None), to_warroom(workload, key, 10)
            for round_ in range(1, args.rounds + 1):
                for after in ("storm", "quiet"):
                    if after == "storm":
                        storm = await drive(args.use_wrk, port, 8, args.seconds, mixed, workdir)
                        began = time.perf_counter()
                        while await backlog(port):
                            await asyncio.sleep(0.05)
                        print(
                            f"[{round_}] storm: {storm[1]} alerts in {args.seconds} s, "
                            f"processed {time.perf_counter() - began:.1f} s after",
                            flush=True,
                        )
                    else:
                        await asyncio.sleep(3)
                    _, _, latencies, errors = await open_loop(port, 100, args.seconds, tens)
                    ordered = sorted(latencies)
                    print(
                        f"[{round_}] 1,000 alerts/s after {after}: "
                        f"p50 {ordered[len(ordered) // 2] * 1e3:.1f} ms, "
                        f"p99 {ordered[int(len(ordered) * 0.99)] * 1e3:.1f} ms, "
                        f"slowest {ordered[-1] * 1e3:.1f} ms, errors {errors}",
                        flush=True,
                    )
        finally:
            stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5, help="per phase")
    add_client_option(parser)
    args = parser.parse_args()
    args.use_wrk = uses_wrk(args)
    run_loop(run(args))


if __name__ == "__main__":
    main()
