"""Team activation as the seeds require it (000 NEXUS-Micro, 003 hierarchical, 004 phased):
the commander notified at declaration, all hands paging every level and every role holder,
missing required roles reminded to the commander after the policy's delay, role holders
assigned later notified, and 000's P3 "add to backlog" creating an action item."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from tests.oncall.conftest import advance, drain, events, person
from tests.support.receiver import Receiver, http_receiver
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

PEOPLE = ("ann", "bob", "carol", "dave", "erin")


class Team:
    """A runtime on one preset, people with their own receivers, and a responder's API."""

    def __init__(self, runtime: Runtime, api: Api, inbox: dict[str, Receiver]) -> None:
        self.runtime = runtime
        self.api = api
        self.inbox = inbox

    def declare(self, severity: str, **extra: Any) -> str:
        body = {"title": "Checkout failing", "severity": severity, "services": ["payments"]}
        return str(self.api.ok("POST", "/api/v1/incidents", json={**body, **extra})["id"])

    def got(self) -> dict[str, list[str]]:
        """Titles each person received so far."""
        return {name: [r.json()["title"] for r in box.requests] for name, box in self.inbox.items()}


@pytest.fixture
def team(settings: Settings, clock: FixedClock) -> Iterator[Callable[[str], Team]]:
    with ExitStack() as stack:

        def make(preset: str) -> Team:
            config = {
                "policy": preset,
                "services": [{"name": "payments", "escalation_policy": "payments"}],
                "oncall": {"fallback_contacts": []},
            }
            runtime = Runtime.build(
                settings, clock=clock, config=parse_config(config), run_migrations=False
            )
            stack.callback(runtime.close)
            client = stack.enter_context(
                TestClient(create_app(runtime), raise_server_exceptions=False)
            )
            with runtime.db.write() as conn:
                _, token = auth.create_token(
                    conn, name="zed", scopes=["responder"], created_by="t", now=clock.now()
                )
            api = Api(client, token)
            inbox = {name: stack.enter_context(http_receiver()) for name in PEOPLE}
            for name, box in inbox.items():
                person(api, name, box.json_url())
            api.ok(
                "POST",
                "/api/v1/oncall/schedules",
                json={
                    "name": "primary",
                    "layers": [{"users": ["ann"], "start": "2026-01-05T09:00"}],
                },
            )
            api.ok(
                "POST",
                "/api/v1/oncall/escalation-policies",
                json={
                    "name": "payments",
                    "levels": [
                        {"delay_minutes": 5, "targets": ["schedule:primary"]},
                        {"delay_minutes": 10, "targets": ["person:bob"]},
                    ],
                },
            )
            return Team(runtime, api, inbox)

        yield make


def wait(box: Receiver, count: int) -> int:
    return len(box.wait_for(count))


def test_seed004_team_activation_commander_notified_for_sev2(team: Callable[[str], Team]) -> None:
    t = team("phased")
    incident = t.declare("SEV2", roles={"commander": "carol"})
    drain(t.runtime)
    assert wait(t.inbox["carol"], 1) == 1 and wait(t.inbox["ann"], 1) == 1
    paged = events(t.api, incident, "paged")[0]["data"]
    assert paged["targets"] == ["schedule:primary", "role:commander"]
    assert sorted(paged["notified"]) == ["ann", "carol"]
    assert t.inbox["bob"].requests == []  # not all hands: level 2 waits its turn


def test_seed004_team_activation_default_policy_does_not_page_the_sev2_commander(
    team: Callable[[str], Team],
) -> None:
    t = team("default")
    incident = t.declare("SEV2", roles={"commander": "carol"})
    drain(t.runtime)
    assert events(t.api, incident, "paged")[0]["data"]["notified"] == ["ann"]
    assert t.inbox["carol"].requests == []


def test_seed000_team_activation_all_hands_pages_every_level_and_every_role_holder(
    team: Callable[[str], Team],
) -> None:
    t = team("nexus-micro")
    roles = {"commander": "carol", "communications_lead": "dave"}
    incident = t.declare("P0", roles=roles)
    drain(t.runtime)
    for name in ("ann", "bob", "carol", "dave"):
        assert wait(t.inbox[name], 1) == 1, name
    assert t.inbox["erin"].requests == []
    paged = events(t.api, incident, "paged")[0]["data"]
    assert paged["paging"] == "all_hands"
    assert paged["targets"] == [
        "schedule:primary",
        "person:bob",
        "role:commander",
        "role:communications_lead",
    ]


