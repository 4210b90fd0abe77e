"""`warroom import grafana-oncall`: from a local Grafana OnCall API to people, teams,
schedules and escalation policies whose on-call answers agree with Grafana OnCall's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.importers.grafana_oncall_api import INSTANTS, TOKEN, GrafanaOnCallApi, serve
from tests.support.cli import use_local_database
from warroom.cli.main import app as cli

runner = CliRunner()
EMAIL = "mailto://warroom:secret@smtp.example.com?to={address}"


@pytest.fixture
def grafana() -> Iterator[tuple[GrafanaOnCallApi, str]]:
    api = GrafanaOnCallApi()
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
        "grafana-oncall",
        "--api-url",
        url,
        "--token",
        TOKEN,
        "--email-url",
        EMAIL,
        *verify,
        *extra,
    ]


def show(kind: str, name: str) -> dict[str, Any]:
    result = run("oncall", kind, "show", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_import_agrees_with_grafana_oncall_across_dst_and_overrides(
    local: Path, grafana: tuple[GrafanaOnCallApi, str]
) -> None:
    api, url = grafana
    result = run(*import_args(url))
    assert result.exit_code == 0, result.output
    assert "agrees with Grafana OnCall" in result.output
    assert sorted(show("team", "platform")["members"]) == ["ann", "bob"]
    layers = show("schedule", "platform-primary")["layers"]
    assert [layer["name"] for layer in layers] == ["Nights and weekends", "Business hours"]
    policy = show("escalation", "platform")
    assert [(level["targets"], level["delay_minutes"]) for level in policy["levels"]] == [
        (["schedule:platform-primary"], 15),
        (["person:cem"], 10),
    ]
    assert policy["repeat"] == 5
    assert any("page=2" in r for r in api.requests if "/users/" in r)


def test_dry_run_then_reimport(local: Path, grafana: tuple[GrafanaOnCallApi, str]) -> None:
    _, url = grafana
    planned = run(*import_args(url, "--dry-run"))
    assert planned.exit_code == 0 and "would create 7," in planned.output
    assert run(*import_args(url)).exit_code == 0
    again = run(*import_args(url, "--json"))
    report = json.loads(again.stdout[: again.stdout.rindex("}") + 1])
    assert {a["action"] for a in report["actions"]} == {"unchanged"}


def test_the_api_url_is_required(local: Path) -> None:
    result = run("import", "grafana-oncall", "--token", TOKEN)
    assert result.exit_code == 2 and "--api-url" in result.output
