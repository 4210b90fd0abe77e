"""The CLI against the local database, and against a real `warroom serve` with --server."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.cli import use_local_database
from warroom.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def wr(*args: str, input: str | None = None) -> Any:
    result = runner.invoke(app, list(args), catch_exceptions=False, input=input)
    return result


def wr_json(*args: str) -> Any:
    result = wr(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_declare_show_and_lifecycle(cli_env: Path) -> None:
    data = wr_json("declare", "Checkout failing", "--severity", "P1", "--service", "payments")
    incident = data["id"]
    assert re.fullmatch(r"INC-\d{8}-001", incident)
    assert data["severity"] == "SEV2"
    assert wr_json("ack", incident)["status"] == "acknowledged"
    assert wr_json("assign", incident, "commander", "carol")["roles"] == {"commander": "carol"}
    assert wr_json("status", incident, "investigating")["status"] == "investigating"
    wr_json("note", incident, "rolled back payments v2.3.1")
    resolved = wr_json("resolve", incident, "-m", "rolled back", "--confirm", "all")
    assert resolved["status"] == "resolved"
    closed = wr("close", incident)
    assert closed.exit_code == 2
    assert "post-mortem" in closed.output
    wr_json("postmortem", "schedule", incident, "--owner", "dana", "--due", "48h")
    assert wr("close", incident).exit_code == 2  # required: must be published, not just scheduled
    assert wr("postmortem", "submit", incident).exit_code == 2  # its root cause is not written
    source = cli_env / "pm.md"
    source.write_text(
        wr_json("postmortem", "show", incident)["body"].replace(
            "What in the system allowed this to happen? Describe mechanisms, not people.",
            "A bad deploy of payments v2.3.1.",
        )
    )
    wr_json("postmortem", "edit", incident, "--file", str(source))
    wr_json("postmortem", "submit", incident)
    wr_json("postmortem", "publish", incident)
    assert wr_json("close", incident)["status"] == "closed"
    timeline = wr_json("timeline", incident)["events"]
    assert timeline[0]["actor"] == "alice"
    assert [e["type"] for e in timeline][-1] == "closed"
    human = wr("show", incident)
    assert human.exit_code == 0
    assert "Checkout failing" in human.output and "closed" in human.output


def test_list_filters_and_human_table(cli_env: Path) -> None:
    wr_json("declare", "Payments down", "-s", "SEV1", "--service", "payments")
    wr_json("declare", "Search slow", "-s", "SEV3", "--service", "search")
    assert [i["title"] for i in wr_json("list", "--service", "search")["items"]] == ["Search slow"]
    assert len(wr_json("list", "-s", "SEV1", "-s", "SEV2")["items"]) == 1
    assert wr_json("list", "--closed")["items"] == []
    output = wr("list").output
    assert "Payments down" in output and "Search slow" in output


@pytest.mark.parametrize(
    "args",
    [
        ["declare", "x", "--severity", "SEV9"],
        ["status", "INC-20200101-001", "investigating"],
        ["declare", "x", "-s", "SEV1", "--label", "novalue"],
        ["declare", "x", "-s", "SEV1", "--started-at", "yesterday-ish"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli_env: Path, args: list[str]) -> None:
    result = wr(*args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error:")
    assert len(result.output.strip().splitlines()) <= 2
    assert wr_json("list")["items"] == []


def test_triage_non_interactive(cli_env: Path) -> None:
    proposal = wr_json("triage", "--security-breach")
    assert proposal["severity"] == "SEV1"
    assert proposal["type"] == "security_incident"
    incident = wr_json("declare", "Odd logins", "-s", "SEV3")["id"]
    refused = wr("triage", incident, "--security-breach", "--severity", "SEV2")
    assert refused.exit_code == 2
    assert "reason" in refused.output
    data = wr_json(
        "triage", incident, "--security-breach", "--severity", "SEV2", "--reason", "test tenant"
    )
    assert data["severity"] == "SEV2"


def test_all_unknown_triage_in_the_cli_proposes_no_severity(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked at a terminal, '?' (the default) is unknown; all unknown proposes nothing and
    `declare` asks for the severity instead of taking the lowest."""
    from warroom.core.vocab import TRIAGE_QUESTIONS
    from warroom.incidents import cli as incident_cli

    monkeypatch.setattr(incident_cli, "_interactive", lambda: True)
    unknown = "\n" * (len(TRIAGE_QUESTIONS) + 1)
    result = wr("triage", input=unknown)
    assert result.exit_code == 1
    assert "No severity proposed: every triage answer is unknown" in result.output
    assert "Proposed:" not in result.output
    declared = wr("declare", "Something odd", input=unknown + "SEV2\n")
    assert declared.exit_code == 0, declared.output
    assert "every triage answer is unknown" in declared.output
    assert "SEV2" in declared.output
    incident = wr_json("list")["items"][0]
    assert incident["severity"] == "SEV2"
    one_yes = "y\n" + "\n" * len(TRIAGE_QUESTIONS)
    assert "Proposed: SEV1" in wr("triage", input=one_yes).output
    bad = wr("triage", input="maybe\n" + unknown)
    assert "answer y, n or ? (unknown)" in bad.output


