"""The workbench commands against the local database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from warroom.cli.main import app

runner = CliRunner()

RUNBOOK = """
id: ops
title: Payments ops
match: {services: [payments]}
steps:
  - {id: smoke, kind: command, title: Smoke test, command: 'echo smoke ok', timeout: 10}
"""


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "ops.yaml").write_text(RUNBOOK)
    config = {
        "services": [
            {"name": "payments", "rollback_command": "deploy rollback payments"},
            {"name": "web"},
        ],
        "runbooks": {
            "dir": str(folder),
            "auto_run": False,
            "command_executor": {"enabled": True, "allow_runbooks": ["ops"]},
        },
    }
    (tmp_path / "warroom.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    monkeypatch.setenv("WARROOM_CONFIG", str(tmp_path / "warroom.yaml"))
    monkeypatch.setenv("WARROOM_ACTOR", "alice")
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def wr(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def wr_json(*args: str) -> Any:
    result = wr(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_change_record_and_correlate(cli_env: Path) -> None:
    change = wr_json(
        "change",
        "record",
        "--service",
        "payments",
        "--kind",
        "deploy",
        "--version",
        "v2.3.1",
        "--by",
        "ci",
        "--link",
        "https://ci.example/build/7",
        "--at",
        "10m ago",
    )
    assert change["service"] == "payments"
    assert change["link"] == "https://ci.example/build/7"
    bad = wr("change", "record", "--service", "payments", "--kind", "rocket")
    assert bad.exit_code == 2
    unknown = wr("change", "record", "--service", "nope", "--kind", "deploy")
    assert unknown.exit_code == 2
    incident = wr_json(
        "declare", "Checkout failing", "--severity", "SEV2", "--service", "payments"
    )["id"]
    correlated = wr_json("change", "correlate", incident)["changes"]
    assert len(correlated) == 1
    assert correlated[0]["reason"].startswith("deploy of payments v2.3.1, 10 minutes before impact")
    human = wr("change", "correlate", incident)
    assert "same service" in human.output
    suggestions = wr_json("mitigation", "suggest", incident)["suggestions"]
    assert suggestions[0]["action"] == "rollback"
    assert suggestions[0]["command"] == "deploy rollback payments"
    recorded = wr_json("mitigation", "record", incident, "rollback", "--outcome", "failed")
    assert recorded["mitigation_exhausted"] is True


def test_runbook_list_show_run(cli_env: Path) -> None:
    listed = {r["id"]: r for r in wr_json("runbook", "list")["items"]}
    assert len(listed) == 12  # 11 built-ins (seeds 000, 002, 003) and the config's own
    assert listed["ops"]["command_executor"] is True
    assert listed["service_down"]["builtin"] is True
    shown = wr("runbook", "show", "high_error_rate")
    assert shown.exit_code == 0
    assert "[metric]" in shown.output
    incident = wr_json("declare", "Payments down", "--severity", "SEV2", "--service", "payments")[
        "id"
    ]
    assert [r["id"] for r in wr_json("runbook", "matching", incident)["items"]] == [
        "ops",
        "service_down",
    ]
    ran = wr_json("runbook", "run", incident, "ops", "--step", "1")["results"][0]
    assert ran["status"] == "passed"
    assert "smoke ok" in ran["output"]
    missing = wr("runbook", "run", incident, "ops", "--step", "7")
    assert missing.exit_code == 2


def test_runbook_check(cli_env: Path) -> None:
    assert wr("runbook", "check").exit_code == 0
    assert wr_json("runbook", "check")["runbooks"] == 12
    bad = cli_env / "bad"
    bad.mkdir()
    (bad / "broken.yaml").write_text(
        "id: broken\ntitle: Broken\nsteps:\n  - {id: a, kind: http, title: No URL}\n"
    )
    result = wr("runbook", "check", str(bad))
    assert result.exit_code == 1
    assert "steps.0.http.url" in result.output
    assert wr("runbook", "check", str(cli_env / "runbooks" / "ops.yaml")).exit_code == 0


def test_config_check_covers_runbooks_and_health_checks(tmp_path: Path) -> None:
    config = {
        "services": [{"name": "payments", "health_checks": [{"expect_status": [200]}]}],
        "runbooks": {
            "dir": str(tmp_path / "missing"),
            "command_executor": {"enabled": True, "allow_runbooks": ["nope"]},
        },
    }
    path = tmp_path / "warroom.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["config", "check", str(path), "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    paths = " ".join(p["path"] for p in problems)
    assert "services.0.health_checks.0.url" in paths
    assert "runbooks.command_executor.allow_runbooks" in paths
    assert any("does not exist" in p["message"] for p in problems)


def test_hotfix_commands(cli_env: Path) -> None:
    incident = wr_json("declare", "Payments down", "--severity", "SEV1", "--service", "payments")[
        "id"
    ]
    recorded = wr_json(
        "hotfix",
        "record",
        incident,
        "hf-1",
        "--author",
        "bob",
        "--gate",
        "tests=skipped:no time",
        "--gate",
        "staging=passed",
    )
    assert recorded["deploy_blockers"] == ["no review by someone other than the author"]
    refused = wr("hotfix", "deploy", incident, "hf-1")
    assert refused.exit_code == 2
    assert "review" in refused.output
    typed_review = wr("hotfix", "gate", incident, "hf-1", "--gate", "review=passed:carol")
    assert typed_review.exit_code == 2  # a review is never a name typed by someone else
    assert "warroom hotfix review" in typed_review.output
    self_review = wr("--as", "bob", "hotfix", "review", incident, "hf-1")
    assert self_review.exit_code == 2
    reviewed = wr_json("--as", "carol", "hotfix", "review", incident, "hf-1", "--note", "read")
    assert next(g for g in reviewed["gates"] if g["gate"] == "review")["by"] == "carol"
    assert wr_json("hotfix", "deploy", incident, "hf-1")["deployed"] is True
    assert (
        wr("hotfix", "record", incident, "hf-2", "--author", "x", "--gate", "tests").exit_code == 2
    )
