"""The status page admin page and the public status page in Chromium, on the demo dataset, at
1366×900 and 390×844: what is down first, drafts marked with their publish button, refused
forms that keep what was typed. Screenshots go to test-artifacts/statuspage-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web import test_browser_tour as tour
from tests.web.test_browser import playwright, shot

pytestmark = pytest.mark.browser

browser = tour.browser
demo = tour.demo
visit = tour.visit


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_status_pages_at_both_sizes(visit: Any, size: str) -> None:
    page = visit("alice", size=size)
    for name, path in (("admin", "/admin/statuspage"), ("public", "/status")):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"] + 1, (path, width)
        shot(page, f"statuspage-{name}-{size}")
    assert tour._refused(page.problems) == []


def test_draft_marked_published_and_refused_form_kept(visit: Any) -> None:
    page = visit("alice")
    page.goto("/admin/statuspage")
    # What is down is the first thing under the title.
    now = page.locator("#now")
    playwright.expect(now.get_by_text("Public API")).to_be_visible()
    playwright.expect(now.locator(".sp-banner")).to_contain_text("Major System Outage")
    # A component added as a draft is marked and has its publish button.
    page.get_by_text("Add a component").click()
    page.get_by_label("Component id (lowercase slug)").fill("Billing Service")
    page.locator("#new-comp-name").fill("Billing")
    page.get_by_label("Keep as a draft (not public until published)").check()
    page.get_by_role("button", name="Add component").click()
    page.get_by_role("alert").wait_for()
    # Refused (the id is not a slug): the form is open again with what was typed.
    playwright.expect(page.get_by_label("Component id (lowercase slug)")).to_have_value(
        "Billing Service"
    )
    playwright.expect(page.locator("#new-comp-name")).to_have_value("Billing")
    playwright.expect(
        page.get_by_label("Keep as a draft (not public until published)")
    ).to_be_checked()
    shot(page, "statuspage-admin-refused-kept")
    page.get_by_label("Component id (lowercase slug)").fill("billing")
    page.get_by_role("button", name="Add component").click()
    card = page.locator("#comp-billing")
    playwright.expect(card.locator(".sp-draft")).to_have_text("Draft, not public")
    card.scroll_into_view_if_needed()
    shot(page, "statuspage-admin-draft-desktop")
    assert "Billing" not in page.context.request.get("/status").text()
    card.get_by_role("button", name="Publish Billing").click()
    playwright.expect(page.locator("#comp-billing .sp-draft")).to_have_count(0)
    assert "Billing" in page.context.request.get("/status").text()
    assert tour._refused(page.problems) == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_public_incident_first_on_the_public_page(visit: Any, size: str) -> None:
    page = visit("alice", size=size)
    page.goto("/admin/statuspage")
    title = f"Search results are slow ({size})"
    page.locator("summary", has_text="Publish a public incident by hand").click()
    page.get_by_label("Public title").fill(title)
    page.get_by_label("Impact").select_option("major")
    page.locator("#public-incidents").get_by_label("Search").check()
    page.get_by_label("First public message").fill("Searches take up to 30 seconds.")
    page.get_by_role("button", name="Publish incident").click()
    page.locator("#public-incidents h3", has_text=title).wait_for()
    playwright.expect(page.locator("#now")).to_contain_text(title)
    page.goto("/status")
    active = page.locator("article.impact-major", has_text=title)
    active.wait_for()
    # The banner, the affected components and the incident are on the first screen.
    box = active.bounding_box()
    assert box is not None and box["y"] < page.viewport_size["height"]
    playwright.expect(page.locator(".affected")).to_contain_text("Search")
    shot(page, f"statuspage-public-incident-{size}")
    active.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).wait_for()
    shot(page, f"statuspage-public-incident-page-{size}")
    assert tour._refused(page.problems) == []
