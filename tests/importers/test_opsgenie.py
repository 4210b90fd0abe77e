"""`warroom import opsgenie`: from a local Opsgenie API to people, teams, schedules and
escalation policies whose on-call answers agree with Opsgenie's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.importers.conftest import import_args, report, run, show
from tests.importers.opsgenie_api import INSTANTS, KEY, OpsgenieApi, serve


@pytest.fixture
def opsgenie() -> Iterator[tuple[OpsgenieApi, str]]:
    api = OpsgenieApi()
    with serve(api) as url:
        yield api, url


def test_dry_run_changes_nothing(local: Path, opsgenie: tuple[OpsgenieApi, str]) -> None:
    _, url = opsgenie
    result = run(*import_args("opsgenie", url, KEY, INSTANTS, "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "would create 7," in result.output
    listed = run("oncall", "person", "list", "--json")
    assert json.loads(listed.stdout)["items"] == []


def test_import_agrees_with_opsgenie_across_dst_and_overrides(
    local: Path, opsgenie: tuple[OpsgenieApi, str]
) -> None:
    api, url = opsgenie
    result = run(*import_args("opsgenie", url, KEY, INSTANTS))
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
    assert run(*import_args("opsgenie", url, KEY, INSTANTS)).exit_code == 0
    again = run(*import_args("opsgenie", url, KEY, INSTANTS, "--json"))
    imported = report(again)
    assert {a["action"] for a in imported["actions"]} == {"unchanged"}


def test_a_wrong_key_is_refused(local: Path, opsgenie: tuple[OpsgenieApi, str]) -> None:
    _, url = opsgenie
    result = run("import", "opsgenie", "--api-url", url, "--token", "wrong")
    assert result.exit_code == 2 and "refused the token" in result.output
