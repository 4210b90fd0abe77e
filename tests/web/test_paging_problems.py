"""An incident whose page reached nobody is a red warning on the dashboard and in its war
room (from on-call's paging problems), with links to what fixes it, until acknowledged."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator

import pytest

from tests.oncall.conftest import drain
from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.oncall import models

# checkout-api has no escalation policy: a SEV2 on it must page and reaches nobody.
ADMIN = Principal(name="user:root", scopes=frozenset({"admin"}), kind="session")
CONFIG = {"policy": "default", "services": [{"name": "checkout-api"}]}


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    yield rt
    rt.close()


def declare(user: WebUser, runtime: Runtime) -> str:
    done = user.post_form(
        "/incidents/new",
        {"title": "Checkout <failing>", "severity": "SEV2", "services": "checkout-api"},
    )
    assert done.status_code == 303, done.text
    incident = done.headers["location"].rsplit("/", 1)[-1]
    drain(runtime)
    return incident


def test_an_incident_nobody_was_paged_for_is_a_warning_until_acknowledged(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    rita = web_as("rita", "responder")
    assert 'id="paging-problems"' in rita.get("/").text
    assert "Nobody was paged" not in rita.get("/").text
    incident = declare(rita, runtime)
    warning = (
        f"Nobody was paged for {incident} (SEV2, checkout-api): "
        "no escalation policy for the incident&#39;s services"
    )
    dashboard = rita.get("/").text
    assert warning in dashboard, dashboard
    assert dashboard.index(warning) < dashboard.index('id="dashboard-panels"')  # on top
    assert f'href="/incidents/{incident}"' in dashboard
    assert 'href="/services/checkout-api"' in dashboard and 'href="/oncall/policies"' in dashboard
    assert "Checkout &lt;failing&gt;" in dashboard and "<failing>" not in dashboard
    war_room = rita.get(f"/incidents/{incident}").text
    assert warning in war_room and 'href="/services/checkout-api"' in war_room
    # a viewer sees it too: it is for whoever is awake
    assert warning in web_as("victor", "viewer").get("/").text
    acked = rita.post_form(f"/incidents/{incident}/ack")
    assert acked.status_code == 303, acked.text
    assert "Nobody was paged" not in rita.get("/").text
    assert "Nobody was paged" not in rita.get(f"/incidents/{incident}").text
    assert html.unescape(warning) not in html.unescape(rita.get("/").text)


def test_a_policy_reaching_people_without_contact_methods_links_to_them(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    runtime.oncall.create_person(ADMIN, models.PersonIn(name="dan"))  # no contact method
    runtime.oncall.create_policy(
        ADMIN,
        models.EscalationPolicyIn(name="checkout", levels=[models.LevelIn(targets=["person:dan"])]),
    )
    runtime.oncall.escalation.set_service_policy(ADMIN, "checkout-api", "checkout")
    rita = web_as("rita", "responder")
    incident = declare(rita, runtime)
    war_room = rita.get(f"/incidents/{incident}").text
    assert "nobody with a contact method: dan has none" in war_room
    assert 'href="/oncall/policies/checkout"' in war_room
    assert 'href="/oncall/people/dan"' in war_room
