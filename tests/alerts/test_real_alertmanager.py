"""The real Prometheus Alertmanager (Debian's prometheus-alertmanager) delivering to warroom
with the alertmanager.yml from docs/integrations/alertmanager.md."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

BINARY = shutil.which("prometheus-alertmanager")
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")
ADMIN = {"Authorization": "Bearer wr_test_admin_0123456789"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail("timed out waiting")


def test_alertmanager_delivers_firing_and_resolved(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = served
    key = httpx.post(
        url + "/api/v1/integrations",
        json={"name": "prometheus", "kind": "alertmanager"},
        headers=ADMIN,
        timeout=10,
    ).json()["key"]
    (tmp_path / "warroom.key").write_text(key)
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: warroom
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: warroom
    webhook_configs:
      - url: {url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {tmp_path / "warroom.key"}
"""
    )
    assert BINARY is not None
    am = subprocess.Popen(
        [
            BINARY,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    am_url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(am_url + "/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(ready)
        labels = {"alertname": "HighErrorRate", "service": "payments", "severity": "critical"}
        now = datetime.now(UTC)
        alert = {
            "labels": labels,
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "generatorURL": "http://prometheus:9090/graph",
        }
        assert httpx.post(am_url + "/api/v2/alerts", json=[alert], timeout=5).status_code == 200

        def incidents() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = httpx.get(
                url + "/api/v1/incidents", headers=ADMIN, timeout=5
            ).json()["items"]
            return items

        (incident,) = _wait_for(incidents)
        assert incident["severity"] == "SEV2" and incident["services"] == ["payments"]
        stored = httpx.get(url + "/api/v1/alerts", headers=ADMIN, timeout=5).json()["items"]
        assert stored[0]["identity"] and len(stored[0]["identity"]) == 16  # AM fingerprint
        resolved = {**alert, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
        assert httpx.post(am_url + "/api/v2/alerts", json=[resolved], timeout=5).status_code == 200

        def monitoring() -> bool:
            data = httpx.get(
                url + f"/api/v1/incidents/{incident['id']}", headers=ADMIN, timeout=5
            ).json()
            return bool(data["status"] == "monitoring")

        _wait_for(monitoring)
    finally:
        am.terminate()
        am.wait(timeout=20)
