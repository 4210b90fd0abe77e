"""The post-mortem editor and the status page admin page in a real browser (Chromium via
Playwright against `warroom serve`; see test_browser.py). Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web import test_browser as base
from tests.web.test_browser import playwright, serve_with_users, shot

pytestmark = pytest.mark.browser

# The browser fixtures of test_browser.py, with this module's own server (below).
browser = base.browser
open_as = base.open_as

XSS = '<script>window.pwned = 1</script>\n\n<img src="x" onerror="window.pwned = 2">'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An admin, a responder and a viewer."""
    accounts = (("ada", "admin"), ("alice", "responder"), ("victor", "viewer"))
    with serve_with_users(tmp_path_factory.mktemp("browser-pages") / "data", accounts) as url:
        yield url


def declare(page: Any, title: str) -> str:
    page.goto("/incidents/new")
    page.get_by_label("What is broken?").fill(title)
    page.get_by_label("Severity").select_option("SEV3")
    page.get_by_label("Reason, if you override the proposal").fill("known scope")
    page.get_by_role("button", name="Declare").click()
    page.wait_for_url("**/incidents/INC-*")
    return str(page.url.rsplit("/", 1)[1])


def test_postmortem_editor(open_as: Any) -> None:
    alice = open_as("alice")
    incident = declare(alice, "Checkout pool exhausted")
    # The war room's lazy panels arrive after the page (htmx load), with a working CSP.
    alice.locator("#panel-changes", has_text="No recorded change near the start.").wait_for()
    alice.locator("#panel-similar", has_text="None found.").wait_for()
    alice.locator("#verification", has_text="not started").wait_for()
    # From the war room to the post-mortem page.
    alice.get_by_role("link", name="Open the post-mortem page").click()
    alice.wait_for_url(f"**/incidents/{incident}/postmortem")
    alice.get_by_role("button", name="Create the post-mortem now").click()
    alice.locator("#pm-document h1").wait_for()

    # Edit one section: the rendered document shows it, the payload stays inert text.
    alice.locator("#pm-sections summary", has_text="Root cause").click()
    alice.get_by_label("Root cause (Markdown)").fill("The pool **ran dry**.\n\n" + XSS)
    alice.get_by_role("button", name="Save Root cause").click()
    alice.locator("#pm-document strong", has_text="ran dry").wait_for()
    assert alice.evaluate("window.pwned === undefined")
    assert alice.locator("#pm-document script").count() == 0
    assert alice.locator("#pm-document img").count() == 0
    alice.locator("#pm-document").get_by_text("<script>window.pwned = 1</script>").wait_for()

    # Add an action item, assign it with a due date, then mark it done.
    alice.get_by_label("New action", exact=True).fill("Alert on pool saturation")
    alice.get_by_label("Assign to").fill("bob")
    alice.get_by_label("Due by").fill("2030-01-31")
    alice.get_by_role("button", name="Add action item").click()
    item = alice.locator("#action-items .action-item", has_text="Alert on pool saturation")
    item.get_by_text("bob · due 2030-01-31").wait_for()
    item.get_by_role("button", name="Mark").click()
    alice.locator(".action-item .item-status", has_text="done").wait_for()
    shot(alice, "postmortem-editor")

    # The review workflow: draft → in review → published (final).
    alice.get_by_role("button", name="Submit for review").click()
    alice.locator("#pm-status strong", has_text="in review").wait_for()
    alice.get_by_role("button", name="Approve and publish").click()
    alice.locator("#pm-status strong", has_text="published").wait_for()
    assert alice.get_by_role("button", name="Save Root cause").count() == 0

    viewer = open_as("victor")
    viewer.goto(f"/incidents/{incident}/postmortem")
    viewer.locator("#pm-document strong", has_text="ran dry").wait_for()
    assert viewer.get_by_role("button", name="Add action item").count() == 0
    assert viewer.evaluate("window.pwned === undefined")
    viewer.goto("/postmortems")
    viewer.get_by_role("link", name=f"{incident} Checkout pool exhausted").wait_for()
    assert alice.problems == [] and viewer.problems == []


