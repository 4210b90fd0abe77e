"""Team managers as escalation targets: `manager:TEAM`, `manager:*`, unmapped manager contacts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.oncall.conftest import advance, events, person
from tests.oncall.test_paging import declare
from tests.support.receiver import http_receiver
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

CONFIG: dict[str, Any] = {
    "policy": "default",
    "services": [
        {"name": "payments", "escalation_policy": "payments", "owner_team": "payments-team"},
        {"name": "search", "escalation_policy": "search", "owner_team": "search-team"},
    ],
    # engineering_manager is deliberately unmapped: it falls back to the owning team's manager
    "oncall": {"contacts": {"executives": ["person:exec"]}},
}


@pytest.fixture
def oc_runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    yield rt
    rt.close()


def _teams(api: Api) -> None:
    for name in ("ann", "pam", "sid"):
        if api.get(f"/api/v1/oncall/people/{name}")[0] == 404:
            person(api, name)
    for team, manager in (("payments-team", "pam"), ("search-team", "sid")):
        api.ok(
            "POST",
            "/api/v1/oncall/teams",
            json={"name": team, "members": ["ann"], "manager": manager},
        )


def test_unmapped_engineering_manager_reaches_the_owning_teams_manager(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as pam, http_receiver() as sid, http_receiver() as ann:
        person(oc_api, "ann", ann.json_url())
        person(oc_api, "pam", pam.json_url())
        person(oc_api, "sid", sid.json_url())
        _teams(oc_api)
        incident = declare(oc_api, "SEV1", service="search")
        advance(oc_runtime, clock, 30)  # SEV1 unresolved 30 minutes → engineering manager
        assert sid.wait_for(1) and pam.requests == []
        time_based = [
            e["data"]
            for e in events(oc_api, incident, "escalated")
            if e["data"].get("rule") == "sev1-unresolved-30m"
        ]
        assert time_based[0]["notified"] == ["sid"]
        assert not time_based[0].get("unreached")


def test_manager_targets_in_escalation_levels(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as pam, http_receiver() as ann:
        person(oc_api, "ann", ann.json_url())
        person(oc_api, "pam", pam.json_url())
        _teams(oc_api)
        levels = [
            {"delay_minutes": 5, "targets": ["person:ann"]},
            {"delay_minutes": 5, "targets": ["manager:*"]},
        ]
        policy = {"name": "payments", "levels": levels}
        oc_api.ok("POST", "/api/v1/oncall/escalation-policies", json=policy)
        incident = declare(oc_api, "SEV2", service="payments")
        advance(oc_runtime, clock, 0)
        assert ann.wait_for(1) and pam.requests == []
        advance(oc_runtime, clock, 5)  # nobody acknowledged: level 2 is the owning team's manager
        assert pam.wait_for(1)
        notified = [e["data"].get("notified") for e in events(oc_api, incident, "escalated")]
        assert ["pam"] in notified


def test_manager_target_needs_a_known_team(oc_api: Api) -> None:
    bad = {"name": "x", "levels": [{"delay_minutes": 5, "targets": ["manager:ghosts"]}]}
    status, body = oc_api.post("/api/v1/oncall/escalation-policies", json=bad)
    assert status == 422 and "ghosts" in str(body)
    garbage = {"name": "x", "levels": [{"delay_minutes": 5, "targets": ["manager:**"]}]}
    assert oc_api.post("/api/v1/oncall/escalation-policies", json=garbage)[0] == 422
    assert oc_api.ok("GET", "/api/v1/oncall/escalation-policies")["items"] == []


def test_page_a_teams_manager_by_hand(oc_api: Api) -> None:
    _teams(oc_api)
    body = {"target": "manager:payments-team", "message": "hi"}
    assert oc_api.ok("POST", "/api/v1/oncall/pages", json=body)["people"] == ["pam"]
    # outside an incident, "the owning teams' managers" is nobody
    status, _ = oc_api.post("/api/v1/oncall/pages", json={"target": "manager:*", "message": "hi"})
    assert status == 422
