"""docs/integrations/README.md "From zero to a person paged", followed literally: the commands
of its shell blocks run as written (the CLI against `warroom serve` on a fresh data dir, the
real Alertmanager and amtool) with only addresses, the key and Ann's contact replaced, until
her page arrives at a local receiver standing in for her phone."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.alerts.conftest import _free_port
from tests.support.receiver import http_receiver

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "README.md"
ADMIN_TOKEN = "wr_test_admin_0123456789"  # what the `served` fixture's first start prints
T = TypeVar("T")
pytestmark = pytest.mark.skipif(
    shutil.which("prometheus-alertmanager") is None or shutil.which("amtool") is None,
    reason="prometheus-alertmanager (Debian package) not installed",
)


def _walkthrough() -> tuple[list[str], str]:
    """The section's shell command lines, in order, and its alertmanager.yml."""
    text = DOC.read_text()
    section = text.split("## From zero to a person paged", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|yaml)\n(.*?)```", section, re.S)
    commands = [
        line
        for kind, body in blocks
        if kind == "sh"
        for line in body.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    [config] = [body for kind, body in blocks if kind == "yaml"]
    return commands, config


def test_following_the_docs_pages_ann(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    am_address = f"127.0.0.1:{_free_port()}"
    commands, config = _walkthrough()
    env = {
        **os.environ,
        "WARROOM_SERVER": url,
        "WARROOM_TOKEN": ADMIN_TOKEN,
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for name in ("WARROOM_DATA_DIR", "WARROOM_DATABASE_URL", "WARROOM_CONFIG"):
        env.pop(name, None)
    (tmp_path / "alertmanager.yml").write_text(config.replace("http://127.0.0.1:8080", url))
    key = ""
    incident = ""
    alertmanager: subprocess.Popen[bytes] | None = None
    with http_receiver() as phone:

        def substitute(line: str) -> list[str]:
            line = line.replace("ntfy://ntfy.sh/ann-pager", phone.json_url("/ann"))
            line = line.replace("127.0.0.1:9093", am_address).replace("INC-...", incident)
            return shlex.split(line, comments=True)

        try:
            for line in commands:
                argv = substitute(line)
                if argv[:2] == ["warroom", "serve"] or argv[0] == "export":
                    continue  # the `served` fixture is that server; `env` holds the exports
                if argv[0] == "printf":
                    (tmp_path / "warroom.key").write_text(key)
                elif argv[0] == "prometheus-alertmanager":
                    alertmanager = subprocess.Popen(
                        [*argv, f"--storage.path={tmp_path / 'am-data'}"],
                        cwd=tmp_path,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    _wait(lambda: _ready(f"http://{am_address}/-/ready"), "Alertmanager")
                elif argv[0] == "amtool":
                    subprocess.run(argv, check=True, capture_output=True, timeout=30)
                    # Step 7 reads what the alert did: wait for it (group_wait 10 s).
                    incident = _wait(lambda: _first_incident(url), "an incident")
                else:
                    assert argv[0] == "warroom", line
                    done = subprocess.run(
                        [sys.executable, "-m", *argv],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=120,
                    )
                    assert done.returncode == 0, (line, done.stdout, done.stderr)
                    if argv[1:3] == ["integrations", "create"]:
                        [key] = re.findall(r"\b[0-9a-f]{32}\b", done.stdout)
                    if argv[1] == "timeline":
                        assert "alert_attached" in done.stdout, done.stdout
            assert alertmanager is not None and incident, "the walk never fired an alert"
            pages = _wait(lambda: phone.requests, "Ann's page", seconds=60)
            page = pages[0].json()
            assert pages[0].path == "/ann"
            assert "HighErrorRate" in page["title"] + page["message"], page
            assert incident in page["title"] + page["message"], page
            details = httpx.get(
                f"{url}/api/v1/incidents/{incident}",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=10,
            ).json()
            assert (details["severity"], details["services"]) == ("SEV2", ["checkout-api"])
        finally:
            if alertmanager is not None:
                alertmanager.terminate()
                alertmanager.wait(timeout=20)


def _ready(address: str) -> bool:
    try:
        return httpx.get(address, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _first_incident(url: str) -> str:
    items = httpx.get(
        f"{url}/api/v1/incidents",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).json()["items"]
    return str(items[0]["id"]) if items else ""


def _wait(check: Callable[[], T], what: str, seconds: float = 60) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")
