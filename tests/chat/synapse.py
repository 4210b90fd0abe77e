"""A real Synapse homeserver (PyPI `matrix-synapse`, SQLite) for the Matrix tests.

Synapse is AGPL, so it only ever runs as an external process from its own venv:
`$WARROOM_SYNAPSE_VENV`, default `.cache/synapse-venv` in the checkout (`.ci/run` installs
it there; a missing venv is created here when PyPI is reachable). Locally the Matrix tests
skip when it cannot be installed; in CI (CI=true) that is an error.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("WARROOM_SYNAPSE_VENV", ROOT / ".cache" / "synapse-venv"))
SERVER_NAME = "warroom.test"
SHARED_SECRET = "synapse-test-registration-secret"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Relaxed rate limits: with the defaults the 11th room creation gets M_LIMIT_EXCEEDED.
_LIMIT = "{per_second: 1000, burst_count: 1000}"
CONFIG = f"""
server_name: "{SERVER_NAME}"
pid_file: "{{dir}}/homeserver.pid"
report_stats: false
listeners:
  - port: {{port}}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{{dir}}/homeserver.db"
media_store_path: "{{dir}}/media"
signing_key_path: "{{dir}}/signing.key"
log_config: "{{dir}}/log.yaml"
registration_shared_secret: "{SHARED_SECRET}"
trusted_key_servers: []
suppress_key_server_warning: true
enable_registration: false
# No cached /sync answers: a test that resumes from an older token must see the server's state.
caches:
  sync_response_cache_duration: 0
rc_message: {_LIMIT}
rc_registration: {_LIMIT}
rc_room_creation: {_LIMIT}
rc_joins_per_room: {_LIMIT}
rc_joins:
  local: {_LIMIT}
  remote: {_LIMIT}
rc_invites:
  per_room: {_LIMIT}
  per_user: {_LIMIT}
  per_issuer: {_LIMIT}
rc_login:
  address: {_LIMIT}
  account: {_LIMIT}
  failed_attempts: {_LIMIT}
"""
LOG_CONFIG = """
version: 1
formatters:
  plain: {format: "%(asctime)s %(levelname)s %(name)s: %(message)s"}
handlers:
  file: {class: logging.FileHandler, formatter: plain, filename: "{dir}/homeserver.log"}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


def python() -> Path | None:
    """The Synapse venv's python, installing Synapse there first if needed."""
    exe = VENV / "bin" / "python"
    probe = [str(exe), "-c", "import synapse.app.homeserver"]
    if exe.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return exe
    try:
        if not exe.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True
            )
        subprocess.run(
            [str(exe), "-m", "pip", "install", "-q", "matrix-synapse"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return exe if subprocess.run(probe, capture_output=True).returncode == 0 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class User:
    user_id: str
    token: str

    def client(self, url: str) -> httpx.Client:
        return httpx.Client(
            base_url=url + "/_matrix/client/v3",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )


@dataclass
class Synapse:
    url: str
    process: subprocess.Popen[bytes]

    def register(self, name: str) -> User:
        """A user through the shared-secret admin API (HMAC-SHA1 over nonce, user, password)."""
        endpoint = self.url + "/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=10).json()["nonce"]
        password = f"pw-{name}-0123"
        mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(), b"notadmin"]))
        response = httpx.post(
            endpoint,
            json={
                "nonce": nonce,
                "username": name,
                "password": password,
                "admin": False,
                "mac": mac.hexdigest(),
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return User(body["user_id"], body["access_token"])


def start(directory: Path) -> Synapse:
    exe = python()
    if exe is None:
        if IN_CI:
            pytest.fail("CI must run the Synapse tests: matrix-synapse could not be installed")
        pytest.skip("matrix-synapse is not installed and could not be installed")
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "homeserver.yaml"
    config.write_text(CONFIG.replace("{dir}", str(directory)).replace("{port}", str(port)))
    (directory / "log.yaml").write_text(LOG_CONFIG.replace("{dir}", str(directory)))
    base = [str(exe), "-m", "synapse.app.homeserver", "-c", str(config)]
    subprocess.run([*base, "--generate-keys"], check=True, capture_output=True, timeout=120)
    process = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (
                (directory / "homeserver.log").read_text()
                if (directory / "homeserver.log").exists()
                else ""
            )
            pytest.fail(f"Synapse exited at start:\n{log[-3000:]}")
        try:
            if httpx.get(url + "/_matrix/client/versions", timeout=1).status_code == 200:
                return Synapse(url, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail("Synapse did not start within 90 s")


def stop(server: Synapse) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
