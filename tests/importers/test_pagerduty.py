"""`warroom import pagerduty`: from a local PagerDuty API (or saved responses) to people,
teams, schedules and escalation policies whose on-call answers agree with PagerDuty's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from tests.importers.conftest import EMAIL, import_args, listing, report, run
from tests.importers.pagerduty_api import (
    INSTANTS,
    ROUTING_KEY,
    TOKEN,
    PagerDutyApi,
    save,
    serve,
)
from warroom.api.app import create_app
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings


@pytest.fixture
def pagerduty() -> Iterator[tuple[PagerDutyApi, str]]:
    api = PagerDutyApi()
    with serve(api) as url:
        yield api, url


def test_dry_run_prints_the_plan_and_changes_nothing(
    local: Path, pagerduty: tuple[PagerDutyApi, str]
) -> None:
    _, url = pagerduty
    result = run(*import_args("pagerduty", url, TOKEN, INSTANTS, "--dry-run"))
    assert result.exit_code == 0, result.output
    # 3 people, a team, a schedule, its override, an escalation policy, the service's policy
    # and its events integration
    assert "would create 9," in result.output
    assert "not imported" in result.output and "sms" in result.output
    assert listing("person") == [] and listing("schedule") == []


def test_import_creates_everything_and_agrees_with_pagerduty_across_dst_and_overrides(
    local: Path, pagerduty: tuple[PagerDutyApi, str]
) -> None:
    api, url = pagerduty
    result = run(*import_args("pagerduty", url, TOKEN, INSTANTS))
    assert result.exit_code == 0, result.output
    assert "agrees with PagerDuty" in result.output
    people = {p["name"]: p for p in listing("person")}
    assert set(people) == {"ann", "bob", "cem"}
    assert people["cem"]["display_name"] == "Cem Çelik"
    assert people["ann"]["timezone"] == "Europe/Berlin"
    teams = listing("team")
    assert [(t["name"], sorted(t["members"])) for t in teams] == [("platform", ["ann", "bob"])]
    schedule = run("oncall", "schedule", "show", "platform-primary", "--json")
    layers = json.loads(schedule.stdout)["layers"]
    assert [layer["name"] for layer in layers] == ["Nights and weekends", "Business hours"]
    assert len(json.loads(schedule.stdout)["overrides"]) == 1
    policy = json.loads(run("oncall", "escalation", "show", "platform", "--json").stdout)
    assert [level["targets"] for level in policy["levels"]] == [
        ["schedule:platform-primary"],
        ["person:cem"],
    ]
    assert [level["delay_minutes"] for level in policy["levels"]] == [10, 30]
    assert policy["repeat"] == 2
    # Pagination was followed (pages of 2) for the three users.
    assert any("offset=2" in r for r in api.requests if r.startswith("/users"))


def test_a_wrong_answer_is_reported_not_hidden(
    local: Path, pagerduty: tuple[PagerDutyApi, str]
) -> None:
    api, url = pagerduty
    api.data["oncalls"][("PS1", "2027-03-28T07:30:00+00:00")] = "PU2"  # PagerDuty says Bob
    result = run(*import_args("pagerduty", url, TOKEN, INSTANTS))
    assert result.exit_code == 1
    assert "differs" in result.output and "PagerDuty bob, warroom ann" in result.output


def test_reimport_is_idempotent_and_follows_changes(
    local: Path, pagerduty: tuple[PagerDutyApi, str]
) -> None:
    api, url = pagerduty
    assert run(*import_args("pagerduty", url, TOKEN, INSTANTS)).exit_code == 0
    again = run(*import_args("pagerduty", url, TOKEN, INSTANTS, "--json"))
    assert again.exit_code == 0, again.output
    imported = report(again)
    assert {a["action"] for a in imported["actions"]} == {"unchanged"}
    api.data["escalation_policies"][0]["escalation_rules"][0]["escalation_delay_in_minutes"] = 5
    changed = run(*import_args("pagerduty", url, TOKEN, INSTANTS, "--json"))
    imported = report(changed)
    assert [
        (a["kind"], a["action"]) for a in imported["actions"] if a["action"] != "unchanged"
    ] == [("escalation_policy", "update")]
    policy = json.loads(run("oncall", "escalation", "show", "platform", "--json").stdout)
    assert policy["levels"][0]["delay_minutes"] == 5
    assert len(listing("person")) == 3


def test_an_existing_warroom_object_of_the_same_name_is_never_overwritten(
    local: Path, pagerduty: tuple[PagerDutyApi, str]
) -> None:
    _, url = pagerduty
    assert run("oncall", "person", "add", "ann", "--display-name", "Our Ann").exit_code == 0
    result = run(*import_args("pagerduty", url, TOKEN, INSTANTS, "--no-verify", "--json"))
    assert result.exit_code == 0, result.output
    skipped = [a for a in json.loads(result.stdout)["actions"] if a["action"] == "skip"]
    assert [(a["name"], a["why"]) for a in skipped] == [
        ("ann", "a person named 'ann' exists and was not imported")
    ]
    ann = next(p for p in listing("person") if p["name"] == "ann")
    assert ann["display_name"] == "Our Ann"


def test_rate_limited_answers_are_waited_out(
    local: Path, pagerduty: tuple[PagerDutyApi, str]
) -> None:
    api, url = pagerduty
    api.rate_limit_next = 2
    result = run(*import_args("pagerduty", url, TOKEN, INSTANTS, "--dry-run"))
    assert result.exit_code == 0, result.output


def test_saved_responses_import_the_same(
    local: Path, pagerduty: tuple[PagerDutyApi, str], tmp_path: Path
) -> None:
    api, _ = pagerduty
    saved = tmp_path / "pagerduty-export"
    saved.mkdir()
    save(api, saved)
    result = run("import", "pagerduty", "--from", str(saved), "--email-url", EMAIL)
    assert result.exit_code == 0, result.output
    assert {p["name"] for p in listing("person")} == {"ann", "bob", "cem"}
    assert [s["name"] for s in listing("schedule")] == ["platform-primary"]


def test_bad_input_changes_nothing(local: Path, pagerduty: tuple[PagerDutyApi, str]) -> None:
    _, url = pagerduty
    refused = run("import", "pagerduty", "--api-url", url, "--token", "wrong")
    assert refused.exit_code == 2 and "refused the token" in refused.output
    assert run("import", "pagerduty").exit_code == 2  # no token, no directory
    bad_instant = run(
        *import_args("pagerduty", url, TOKEN, INSTANTS)[:-2], "--verify-at", "tomorrow"
    )
    assert bad_instant.exit_code == 2
    assert run("import", "pagerduty", "--from", "/nonexistent").exit_code == 2
    assert listing("person") == []


def test_only_admins_apply_an_import(api: Api, admin_api: Api) -> None:
    plan = {"vendor": "pagerduty", "people": [{"vendor_id": "P1", "person": {"name": "zed"}}]}
    status, body = api.post("/api/v1/import", plan)
    assert status == 403, body
    status, body = admin_api.post("/api/v1/import?dry_run=true", {"vendor": "nope"})
    assert status == 422
    imported = admin_api.ok("POST", "/api/v1/import?dry_run=true", json=plan)
    assert [a["action"] for a in imported["actions"]] == ["create"]
    assert admin_api.ok("GET", "/api/v1/oncall/people")["items"] == []


def test_services_page_through_their_policy_and_pagerduty_routing_keys_keep_working(
    local: Path, pagerduty: tuple[PagerDutyApi, str], database_url: str, tmp_path: Path
) -> None:
    _, url = pagerduty
    assert run(*import_args("pagerduty", url, TOKEN, INSTANTS)).exit_code == 0
    listed = json.loads(run("oncall", "service", "list", "--json").stdout)["items"]
    assert [(i["service"], i["escalation_policy"]) for i in listed] == [
        ("checkout-api", "platform")
    ]
    runtime = Runtime.build(
        Settings(data_dir=tmp_path / "sender", database_url=database_url, config=None),
        run_migrations=False,
    )
    try:
        with TestClient(create_app(runtime)) as client:
            # A sender still configured with PagerDuty's routing key: only the URL changed.
            event = {
                "routing_key": ROUTING_KEY,
                "event_action": "trigger",
                "payload": {"summary": "Checkout 5xx", "source": "prom", "severity": "critical"},
            }
            answer = client.post("/v2/enqueue", json=event)
            assert answer.status_code == 202, answer.text
            wrong = client.post("/v2/enqueue", json={**event, "routing_key": "0" * 32})
            assert wrong.status_code in (400, 401, 403, 404)
    finally:
        runtime.close()
