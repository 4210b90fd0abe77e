"""The status page admin page: components and their states, public incidents and updates,
maintenance windows and subscribers, through HTTP and the comms package's StatusPage."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

URL = "/admin/statuspage"


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    """A catalog with one service (so one component) and webhooks to local test addresses."""
    config = parse_config(
        {
            "services": [{"name": "checkout", "description": "Checkout"}],
            "comms": {"statuspage": {"name": "Acme status", "allow_private_webhooks": True}},
        }
    )
    rt = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
    # The catalog's component is a draft: published here, as an admin does once.
    admin = Principal(name="user:root", scopes=frozenset({"admin"}), kind="session")
    rt.comms.statuspage.publish_component(admin, "checkout")
    yield rt
    rt.close()


def test_components_states_and_public_page(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "admin")
    page = alice.get(URL)
    assert page.status_code == 200
    assert "Acme status" in page.text and 'href="/status"' in page.text
    assert "Checkout" in page.text and "Add a component" in page.text
    statuspage = runtime.comms.statuspage

    created = alice.post_form(
        f"{URL}/components", {"slug": "api", "name": "Public API", "group": "Core"}
    )
    assert created.status_code == 303
    assert [c["id"] for c in statuspage.list_components()] == ["checkout", "api"]
    bad = alice.post_form(f"{URL}/components", {"slug": "Not A Slug!", "name": "x"})
    assert bad.status_code == 422 and "lowercase slug" in bad.text
    clash = alice.post_form(f"{URL}/components", {"slug": "api", "name": "Again"})
    assert clash.status_code == 409 and "already exists" in clash.text
    assert len(statuspage.list_components()) == 2

    moved = alice.post_form(f"{URL}/components/api", {"status": "degraded_performance"})
    assert moved.status_code == 303
    wrong = alice.post_form(f"{URL}/components/api", {"status": "on_fire"})
    assert wrong.status_code == 422
    missing = alice.post_form(f"{URL}/components/nope", {"status": "operational"})
    assert missing.status_code == 404
    edited = alice.post_form(
        f"{URL}/components/api",
        {"full": "1", "name": "API", "description": "REST", "group": "", "position": "3",
         "showcase": "yes"},
    )  # fmt: skip
    assert edited.status_code == 303
    api = {c["id"]: c for c in statuspage.list_components()}["api"]
    assert api["name"] == "API" and api["status"] == "degraded_performance"
    assert api["position"] == 3 and api["group"] is None and not api["archived"]
    public = alice.client.get("/status")
    assert public.status_code == 200 and "API" in public.text


def test_public_incident_updates_and_maintenance(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    bob = web_as("bob", "responder")
    statuspage = runtime.comms.statuspage
    published = bob.post_form(
        f"{URL}/incidents",
        {"name": "Payments delayed", "status": "investigating", "impact": "major",
         "components": "checkout", "body": "We are looking into <b>delays</b>."},
    )  # fmt: skip
    assert published.status_code == 303
    (incident,) = statuspage.snapshot().incidents
    assert incident.components == ("checkout",) and incident.impact == "major"
    page = bob.get(URL).text
    assert "Payments delayed" in page and "&lt;b&gt;delays&lt;/b&gt;" in page
    unknown = bob.post_form(
        f"{URL}/incidents",
        {"name": "x", "body": "y", "impact": "minor", "components": "nope"},
    )
    assert unknown.status_code == 422 and "unknown component" in unknown.text
    assert len(statuspage.snapshot().incidents) == 1

    update = bob.post_form(
        f"{URL}/incidents/{incident.code}/updates",
        {"status": "resolved", "body": "Fixed.", "component_status": "operational"},
    )
    assert update.status_code == 303
    (incident,) = statuspage.snapshot().incidents
    assert incident.status == "resolved" and len(incident.updates) == 2
    empty = bob.post_form(f"{URL}/incidents/{incident.code}/updates", {"status": "resolved"})
    assert empty.status_code == 422
    assert bob.post_form(
        f"{URL}/incidents/nope/updates", {"status": "resolved", "body": "x"}
    ).status_code == 404  # fmt: skip

    window = {"name": "DB upgrade", "starts": "2030-01-05T02:00", "ends": "2030-01-05T03:00",
              "components": "checkout", "body": "Read-only for an hour"}  # fmt: skip
    assert bob.post_form(f"{URL}/maintenances", window).status_code == 303
    (maintenance,) = statuspage.snapshot().maintenances
    assert maintenance.scheduled_for.isoformat() == "2030-01-05T02:00:00+00:00"
    backwards = bob.post_form(f"{URL}/maintenances", {**window, "ends": "2030-01-05T01:00"})
    assert backwards.status_code == 422 and "after" in backwards.text
    garbled = bob.post_form(f"{URL}/maintenances", {**window, "starts": "soon"})
    assert garbled.status_code == 422 and "date and time" in garbled.text
    assert len(statuspage.snapshot().maintenances) == 1
    assert "DB upgrade" in bob.get(URL).text
    cancelled = bob.post_form(f"{URL}/maintenances/{maintenance.code}/cancel")
    assert cancelled.status_code == 303 and statuspage.snapshot().maintenances == ()
    # A responder sets states but does not manage components or see subscribers.
    page = bob.get(URL).text
    assert "Add a component" not in page and 'id="subscribers"' not in page
    assert bob.post_form(f"{URL}/components", {"slug": "x", "name": "X"}).status_code == 403


def test_subscribers_are_admin_only(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "admin")
    statuspage = runtime.comms.statuspage
    added = alice.post_form(
        f"{URL}/subscribers", {"target": "http://127.0.0.1:9/hook", "components": "checkout"}
    )
    assert added.status_code == 303
    admin = alice.client  # the admin's own session reads the list through the page
    page = admin.get(URL).text
    assert 'id="subscribers"' in page and "http://127.0.0.1:9/hook" in page and "pending" in page
    not_enabled = alice.post_form(f"{URL}/subscribers", {"target": "ops@example.com"})
    assert not_enabled.status_code == 422 and "not enabled" in not_enabled.text

    victor = web_as("victor", "viewer")
    view = victor.get(URL)
    assert view.status_code == 200 and "http://127.0.0.1:9/hook" not in view.text
    assert "Set state of" not in view.text and "Publish incident" not in view.text
    admin_principal = Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session")
    (subscriber,) = statuspage.list_subscribers(admin_principal)
    subscriber_id = subscriber["id"]
    for path, form in (
        (f"{URL}/subscribers/{subscriber_id}/remove", {}),
        (f"{URL}/components/checkout", {"status": "major_outage"}),
        (f"{URL}/incidents", {"name": "x", "body": "y"}),
    ):
        assert victor.post_form(path, form).status_code == 403
    assert {c["id"]: c["status"] for c in statuspage.list_components()} == {
        "checkout": "operational"
    }
    removed = alice.post_form(f"{URL}/subscribers/{subscriber_id}/remove")
    assert removed.status_code == 303
    assert "unsubscribed" in admin.get(URL).text
    assert alice.post_form(f"{URL}/subscribers/{subscriber_id}/remove").status_code == 404
