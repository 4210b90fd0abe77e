"""The status page admin page: components and their states, public incidents and updates,
maintenance windows and subscribers, through HTTP and the comms package's StatusPage."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.web.conftest import WebUser
from warroom.comms.statuspage import ComponentPatch
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
    cleared = alice.post_form(
        f"{URL}/components/api", {"full": "1", "name": "API", "description": "", "position": "3"}
    )
    assert cleared.status_code == 303
    assert {c["id"]: c for c in statuspage.list_components()}["api"]["description"] == ""
    nameless = alice.post_form(f"{URL}/components/api", {"full": "1", "name": " "})
    assert nameless.status_code == 422


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

    window = {"form_id": "maintenance", "name": "DB upgrade", "scheduled_for": "2030-01-05T02:00",
              "scheduled_until": "2030-01-05T03:00",
              "components": "checkout", "body": "Read-only for an hour"}  # fmt: skip
    assert bob.post_form(f"{URL}/maintenances", window).status_code == 303
    (maintenance,) = statuspage.snapshot().maintenances
    assert maintenance.scheduled_for.isoformat() == "2030-01-05T02:00:00+00:00"
    backwards = bob.post_form(
        f"{URL}/maintenances", {**window, "scheduled_until": "2030-01-05T01:00"}
    )
    assert backwards.status_code == 422 and "after" in backwards.text
    garbled = bob.post_form(f"{URL}/maintenances", {**window, "scheduled_for": "soon"})
    assert garbled.status_code == 422 and "date and time" in garbled.text
    # The refused form is open again with what was typed.
    assert 'value="soon"' in garbled.text and "Read-only for an hour</textarea>" in garbled.text
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


def test_drafts_are_marked_and_published_from_the_page(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "admin")
    statuspage = runtime.comms.statuspage
    made = alice.post_form(
        f"{URL}/components", {"slug": "billing", "name": "Billing", "draft": "yes"}
    )
    assert made.status_code == 303
    statuspage.update_component(
        Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session"),
        "billing",
        ComponentPatch(status="major_outage"),
    )
    page = alice.get(URL).text
    # What is down comes first, with the draft marked; the public page says nothing of it.
    now = page.split('id="h-now"')[1].split('id="components"')[0]
    assert "Billing" in now and "Major outage" in now and "draft, not public" in now
    assert "All Systems Operational" in page.split('id="h-now"')[0]
    assert "Publish Billing" in page
    assert "Billing" not in alice.client.get("/status").text
    bob = web_as("bob", "responder")
    assert bob.post_form(f"{URL}/components/billing/publish").status_code == 403
    assert alice.post_form(f"{URL}/components/nope/publish").status_code == 404
    assert alice.post_form(f"{URL}/components/billing/explode").status_code == 404
    published = alice.post_form(f"{URL}/components/billing/publish")
    assert published.status_code == 303
    assert {c["id"]: c["published"] for c in statuspage.list_components()}["billing"] is True
    public = alice.client.get("/status").text
    assert "Billing" in public and "Major System Outage" in public
    assert "Publish Billing" not in alice.get(URL).text
    back = alice.post_form(f"{URL}/components/billing/unpublish")
    assert back.status_code == 303 and "Billing" not in alice.client.get("/status").text


def test_refused_forms_keep_what_was_typed(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "admin")
    typed = {"form_id": "add-component", "slug": "Bad Slug", "name": "Typed name",
             "description": "Typed words", "draft": "yes"}  # fmt: skip
    refused = alice.post_form(f"{URL}/components", typed)
    assert refused.status_code == 422 and "lowercase slug" in refused.text
    assert 'value="Bad Slug"' in refused.text and 'value="Typed words"' in refused.text
    assert 'name="draft" value="yes" checked' in refused.text
    # Other forms stay as they were.
    assert 'id="pi-name" name="name" required maxlength="300" value=""' in refused.text
    incident = {"form_id": "create-incident", "name": "Mail delays", "body": "Slow mail",
                "impact": "catastrophic", "components": "checkout"}  # fmt: skip
    refused = alice.post_form(f"{URL}/incidents", incident)
    assert refused.status_code == 422
    assert 'value="Mail delays"' in refused.text and "Slow mail</textarea>" in refused.text
    assert 'value="checkout" checked' in refused.text
    assert runtime.comms.statuspage.snapshot().incidents == ()
    edit = {"form_id": "edit-checkout", "full": "1", "name": "Checkout!", "position": "two"}
    refused = alice.post_form(f"{URL}/components/checkout", edit)
    assert refused.status_code == 422 and 'value="Checkout!"' in refused.text
    assert 'value="two"' in refused.text


def test_sync_from_the_page_adds_drafts(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    from warroom.core.config import ServiceConfig

    statuspage = runtime.comms.statuspage
    statuspage.services = (
        *statuspage.services,
        ServiceConfig(name="ledger", description="Ledger on pg-7", owner_team="Money"),
    )
    bob = web_as("bob", "responder")
    assert bob.post_form(f"{URL}/components/sync").status_code == 403
    alice = web_as("alice", "admin")
    assert alice.post_form(f"{URL}/components/sync").status_code == 303
    ledger = {c["id"]: c for c in statuspage.list_components()}["ledger"]
    assert (ledger["name"], ledger["group"], ledger["published"]) == ("Ledger", None, False)
    page = alice.get(URL).text
    assert "Publish Ledger" in page and "pg-7" not in page and "Money" not in page
