"""The service page sets which escalation policy pages for the service (through the on-call
service, like the API's PUT /api/v1/oncall/services/{service}); viewers only read it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.oncall import models

ADMIN = Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session")
CONFIG = {"policy": "default", "services": [{"name": "checkout-api"}]}
ACTION = "/services/checkout-api/escalation-policy"


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    rt.oncall.create_person(ADMIN, models.PersonIn(name="ann"))
    rt.oncall.create_policy(
        ADMIN,
        models.EscalationPolicyIn(name="checkout", levels=[models.LevelIn(targets=["person:ann"])]),
    )
    yield rt
    rt.close()


def test_a_responder_maps_the_service_and_a_viewer_only_reads_it(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    victor = web_as("victor", "viewer")
    page = victor.get("/services/checkout-api").text
    assert "page nobody automatically" in page and ACTION not in page
    assert victor.post_form(ACTION, {"escalation_policy": "checkout"}).status_code == 403
    rita = web_as("rita", "responder")
    assert f'action="{ACTION}"' in rita.get("/services/checkout-api").text
    done = rita.post_form(ACTION, {"escalation_policy": "checkout"})
    assert done.status_code == 303 and done.headers["location"] == "/services/checkout-api"
    assert 'href="/oncall/policies/checkout"' in rita.get("/services/checkout-api").text
    mapped = runtime.oncall.escalation.service_policy("checkout-api")
    assert mapped["escalation_policy"] == "checkout" and mapped["updated_by"] == "user:rita"


def test_a_bad_policy_or_a_missing_csrf_token_changes_nothing(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    rita = web_as("rita", "responder")
    refused = rita.post_form(ACTION, {"escalation_policy": "ghost"})
    assert refused.status_code == 422 and "unknown escalation policy" in refused.text
    assert rita.post_form(ACTION, {"escalation_policy": "checkout"}, csrf=False).status_code == 403
    assert runtime.oncall.escalation.service_policy("checkout-api")["source"] is None