def test_every_triage_question_is_a_cli_flag(cli_env: Path) -> None:
    """The CLI asks what the web form and the agent tool ask (warroom.core.vocab)."""
    from warroom.core.vocab import TRIAGE_QUESTIONS

    help_text = wr("triage", "--help").output
    assert all(q.yes_flag in help_text for q in TRIAGE_QUESTIONS)
    assert wr_json("triage", "--infrastructure")["type"] == "infrastructure_failure"
    assert wr_json("triage", "--no-infrastructure", "--data-loss")["type"] == "data_loss"


def test_tokens_and_policy_and_config_check(cli_env: Path, tmp_path: Path) -> None:
    created = wr_json("token", "create", "ci-bot", "--scope", "ingest")
    assert created["scopes"] == ["ingest"]
    assert [t["name"] for t in wr_json("token", "list")["items"]] == ["ci-bot"]
    assert wr_json("token", "revoke", str(created["id"]))["revoked"] is True
    policy = wr_json("policy", "show")
    assert [s["id"] for s in policy["severities"]][:2] == ["SEV1", "SEV2"]
    assert wr("policy", "show").exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy:\n  extends: default\n  recurrence_window: soon\nservices: 7\n")
    result = wr("config", "check", str(bad))
    assert result.exit_code == 1
    assert "recurrence_window" in result.output and "services" in result.output
    good = tmp_path / "good.yaml"
    good.write_text("policy: default\nservices:\n  - name: payments\n")
    assert wr("config", "check", str(good)).exit_code == 0


def test_db_upgrade(cli_env: Path) -> None:
    assert wr_json("db", "upgrade")["to"] is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real `warroom serve` on SQLite, and the admin token it printed on first start."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env.update(WARROOM_DATA_DIR=str(tmp_path / "srv"), WARROOM_PORT=str(port), COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    token = None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline and token is None:
        line = proc.stdout.readline()
        lines.append(line)
        found = re.search(r"(wr_[A-Za-z0-9_-]{20,})", line)
        if found:
            token = found.group(1)
    assert token, "".join(lines)
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    assert any(url in line for line in lines), lines
    try:
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_remote_cli_against_real_server(
    server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token = server
    for name in ("WARROOM_DATABASE_URL", "WARROOM_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data = wr_json("--server", url, "--token", token, "declare", "Remote", "-s", "SEV4")
    assert data["timeline"] if "timeline" in data else data["id"].startswith("INC-")
    listed = wr_json("--server", url, "--token", token, "list")
    assert [i["id"] for i in listed["items"]] == [data["id"]]
    denied = wr("--server", url, "--token", "wr_wrong", "list")
    assert denied.exit_code == 2
    assert "invalid" in denied.output
    events = httpx.get(
        f"{url}/api/v1/incidents/{data['id']}/timeline",
        headers={"Authorization": f"Bearer {token}"},
    ).json()["events"]
    assert events[0]["actor"] == "token:admin (first start)"