def test_statuspage_admin(open_as: Any) -> None:
    ada = open_as("ada")
    ada.goto("/admin/statuspage")
    ada.locator("summary", has_text="Add a component").click()
    ada.get_by_label("Component id (lowercase slug)").fill("api")
    ada.locator("#new-comp-name").fill("Public API")
    ada.get_by_role("button", name="Add component").click()
    ada.get_by_label("State of Public API").select_option("partial_outage")
    ada.get_by_role("button", name="Set state of Public API").click()
    playwright.expect(ada.get_by_label("State of Public API")).to_have_value("partial_outage")

    ada.locator("summary", has_text="Publish a public incident by hand").click()
    ada.get_by_label("Public title").fill("API errors")
    ada.locator("#public-incidents").get_by_label("Public API").check()
    ada.get_by_label("First public message").fill('Errors <img src=x onerror="window.pwned=1">')
    ada.get_by_role("button", name="Publish incident").click()
    ada.locator("#public-incidents h3", has_text="API errors").wait_for()
    ada.locator(".public-update-body", has_text="onerror").wait_for()
    assert ada.locator("#public-incidents img").count() == 0

    ada.locator("summary", has_text="Schedule maintenance").click()
    ada.get_by_label("Maintenance title").fill("DB upgrade")
    ada.get_by_label("Starts (UTC)").fill("2030-01-05T02:00")
    ada.get_by_label("Ends (UTC)").fill("2030-01-05T01:00")
    ada.get_by_role("button", name="Schedule maintenance").click()
    ada.get_by_role("alert").get_by_text("must be after").wait_for()
    ada.locator("summary", has_text="Schedule maintenance").wait_for()
    ada.get_by_label("Ends (UTC)").fill("2030-01-05T03:00")
    ada.get_by_role("button", name="Schedule maintenance").click()
    ada.locator("#maintenance li", has_text="DB upgrade").wait_for()
    shot(ada, "statuspage-admin")

    ada.get_by_role("link", name="Open the public status page").click()
    ada.wait_for_url("**/status")
    ada.get_by_text("API errors").first.wait_for()
    assert ada.evaluate("window.pwned === undefined")

    viewer = open_as("victor")
    viewer.goto("/admin/statuspage")
    viewer.get_by_text("API errors").first.wait_for()
    assert viewer.get_by_role("button", name="Set state of Public API").count() == 0
    assert viewer.locator("#subscribers").count() == 0
    # The refused maintenance answered 422 (shown on the page); nothing else went wrong.
    assert [p for p in ada.problems if "status of 422" not in p] == []
    assert viewer.problems == []


def test_user_lifecycle_in_the_browser(open_as: Any, server: str) -> None:
    alice = open_as("alice")
    ada = open_as("ada")
    ada.goto("/admin/users")
    row = ada.locator("#user-alice")
    row.get_by_role("button", name="Disable alice").click()
    ada.get_by_role("status").get_by_text("alice is disabled").wait_for()
    playwright.expect(ada.locator("#user-alice")).to_contain_text("disabled")
    shot(ada, "users-admin")
    # alice's open session stops at once: her next page is the login page.
    alice.goto("/incidents")
    alice.wait_for_url("**/login?next=/incidents")
    alice.get_by_label("User name").fill("alice")
    alice.get_by_label("Password").fill(base.PASSWORD)
    alice.get_by_role("button", name="Log in").click()
    alice.get_by_role("alert").get_by_text("wrong user name or password").wait_for()

    ada.locator("#user-alice").get_by_role("button", name="Enable alice").click()
    ada.get_by_role("status").get_by_text("alice can log in again").wait_for()
    ada.locator("#user-alice").get_by_label("Role of alice").select_option("viewer")
    ada.locator("#user-alice").get_by_role("button", name="Set role").click()
    ada.get_by_role("status").get_by_text("alice is now viewer").wait_for()
    alice.get_by_label("Password").fill(base.PASSWORD)
    alice.get_by_role("button", name="Log in").click()
    alice.wait_for_url(f"{server}/incidents")
    assert alice.get_by_role("link", name="Declare an incident").count() == 0

    # alice changes her own password from her account page.
    alice.get_by_role("link", name="alice viewer").click()
    alice.get_by_label("Current password").fill(base.PASSWORD)
    alice.get_by_label("New password (at least 8 characters)").fill("alice's new password")
    alice.get_by_label("New password again").fill("alice's new password")
    alice.get_by_role("button", name="Change password").click()
    alice.get_by_role("status").get_by_text("Password changed.").wait_for()
    shot(alice, "account")

    ada.goto("/admin/audit")
    ada.locator("table.audit").get_by_text("user.disable").wait_for()
    ada.locator("table.audit").get_by_text("user.change_password").wait_for()
    shot(ada, "audit-log")
    assert [p for p in alice.problems if "status of 401" not in p] == []
    assert ada.problems == []
