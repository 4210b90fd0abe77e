"""The seed guardrails' commands: `warroom flag`, `warroom stop`, `resolve
--waive-verification`, and `config check` warning about a preset's safety option."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import use_local_database, wr, wr_json


@pytest.fixture
def orchestrator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    path = use_local_database(monkeypatch, tmp_path, database_url)
    config = tmp_path / "warroom.yaml"
    config.write_text("policy: orchestrator\n")
    monkeypatch.setenv("WARROOM_CONFIG", str(config))
    return path


def test_seed001_flag_command_raises_and_clears_a_condition_with_its_reason(
    orchestrator: Path,
) -> None:
    incident = wr_json("declare", "Orders missing", "--severity", "SEV2")["id"]
    assert wr("flag", incident, "data_loss").exit_code == 2  # --reason is required
    assert wr("flag", incident, "data_loss", "--reason", "  ").exit_code == 2
    assert wr("flag", incident, "stopped", "--reason", "x").exit_code == 2  # warroom's own
    assert wr_json("show", incident)["flags"] == {}
    data = wr_json("flag", incident, "data_loss", "--reason", "orders table truncated")
    assert data["flags"]["data_loss"] is True
    assert data["stopped"] is True  # 001: data loss is a MUST STOP
    shown = wr("show", incident)
    assert "MUST STOP" in shown.output and "data-loss" in shown.output
    assert wr("stop", "ack", incident, "data-loss", "--decision", "").exit_code == 2
    assert wr("stop", "ack", incident, "no-such-rule", "--decision", "x").exit_code == 2
    acked = wr_json("stop", "ack", incident, "data-loss", "--decision", "restore from backup")
    assert acked["stopped"] is False
    off = wr_json("flag", incident, "data_loss", "--off", "--reason", "restored")
    assert off["flags"]["data_loss"] is False
    assert wr_json("stop", "list", incident)["stops"] == {}


def test_seed001_resolve_waives_the_monitoring_window_only_as_commander(
    orchestrator: Path,
) -> None:
    incident = wr_json("declare", "Checkout slow", "--severity", "SEV3")["id"]
    shown = wr("show", incident).output
    assert "monitoring" in shown and "no mitigation recorded yet" in shown
    args = ("resolve", incident, "-m", "restarted", "--confirm", "all")
    refused = wr(*args)
    assert refused.exit_code == 2 and "verification" in refused.output
    not_commander = wr(*args, "--waive-verification", "false alarm")
    assert not_commander.exit_code == 2 and "commander" in not_commander.output
    wr_json("assign", incident, "commander", "alice")
    resolved = wr_json(*args, "--waive-verification", "false alarm")
    assert resolved["status"] == "resolved"


def test_seed003_config_check_warns_about_skip_if_sev1(tmp_path: Path) -> None:
    config = tmp_path / "warroom.yaml"
    config.write_text("policy: hierarchical\n")
    checked = wr("config", "check", str(config))
    assert checked.exit_code == 0
    assert "warning" in checked.output and "skip_review_if_sev1" in checked.output
    data = wr_json("config", "check", str(config))
    assert [w["path"] for w in data["warnings"]] == ["policy.hotfix.skip_review_if_sev1"]
    config.write_text("policy: default\n")
    assert wr_json("config", "check", str(config))["warnings"] == []


def test_seed004_resolve_needs_the_root_cause_and_the_permanent_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    use_local_database(monkeypatch, tmp_path, database_url)
    config = tmp_path / "warroom.yaml"
    config.write_text("policy: phased\n")
    monkeypatch.setenv("WARROOM_CONFIG", str(config))
    incident = wr_json("declare", "Database errors", "--severity", "SEV3")["id"]
    wr_json("mitigation", "record", incident, "restart", "--outcome", "succeeded")
    wr_json("verify", "confirm", incident, "--note", "healthy")
    args = ("resolve", incident, "-m", "pool exhaustion fixed", "--confirm", "all")
    refused = wr(*args, "--root-cause", "batch job held connections")
    assert refused.exit_code == 2
    assert "root_cause_and_fix" in refused.output or "permanent fix" in refused.output
    assert wr_json("show", incident)["status"] != "resolved"
    resolved = wr_json(
        *args,
        "--root-cause",
        "batch job held connections",
        "--permanent-fix",
        "connection timeout deployed",
    )
    assert resolved["status"] == "resolved"
    assert "connection timeout deployed" in wr("show", incident).output


def test_seed003_hotfix_pr_command_refuses_bad_branches_and_a_missing_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    use_local_database(monkeypatch, tmp_path, database_url)
    config = tmp_path / "warroom.yaml"
    config.write_text("policy: hierarchical\n")
    monkeypatch.setenv("WARROOM_CONFIG", str(config))
    incident = wr_json("declare", "Nil map", "--severity", "SEV2")["id"]
    wr_json("hotfix", "record", incident, "hf-1", "-d", "guard nil", "--root-cause", "nil map")
    bad = wr("hotfix", "pr", incident, "hf-1", "--head", "hotfix/../x")
    assert bad.exit_code == 2 and "branch" in bad.output
    assert wr("hotfix", "pr", incident, "hf-1").exit_code == 2  # --head is required
    missing = wr("hotfix", "pr", incident, "hf-1", "--head", "hotfix/nil-map")
    assert missing.exit_code == 2 and "emergency_pr" in missing.output
    (shown,) = wr_json("hotfix", "list", incident)["items"]
    assert shown["emergency_pr"]["state"] == "draft"
    sideways = wr("hotfix", "rollout", incident, "hf-1", "--stage", "sideways")
    assert sideways.exit_code == 2 and "full or halted" in sideways.output
    early = wr("hotfix", "rollout", incident, "hf-1", "--stage", "full")
    assert early.exit_code == 2 and "not deployed" in early.output
    assert wr_json("hotfix", "list", incident)["items"][0]["rollout"] is None


def test_seed003_config_check_warns_about_an_emergency_pr_repository_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WARROOM_TEST_GITHUB_TOKEN", raising=False)
    config = tmp_path / "warroom.yaml"
    github = "{repo: acme/checkout, token_env: WARROOM_TEST_GITHUB_TOKEN}"
    config.write_text(f"policy: default\nemergency_pr:\n  github: {github}\n")
    data = wr_json("config", "check", str(config))
    assert [w["path"] for w in data["warnings"]] == ["emergency_pr.github.token_env"]
    monkeypatch.setenv("WARROOM_TEST_GITHUB_TOKEN", "ghp_x")
    assert wr_json("config", "check", str(config))["warnings"] == []
    config.write_text("policy: default\nemergency_pr:\n  github: {repo: not a repo}\n")
    assert wr("config", "check", str(config)).exit_code != 0
