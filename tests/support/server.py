"""Real `warroom serve` / `warroom worker` processes for end-to-end and crash tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

WARROOM = str(Path(sys.executable).with_name("warroom"))
ADMIN_TOKEN = "wr_test-admin-token-for-real-processes"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def alertmanager_key(self, name: str = "prom") -> str:
        """The ingest key of a new Alertmanager integration, made through the API."""
        created = httpx.post(
            f"{self.url}/api/v1/integrations",
            json={"name": name, "kind": "alertmanager"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        return key


def process_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env.update(
        WARROOM_DATABASE_URL=database_url,
        WARROOM_DATA_DIR=str(data_dir),
        WARROOM_ADMIN_TOKEN=ADMIN_TOKEN,
        WARROOM_TOKEN_RATE_LIMIT="0",
        **extra,
    )
    return env


def start_server(
    database_url: str,
    data_dir: Path,
    *,
    worker: bool = True,
    worker_process: bool = False,
    **extra: str,
) -> Process:
    """Start `warroom serve` on a free port and wait until it is ready."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    args = [WARROOM, "serve", "--port", str(port), "--log-level", "warning"]
    if not worker:
        args.append("--no-worker")
    if worker_process:
        args.append("--worker-process")
    with log.open("wb") as out:
        popen = subprocess.Popen(
            args, env=process_env(database_url, data_dir, **extra), stdout=out, stderr=out
        )
    process = Process(popen, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"warroom serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{process.url}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.stop()
    raise RuntimeError(f"warroom serve did not become ready: {log.read_text()[-2000:]}")


def start_worker(
    database_url: str, data_dir: Path, *, lease: float | None = None, **extra: str
) -> Process:
    log = data_dir.parent / f"worker-{time.monotonic_ns()}.log"
    args = [WARROOM, "worker", "--poll", "0.1"]
    if lease is not None:
        args += ["--lease", str(lease)]  # short leases: a killed worker's rows come back soon
    with log.open("wb") as out:
        popen = subprocess.Popen(
            args,
            env=process_env(database_url, data_dir, **extra),
            stdout=out,
            stderr=out,
        )
    return Process(popen, "", log)


@contextmanager
def servers(
    database_url: str, tmp_path: Path, count: int, **kwargs: bool
) -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        for n in range(count):
            data_dir = tmp_path / f"replica{n}"
            data_dir.mkdir(parents=True, exist_ok=True)
            started.append(start_server(database_url, data_dir, **kwargs))
        yield started
    finally:
        for process in started:
            process.stop()
