"""CLI start-up: how long `warroom --help` (and a command that fails before any I/O) take.

Runs each command `--runs` times in a fresh process and prints the median and best wall time,
and the median CPU time of the child (user + system; steadier than wall time on a busy
machine). Target (issue 20): under 0.3 s.

    python bench/cli_startup.py
    python bench/cli_startup.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "warroom --help": ["--help"],
    "warroom alerts --help": ["alerts", "--help"],
}


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `python -m warroom ARGS` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "warroom", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "WARROOM_DATA_DIR": str(Path(data_dir))}
        run_once(["--help"], env)  # warm the file cache and byte-code
        print(f"load average: {os.getloadavg()[0]:.1f}; {options.runs} runs each")
        for label, args in COMMANDS.items():
            results = [run_once(args, env) for _ in range(options.runs)]
            walls = [w for w, _ in results]
            cpus = [c for _, c in results]
            print(
                f"  {label:24} wall median {statistics.median(walls):.3f} s "
                f"(best {min(walls):.3f} s), CPU median {statistics.median(cpus):.3f} s"
            )


if __name__ == "__main__":
    main()