def test_seed000_team_activation_role_holders_assigned_later_are_notified(
    team: Callable[[str], Team], clock: FixedClock
) -> None:
    t = team("nexus-micro")
    incident = t.declare("P1", roles={"commander": "carol"})
    drain(t.runtime)
    body = {"role": "communications_lead", "person": "dave"}
    t.api.ok("POST", f"/api/v1/incidents/{incident}/roles", json=body)
    drain(t.runtime)
    assert wait(t.inbox["dave"], 1) == 1
    assert (
        t.inbox["dave"]
        .requests[0]
        .json()["message"]
        .startswith(f"You are now the communications lead of {incident}")
    )
    notice = events(t.api, incident, "role_notified")[0]["data"]
    assert notice["role"] == "communications_lead" and notice["notified"] == ["dave"]
    # someone who takes a role themselves is not told what they just did
    t.api.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "scribe", "person": "zed"}
    )
    drain(t.runtime)
    assert len(events(t.api, incident, "role_notified")) == 1


def test_seed000_team_activation_missing_roles_remind_the_commander_after_5_minutes(
    team: Callable[[str], Team], clock: FixedClock
) -> None:
    t = team("nexus-micro")
    incident = t.declare("P1", roles={"commander": "carol"})  # P1 needs four roles
    drain(t.runtime)
    shown = t.api.ok("GET", f"/api/v1/oncall/activation/{incident}")
    assert shown["roles_missing"] == ["deployer", "investigator", "communications_lead"]
    assert shown["remind_at"] == (clock.now() + timedelta(minutes=5)).isoformat()
    carol_before = wait(t.inbox["carol"], 0)
    advance(t.runtime, clock, 4)
    assert events(t.api, incident, "reminder") == []
    advance(t.runtime, clock, 1)
    reminder = events(t.api, incident, "reminder")[0]["data"]
    assert reminder["kind"] == "missing_roles" and reminder["notified"] == ["carol"]
    assert reminder["missing"] == ["deployer", "investigator", "communications_lead"]
    message = t.inbox["carol"].wait_for(carol_before + 1)[-1].json()["message"]
    assert "still has no deployer, investigator, communications lead" in message


def test_seed003_team_activation_without_a_commander_the_on_call_is_reminded(
    team: Callable[[str], Team], clock: FixedClock
) -> None:
    t = team("hierarchical")
    incident = t.declare("SEV2")
    drain(t.runtime)
    advance(t.runtime, clock, 15)
    reminder = [
        e["data"]
        for e in events(t.api, incident, "reminder")
        if e["data"]["kind"] == "missing_roles"
    ]
    assert reminder and reminder[0]["notified"] == ["ann"]  # who the policy pages first
    assert "commander" in reminder[0]["missing"]


def test_seed003_team_activation_all_roles_assigned_means_no_reminder(
    team: Callable[[str], Team], clock: FixedClock
) -> None:
    t = team("hierarchical")
    roles = {"commander": "carol", "investigator": "dave", "deployer": "erin"}
    incident = t.declare("SEV2", roles=roles)
    advance(t.runtime, clock, 20)
    assert [
        e for e in events(t.api, incident, "reminder") if e["data"]["kind"] == "missing_roles"
    ] == []
    assert t.api.ok("GET", f"/api/v1/oncall/activation/{incident}")["roles_missing"] == []


def test_seed000_team_activation_p3_adds_to_the_backlog(team: Callable[[str], Team]) -> None:
    t = team("nexus-micro")
    low = t.declare("P3")
    other = t.declare("P2")
    drain(t.runtime)
    items = t.api.ok("GET", f"/api/v1/incidents/{low}/actions")["items"]
    assert len(items) == 1 and low in items[0]["title"]
    added = events(t.api, low, "added_to_backlog")[0]["data"]
    assert added["action_item"] == items[0]["id"]
    assert t.api.ok("GET", f"/api/v1/incidents/{other}/actions")["items"] == []
    drain(t.runtime)  # exactly once
    assert len(t.api.ok("GET", f"/api/v1/incidents/{low}/actions")["items"]) == 1


def test_activation_of_an_unknown_incident_is_a_404(team: Callable[[str], Team]) -> None:
    t = team("default")
    status, body = t.api.request("GET", "/api/v1/oncall/activation/INC-20990101-001")
    assert status == 404, body


def test_seed003_team_activation_sev1_pages_all_agents(team: Callable[[str], Team]) -> None:
    t = team("hierarchical")
    incident = t.declare("SEV1", roles={"commander": "carol", "investigator": "erin"})
    drain(t.runtime)
    for name in ("ann", "bob", "carol", "erin"):
        assert wait(t.inbox[name], 1) == 1, name
    assert events(t.api, incident, "paged")[0]["data"]["paging"] == "all_hands"
