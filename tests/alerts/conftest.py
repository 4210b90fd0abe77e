"""Fixtures for the alerts tests: a real `warroom serve` on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    data = tmp_path / "served"
    env = {
        **os.environ,
        "WARROOM_DATA_DIR": str(data),
        "WARROOM_ADMIN_TOKEN": "wr_test_admin_0123456789",
    }
    for name in ("WARROOM_DATABASE_URL", "WARROOM_CONFIG"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("warroom serve did not start")
        yield url, data / "warroom.db"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
