"""`warroom import opsgenie`: from a local Opsgenie API to people, teams, schedules and
escalation policies whose on-call answers agree with Opsgenie's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.importers.opsgenie_api import INSTANTS, KEY, OpsgenieApi, serve
from tests.support.cli import use_local_database
from warroom.cli.main import app as cli

runner = CliRunner()
EMAIL = "mailto://warroom:secret@smtp.example.com?to={address}"


@pytest.fixture
def opsgenie() -> Iterator[tuple[OpsgenieApi, str]]:
    api = OpsgenieApi()
    with serve(api) as url:
        yield api, url


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def run(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def import_args(url: str, *extra: str) -> list[str]:
    verify = [arg for at in INSTANTS for arg in ("--verify-at", at)]
    return [
        "import",
        "opsgenie",
        "--api-url",
        url,
        "--token",
        KEY,
        "--email-url",
        EMAIL,
        *verify,
        *extra,
    ]


def show(kind: str, name: str) -> dict[str, Any]:
    result = run("oncall", kind, "show", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_dry_run_changes_nothing(local: Path, opsgenie: tuple[OpsgenieApi, str]) -> None:
    _, url = opsgenie
    result = run(*import_args(url, "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "would create 7," in result.output
    listed = run("oncall", "person", "list", "--json")
    assert json.loads(listed.stdout)["items"] == []


def test_import_agrees_with_opsgenie_across_dst_and_overrides(
    local: Path, opsgenie: tuple[OpsgenieApi, str]
) -> None:
    api, url = opsgenie
    result = run(*import_args(url))
    assert result.exit_code == 0, result.output
    assert "agrees with Opsgenie" in result.output
    ann = show("person", "ann")
    assert ann["email"] == "ann@example.com" and ann["timezone"] == "Europe/Berlin"
    assert sorted(show("team", "platform")["members"]) == ["ann", "bob"]
    policy = show("escalation", "platform")
    # Opsgenie's delays count from the alert (0 and 15 min); warroom's from the level before.
    assert [(level["targets"], level["delay_minutes"]) for level in policy["levels"]] == [
        (["schedule:platform-primary"], 15),
        (["person:cem"], 10),
    ]
    assert policy["repeat"] == 2
    assert any("offset=2" in r for r in api.requests if r.startswith("/v2/users"))


def test_reimport_changes_nothing_that_did_not_change(
    local: Path, opsgenie: tuple[OpsgenieApi, str]
) -> None:
    _, url = opsgenie
    assert run(*import_args(url)).exit_code == 0
    again = run(*import_args(url, "--json"))
    report = json.loads(again.stdout[: again.stdout.rindex("}") + 1])
    assert {a["action"] for a in report["actions"]} == {"unchanged"}


def test_a_wrong_key_is_refused(local: Path, opsgenie: tuple[OpsgenieApi, str]) -> None:
    _, url = opsgenie
    result = run("import", "opsgenie", "--api-url", url, "--token", "wrong")
    assert result.exit_code == 2 and "refused the token" in result.output
