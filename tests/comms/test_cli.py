"""`warroom statuspage ...` against the local database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.cli import use_local_database
from warroom.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def wr_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_statuspage_commands(cli_env: Path) -> None:
    wr_json("statuspage", "component-add", "api", "Public API", "--group", "Platform")
    assert [c["id"] for c in wr_json("statuspage", "components")["items"]] == ["api"]
    opened = wr_json(
        "statuspage", "incident-create", "Slow API", "-m", "Investigating", "--component", "api"
    )
    code = opened["id"]
    assert opened["status"] == "investigating"
    updated = wr_json("statuspage", "incident-update", code, "--status", "resolved", "-m", "Fixed")
    assert updated["resolved_at"] is not None
    assert [i["id"] for i in wr_json("statuspage", "incidents")["items"]] == [code]
    window = wr_json(
        "statuspage", "maintenance-add", "DB upgrade", "--from", "1h", "--until", "2h",
        "--component", "api",
    )  # fmt: skip
    assert window["status"] == "scheduled"
    assert len(wr_json("statuspage", "maintenances")["items"]) == 1
    wr_json("statuspage", "maintenance-cancel", window["id"])
    assert wr_json("statuspage", "maintenances")["items"] == []
    set_status = wr_json("statuspage", "component-set", "api", "--status", "partial_outage")
    assert set_status["status"] == "partial_outage"
    assert wr_json("statuspage", "subscribers")["items"] == []
    bad = runner.invoke(app, ["statuspage", "component-set", "api", "--status", "on_fire"])
    assert bad.exit_code == 2
    human = runner.invoke(app, ["statuspage", "components"])
    assert human.exit_code == 0 and "Public API" in human.output


def test_publish_and_draft_commands(cli_env: Path) -> None:
    added = wr_json("statuspage", "component-add", "billing", "Billing", "--draft")
    assert added["published"] is False
    human = runner.invoke(app, ["statuspage", "components"])
    assert human.exit_code == 0 and "draft" in human.output
    assert "warroom statuspage publish ID" in human.output
    assert wr_json("statuspage", "publish", "billing")["published"] is True
    assert wr_json("statuspage", "unpublish", "billing")["published"] is False
    missing = runner.invoke(app, ["statuspage", "publish", "nope"])
    assert missing.exit_code != 0 and "no component nope" in missing.output
    assert wr_json("statuspage", "components")["items"][0]["published"] is False
