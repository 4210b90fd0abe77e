"""The post-mortem editor and the post-mortems list in Chromium at 1366×900 and 390×844, on
the demo dataset (see test_browser_tour.py): what is missing before submitting, with links to
the sections; action items' owner and due date edited beside the document, which follows at
once; refused forms keep what was typed; the list puts overdue and due-soon work first.
Screenshots go to test-artifacts/pm-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web import test_browser as base
from tests.web import test_browser_tour as tour
from tests.web.test_browser import playwright, shot

pytestmark = pytest.mark.browser

browser = base.browser
demo = tour.demo
visit = tour.visit
expect = playwright.expect


def _day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def test_editor_document_follows_the_panel(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("alice")
    sev3 = demo["incidents"]["SEV3"]
    # From the war room's post-mortem panel to the editor.
    page.goto(f"/incidents/{sev3}")
    page.locator("#panel-postmortem").get_by_role("link", name="Open the post-mortem").click()
    page.wait_for_url(f"**/incidents/{sev3}/postmortem")
    page.get_by_role("button", name="Create the post-mortem now").click()
    document = page.locator("#pm-document")
    missing = page.locator("#pm-incomplete")
    expect(missing).to_contain_text("Before it can be submitted")
    expect(missing.get_by_role("link", name="Root cause")).to_be_visible()
    # Submitting waits for them.
    expect(page.get_by_role("button", name="Submit for review")).to_be_disabled()
    shot(page, "pm-editor-missing-desktop")

    # The link leads to the section's editor; saving it clears it from the list.
    missing.get_by_role("link", name="Root cause").click()
    editor = page.get_by_label("Root cause (Markdown)")
    expect(editor).to_be_in_viewport()
    editor.fill("The triage job's queue had **no consumer** after the config move.")
    page.get_by_role("button", name="Save Root cause").click()
    expect(document.locator("#sec-root-cause strong", has_text="no consumer")).to_be_visible()
    expect(page.locator("#pm-incomplete a", has_text="Root cause")).to_have_count(0)
    expect(page.get_by_role("button", name="Submit for review")).to_be_enabled()

    # An action item, overdue, then reassigned beside the document: the document follows.
    page.get_by_label("New action", exact=True).fill("Alert when the queue has no consumer")
    page.get_by_label("Assign to").fill("bob")
    page.get_by_label("Due by").fill(_day(-1))
    page.get_by_role("button", name="Add action item").click()
    item = page.locator("#action-items .action-item", has_text="no consumer")
    expect(item.locator(".overdue")).to_be_visible()
    actions = document.locator("#sec-action-items")
    expect(actions).to_contain_text("Bob Okafor")  # the directory's display name
    item.get_by_label("Owner of").fill("carol")
    item.get_by_label("Due date of").fill(_day(2))
    item.get_by_role("button", name="Save #").click()
    item = page.locator("#action-items .action-item", has_text="no consumer")
    expect(item.locator(".due-soon")).to_be_visible()
    expect(actions).to_contain_text("Carol Nguyen")
    expect(actions).to_contain_text(_day(2))
    expect(actions).not_to_contain_text("Bob Okafor")

    # The post-mortem's owner and due date: a refused change keeps what was typed.
    page.get_by_label("Post-mortem owner").fill("dave")
    due = f"{_day(1)}T09:00"
    page.get_by_label("Due (UTC)").fill(due)
    page.get_by_role("button", name="Save owner and due date").click()
    page.get_by_role("alert").get_by_text("needs a reason").wait_for()
    expect(page.get_by_label("Post-mortem owner")).to_have_value("dave")
    expect(page.get_by_label("Due (UTC)")).to_have_value(due)
    page.get_by_label("Reason, if the due date moves").fill("the SRE review is on Tuesday")
    page.get_by_role("button", name="Save owner and due date").click()
    expect(page.locator("#pm-status")).to_contain_text("Owner Dave Kowalski")
    expect(page.locator("#pm-status .due-soon")).to_be_visible()
    expect(document.locator(".pm-preamble")).to_contain_text("owner Dave Kowalski")
    shot(page, "pm-editor-draft-desktop")
    assert tour._refused(page.problems) == []

    phone = visit("alice", size="phone")
    phone.goto(f"/incidents/{sev3}/postmortem")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= tour.PHONE["width"] + 1, width
    # On a phone the action items come before the long document.
    items_top = phone.locator("#action-items").bounding_box()
    document_top = phone.locator("#pm-document").bounding_box()
    assert items_top is not None and document_top is not None
    assert items_top["y"] < document_top["y"]
    shot(phone, "pm-editor-draft-phone")

    # The list: the due-soon draft before the published one; the overdue item first.
    for size in ("desktop", "phone"):
        viewer = page if size == "desktop" else phone
        viewer.goto("/postmortems")
        rows = viewer.locator("#pm-rows tbody tr")
        expect(rows.first).to_contain_text(sev3)
        expect(rows.first).to_contain_text("Dave Kowalski")
        expect(rows.first.locator(".due-soon")).to_be_visible()
        expect(rows.last).to_contain_text("published")
        width = viewer.evaluate("document.documentElement.scrollWidth")
        assert width <= viewer.viewport_size["width"] + 1, width
        shot(viewer, f"pm-list-{size}")
    assert phone.problems == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_published_postmortem_at_both_sizes(visit: Any, demo: dict[str, Any], size: str) -> None:
    page = visit("alice", size=size)
    response = page.goto(f"/incidents/{demo['incidents']['SEV2']}/postmortem")
    assert response is not None and response.status == 200
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width
    # Responders once each, by display name; no `user:` or `token:` prefixes anywhere.
    roles = page.locator("#sec-roles-and-responders")
    expect(roles).to_contain_text("Alice Martin")
    text = page.locator("#pm-document").inner_text()
    assert "user:" not in text and "token:" not in text
    responders = roles.locator("li", has_text="Responders").inner_text()
    names = [n.strip() for n in responders.split(":", 1)[1].split(",")]
    assert len(names) == len(set(names)), names
    shot(page, f"pm-editor-published-{size}")
    assert page.problems == []
