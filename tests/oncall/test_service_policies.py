"""Service → escalation policy mappings set through the API (no restart), and incidents that
must page but reach nobody: a timeline event, a warning for the dashboard, a fallback contact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert

from tests.conftest import Api
from tests.oncall.conftest import drain, events, person
from tests.oncall.test_paging import declare
from tests.support.receiver import http_receiver
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.oncall import tables

# A newcomer's catalog: checkout-api has no escalation policy yet; search names one that
# does not exist.
CONFIG: dict[str, Any] = {
    "policy": "default",
    "services": [{"name": "checkout-api"}, {"name": "search", "escalation_policy": "search"}],
    "oncall": {"contacts": {"engineering_manager": ["person:em"]}},
}


@pytest.fixture
def oc_runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    yield rt
    rt.close()


def primary_policy(api: Api, users: list[str], name: str = "checkout") -> None:
    layers = [{"users": users, "start": "2026-01-05T09:00"}] if users else []
    api.ok("POST", "/api/v1/oncall/schedules", json={"name": "primary", "layers": layers})
    api.ok(
        "POST",
        "/api/v1/oncall/escalation-policies",
        json={"name": name, "levels": [{"delay_minutes": 5, "targets": ["schedule:primary"]}]},
    )


def test_a_service_mapped_through_the_api_pages_without_a_restart(
    oc_runtime: Runtime, oc_api: Api
) -> None:
    with http_receiver() as ann:
        person(oc_api, "ann", ann.json_url())
        primary_policy(oc_api, ["ann"])
        before = oc_api.ok("GET", "/api/v1/oncall/services/checkout-api")
        assert before["escalation_policy"] is None and before["source"] is None
        mapped = oc_api.ok(
            "PUT", "/api/v1/oncall/services/checkout-api", json={"escalation_policy": "checkout"}
        )
        assert mapped["escalation_policy"] == "checkout" and mapped["source"] == "database"
        listed = {i["service"]: i for i in oc_api.ok("GET", "/api/v1/oncall/services")["items"]}
        assert listed["checkout-api"]["escalation_policy"] == "checkout"
        assert listed["search"]["source"] == "config"  # the config file's still listed
        incident = declare(oc_api, service="checkout-api")
        drain(oc_runtime)
        assert len(ann.wait_for(1)) == 1
        assert events(oc_api, incident, "paged")[0]["data"]["notified"] == ["ann"]
        assert events(oc_api, incident, "paging_failed") == []


def test_the_api_mapping_overrides_the_config_and_unset_restores_it(
    oc_runtime: Runtime, oc_api: Api
) -> None:
    with http_receiver() as ann:
        person(oc_api, "ann", ann.json_url())
        primary_policy(oc_api, ["ann"])
        oc_api.ok("PUT", "/api/v1/oncall/services/search", json={"escalation_policy": "checkout"})
        incident = declare(oc_api, service="search")  # the config's "search" does not exist
        drain(oc_runtime)
        assert events(oc_api, incident, "paged")[0]["data"]["policy"] == "checkout"
        restored = oc_api.ok("DELETE", "/api/v1/oncall/services/search")
        assert restored["escalation_policy"] == "search" and restored["source"] == "config"
        status, body = oc_api.request("DELETE", "/api/v1/oncall/services/search")
        assert status == 404, body


def test_bad_mappings_get_a_4xx_and_change_nothing(
    oc_api: Api, oc_client: Any, oc_token: Any
) -> None:
    primary_policy(oc_api, [])
    url = "/api/v1/oncall/services/checkout-api"
    status, body = oc_api.request("PUT", url, json={"escalation_policy": "ghost"})
    assert status == 422 and body["error"]["code"] == "unknown_policy", body
    assert "checkout" in body["error"]["message"]  # says which policies exist
    status, body = oc_api.request(
        "PUT", "/api/v1/oncall/services/Not%20A%20Slug", json={"escalation_policy": "checkout"}
    )
    assert status == 422 and body["error"]["code"] == "bad_service", body
    status, body = oc_api.request(
        "PUT", "/api/v1/oncall/services/payments", json={"escalation_policy": "checkout"}
    )
    assert status == 422 and body["error"]["code"] == "unknown_service", body
    status, _ = oc_api.request("PUT", url, json={"escalation_policy": ""})
    assert status == 422
    status, _ = oc_api.request("PUT", url, json={"escalation_policy": "checkout", "x": 1})
    assert status == 422
    viewer = Api(oc_client, oc_token("viewer", name="val"))
    status, _ = viewer.request("PUT", url, json={"escalation_policy": "checkout"})
    assert status == 403
    assert oc_api.ok("GET", url)["source"] is None
    listed = {i["service"]: i for i in oc_api.ok("GET", "/api/v1/oncall/services")["items"]}
    assert listed["checkout-api"]["source"] is None and "payments" not in listed


def test_no_policy_says_so_and_tells_the_fallback_contact(oc_runtime: Runtime, oc_api: Api) -> None:
    with http_receiver() as manager:
        person(oc_api, "em", manager.json_url())  # the config maps engineering_manager → em
        incident = declare(oc_api, service="checkout-api")
        drain(oc_runtime)
        failed = events(oc_api, incident, "paging_failed")
        assert len(failed) == 1, events(oc_api, incident)
        data = failed[0]["data"]
        assert data["problem"] == "no escalation policy for the incident's services"
        assert data["fallback_contact"] == "engineering_manager"
        assert data["fallback_notified"] == ["em"]
        message = manager.wait_for(1)[0].json()
        assert message["title"].startswith("Nobody was paged for [SEV2]")
        assert "warroom oncall service set" in message["message"]
        problems = oc_api.ok("GET", "/api/v1/oncall/paging-problems")["items"]
        assert [p["incident"] for p in problems] == [incident]
        assert problems[0]["problem"] == data["problem"]
        # acknowledged: no longer a warning to show
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
        assert oc_api.ok("GET", "/api/v1/oncall/paging-problems")["items"] == []


def test_an_empty_schedule_and_people_without_contact_methods_are_problems(
    oc_runtime: Runtime, oc_api: Api
) -> None:
    primary_policy(oc_api, [])
    oc_api.ok("PUT", "/api/v1/oncall/services/checkout-api", json={"escalation_policy": "checkout"})
    empty = declare(oc_api, service="checkout-api")
    drain(oc_runtime)
    problem = events(oc_api, empty, "paging_failed")[0]["data"]
    assert problem["problem"].startswith("the escalation policy's first level reaches nobody")
    assert problem["unreached"] == ["schedule:primary"]
    assert problem["fallback_notified"] == []  # em is not a person here: nobody to tell
    person(oc_api, "dan")  # no contact method
    oc_api.ok(
        "PATCH",
        "/api/v1/oncall/schedules/primary",
        json={"layers": [{"users": ["dan"], "start": "2026-01-05T09:00"}]},
    )
    silent = declare(oc_api, service="checkout-api")
    drain(oc_runtime)
    problem = events(oc_api, silent, "paging_failed")[0]["data"]
    assert problem["problem"] == "nobody with a contact method: dan has none"
    listed = oc_api.ok("GET", "/api/v1/oncall/paging-problems", params={"incident": silent})
    assert [p["incident"] for p in listed["items"]] == [silent]


def test_a_policy_that_only_notifies_is_not_a_paging_problem(
    oc_runtime: Runtime, oc_api: Api
) -> None:
    low = declare(oc_api, "SEV4", service="checkout-api")  # SEV4 notifies, does not page
    drain(oc_runtime)
    assert events(oc_api, low, "paging_failed") == []


def test_a_mapping_set_elsewhere_after_declaration_still_pages(
    oc_runtime: Runtime, oc_api: Api
) -> None:
    """Another server maps the service between the declaration and the page step: the step
    (planned as `oncall.unmapped`) looks the mapping up again and pages."""
    with http_receiver() as ann:
        person(oc_api, "ann", ann.json_url())
        primary_policy(oc_api, ["ann"])
        incident = declare(oc_api, service="checkout-api")
        t = tables.service_policies
        with oc_runtime.db.write() as conn:  # as another process would, behind this one's back
            conn.execute(
                insert(t).values(
                    service="checkout-api",
                    escalation_policy="checkout",
                    updated_by="elsewhere",
                    updated_at=oc_runtime.clock.now(),
                )
            )
        drain(oc_runtime)
        assert len(ann.wait_for(1)) == 1
        assert events(oc_api, incident, "paged")[0]["data"]["policy"] == "checkout"
        assert events(oc_api, incident, "paging_failed") == []
