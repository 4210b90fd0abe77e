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
DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations"


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


def _run_alertmanager(tmp_path: Path, receiver: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        """
route:
  receiver: warroom
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: warroom
"""
        + receiver
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

    def ready() -> bool:
        try:
            return httpx.get(am_url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait_for(ready)
    return am, am_url


def _fire_then_resolve(url: str, am_url: str) -> str:
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
    assert incident["services"] == ["payments"]
    resolved = {**alert, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
    assert httpx.post(am_url + "/api/v2/alerts", json=[resolved], timeout=5).status_code == 200

    def monitoring() -> bool:
        data = httpx.get(
            url + f"/api/v1/incidents/{incident['id']}", headers=ADMIN, timeout=5
        ).json()
        return bool(data["status"] == "monitoring")

    _wait_for(monitoring)
    return str(incident["id"])


def _docs_yaml(page: str, marker: str) -> str:
    """The receiver entry of the docs' YAML block containing `marker` (from `- name:` on)."""
    text = (DOCS / page).read_text()
    for block in text.split("```yaml")[1:]:
        block = block.split("```")[0]
        if marker in block:
            entry = block[block.index("  - name:") :]
            return "\n".join(line for line in entry.splitlines()[1:]) + "\n"
    raise AssertionError(f"no YAML block with {marker!r} in {page}")


def _key(url: str, name: str, kind: str, service: str | None = "payments") -> str:
    options = {"service": service} if service else {}
    response = httpx.post(
        url + "/api/v1/integrations",
        json={"name": name, "kind": kind, "options": options},
        headers=ADMIN,
        timeout=10,
    )
    return str(response.json()["key"])


def test_alertmanager_webhook_delivers_firing_and_resolved(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = served
    (tmp_path / "warroom.key").write_text(_key(url, "prometheus", "alertmanager"))
    am, am_url = _run_alertmanager(
        tmp_path,
        f"""    webhook_configs:
      - url: {url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {tmp_path / "warroom.key"}
""",
    )
    try:
        incident = _fire_then_resolve(url, am_url)
        data = httpx.get(url + f"/api/v1/incidents/{incident}", headers=ADMIN, timeout=5).json()
        assert data["severity"] == "SEV2"
        stored = httpx.get(url + "/api/v1/alerts", headers=ADMIN, timeout=5).json()["items"]
        assert len(stored[0]["identity"]) == 16  # Alertmanager's fingerprint
    finally:
        am.terminate()
        am.wait(timeout=20)


def test_alertmanager_pagerduty_receiver_speaks_events_v2(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    """Alertmanager's own PagerDuty integration, pointed at warroom's /v2/enqueue with the
    receiver from docs/integrations/pagerduty.md: a critical alert is a SEV2 of its service."""
    url, _ = served
    key = _key(url, "am-pagerduty", "pagerduty", service=None)
    receiver = _docs_yaml("pagerduty.md", "pagerduty_configs:")
    receiver = receiver.replace("<KEY>", key).replace("http://warroom.example.com:8080", url)
    am, am_url = _run_alertmanager(tmp_path, receiver)
    try:
        incident = _fire_then_resolve(url, am_url)
        data = httpx.get(url + f"/api/v1/incidents/{incident}", headers=ADMIN, timeout=5).json()
        assert data["severity"] == "SEV2"
        stored = httpx.get(url + "/api/v1/alerts", headers=ADMIN, timeout=5).json()["items"]
        assert stored[0]["integration"] == "am-pagerduty"
        assert stored[0]["status"] == "resolved"
    finally:
        am.terminate()
        am.wait(timeout=20)
