"""`warroom import grafana-oncall`: from a local Grafana OnCall API to people, teams,
schedules and escalation policies whose on-call answers agree with Grafana OnCall's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.importers.conftest import import_args, report, run, show
from tests.importers.grafana_oncall_api import INSTANTS, TOKEN, GrafanaOnCallApi, serve


@pytest.fixture
def grafana() -> Iterator[tuple[GrafanaOnCallApi, str]]:
    api = GrafanaOnCallApi()
    with serve(api) as url:
        yield api, url


def test_import_agrees_with_grafana_oncall_across_dst_and_overrides(
    local: Path, grafana: tuple[GrafanaOnCallApi, str]
) -> None:
    api, url = grafana
    result = run(*import_args("grafana-oncall", url, TOKEN, INSTANTS))
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
    planned = run(*import_args("grafana-oncall", url, TOKEN, INSTANTS, "--dry-run"))
    assert planned.exit_code == 0 and "would create 7," in planned.output
    assert run(*import_args("grafana-oncall", url, TOKEN, INSTANTS)).exit_code == 0
    again = run(*import_args("grafana-oncall", url, TOKEN, INSTANTS, "--json"))
    imported = report(again)
    assert {a["action"] for a in imported["actions"]} == {"unchanged"}


def test_the_api_url_is_required(local: Path) -> None:
    result = run("import", "grafana-oncall", "--token", TOKEN)
    assert result.exit_code == 2 and "--api-url" in result.output
