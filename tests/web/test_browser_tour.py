"""Every page on the demo dataset, in Chromium at 1366×900 and 390×844 (a phone): the
war room's timeline, its "what is next" strip, the phone layout, forms that keep what was
typed, and the HTML 404. Screenshots of every page go to test-artifacts/tour-*.png.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web import test_browser as base
from tests.web.test_browser import playwright, serve, shot

pytestmark = pytest.mark.browser

browser = base.browser
DEMO_PASSWORD = "demo tour password"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`warroom demo` into a fresh data dir, then `warroom serve` on it."""
    data_dir = tmp_path_factory.mktemp("tour") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env["WARROOM_DATA_DIR"] = str(data_dir)
    loaded = subprocess.run(
        [sys.executable, "-m", "warroom", "demo", "--password", DEMO_PASSWORD, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(loaded.stdout)
    by_severity = {i["severity"]: i["id"] for i in result["incidents"]}
    with serve(data_dir) as url:
        yield {"url": url, "incidents": by_severity}


@pytest.fixture
def visit(browser: Any, demo: dict[str, Any]) -> Iterator[Any]:
    """A logged-in page at a viewport ("desktop" or "phone"); collects script/CSP errors."""
    contexts: list[Any] = []

    def make(name: str = "alice", *, size: str = "desktop") -> Any:
        options: dict[str, Any] = {"base_url": demo["url"]}
        if size == "phone":
            options.update(viewport=PHONE, is_mobile=True, has_touch=True)
        else:
            options.update(viewport=DESKTOP)
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        page.on(
            "console",
            lambda msg: page.problems.append(msg.text) if msg.type == "error" else None,
        )
        page.goto("/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{demo['url']}/")
        return page

    yield make
    for context in contexts:
        context.close()


def _refused(problems: list[str]) -> list[str]:
    """Script errors other than the browser's note of a 4xx answer to a refused form."""
    return [p for p in problems if "status of 4" not in p]


def tour_pages(incidents: dict[str, str]) -> list[tuple[str, str]]:
    sev1, sev2, sev3 = incidents["SEV1"], incidents["SEV2"], incidents["SEV3"]
    return [
        ("dashboard", "/"),
        ("incidents", "/incidents"),
        ("declare", "/incidents/new"),
        ("war-room-sev1", f"/incidents/{sev1}"),
        ("war-room-sev2-resolved", f"/incidents/{sev2}"),
        ("war-room-sev3-unacknowledged", f"/incidents/{sev3}"),
        ("postmortem-editor", f"/incidents/{sev2}/postmortem"),
        ("postmortems", "/postmortems"),
        ("services", "/services"),
        ("service", "/services/public-api"),
        ("oncall", "/oncall"),
        ("oncall-schedules", "/oncall/schedules"),
        ("oncall-schedule", "/oncall/schedules/platform-primary"),
        ("oncall-schedule-gaps", "/oncall/schedules/search-business-hours"),
        ("oncall-policies", "/oncall/policies"),
        ("oncall-policy", "/oncall/policies/edge-critical"),
        ("oncall-people", "/oncall/people"),
        ("oncall-person", "/oncall/people/alice"),
        ("oncall-teams", "/oncall/teams"),
        ("oncall-team", "/oncall/teams/platform"),
        ("oncall-contacts", "/oncall/contacts"),
        ("alerts", "/alerts"),
        ("alert-routes", "/alerts/routes"),
        ("metrics", "/reports/metrics"),
        ("statuspage-admin", "/admin/statuspage"),
        ("status-public", "/status"),
        ("users", "/admin/users"),
        ("tokens", "/admin/tokens"),
        ("audit-log", "/admin/audit"),
        ("account", "/account"),
        ("not-found", "/no/such/page"),
    ]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_renders_at_both_sizes(visit: Any, demo: dict[str, Any], size: str) -> None:
    page = visit("alice", size=size)
    for name, path in tour_pages(demo["incidents"]):
        response = page.goto(path)
        assert response is not None
        expected = 404 if name == "not-found" else 200
        assert response.status == expected, (path, response.status)
        # Nothing runs off the side of the screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"] + 1, (path, width)
        shot(page, f"tour-{name}-{size}")
    assert _refused(page.problems) == []


def test_war_room_timeline_in_time_order_with_details(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("alice")
    page.goto(f"/incidents/{demo['incidents']['SEV1']}")
    times = page.locator("#timeline > li").evaluate_all(
        "items => items.map(li => li.getAttribute('data-at'))"
    )
    assert times == sorted(times) and len(times) > 10
    # Each kind says what it was: alerts with their service, severity changes with the
    # reason, runbook steps with their result, suspected changes with why.
    alert = page.locator("#timeline .event-alert_attached").first
    playwright.expect(alert).to_contain_text("All public-api targets unhealthy")
    playwright.expect(alert.locator(".event-details")).to_contain_text("public-api")
    severity = page.locator("#timeline .event-severity_changed")
    playwright.expect(severity).to_contain_text("SEV2 → SEV1")
    playwright.expect(severity).to_contain_text("complete outage of the public API")
    step = page.locator("#timeline .event-runbook_step_ran")
    playwright.expect(step).to_contain_text("Check the application logs")
    playwright.expect(step.locator(".event-details")).to_contain_text("done")
    # The two correlated changes were recorded after the notes around them but happened
    # earlier: they sit where they happened, marked as recorded later.
    change = page.locator("#timeline .event-deploy_correlated").first
    playwright.expect(change).to_contain_text("suspected")
    # One name per person: no `user:` prefixes on the page.
    assert "user:" not in page.locator("#timeline").inner_text()

    # People / system filters.
    page.get_by_text("People", exact=True).click()
    playwright.expect(page.locator("#timeline .event-alert_attached").first).to_be_hidden()
    playwright.expect(page.locator("#timeline .event-note_added").first).to_be_visible()
    page.get_by_text("System", exact=True).click()
    playwright.expect(page.locator("#timeline .event-note_added").first).to_be_hidden()
    playwright.expect(page.locator("#timeline .event-alert_attached").first).to_be_visible()
    assert page.problems == []


def test_what_is_next_strip_clears_with_its_actions(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("alice")
    sev3 = demo["incidents"]["SEV3"]
    page.goto(f"/incidents/{sev3}")
    strip = page.locator("#next-steps")
    playwright.expect(strip.locator(".next-ack")).to_contain_text("Nobody has acknowledged")
    strip.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(f"**/incidents/{sev3}")
    playwright.expect(page.locator("#next-steps .next-ack")).to_have_count(0)

    sev1 = demo["incidents"]["SEV1"]
    page.goto(f"/incidents/{sev1}")
    strip = page.locator("#next-steps")
    # The demo's SEV1 lacks an executive liaison and its status update is overdue.
    missing = strip.locator(".next-role", has_text="executive liaison")
    playwright.expect(missing).to_be_visible()
    playwright.expect(strip.locator(".next-update")).to_contain_text("overdue")
    missing.get_by_label("Who is executive liaison").fill("erin")
    missing.get_by_role("button", name="Assign").click()
    page.wait_for_url(f"**/incidents/{sev1}")
    playwright.expect(page.locator("#next-steps .next-role")).to_have_count(0)
    playwright.expect(page.locator("#timeline .event-role_assigned").last).to_contain_text("erin")
    # The resolved SEV2 with its post-mortem published: closing is what is left.
    page.goto(f"/incidents/{demo['incidents']['SEV2']}")
    playwright.expect(page.locator("#next-steps .next-close")).to_contain_text("close")
    page.goto(f"/incidents/{sev1}")
    # "Write the update" leads to the composer.
    page.locator("#next-steps .next-update").get_by_role("link").click()
    playwright.expect(page.get_by_label("Impact")).to_be_in_viewport()
    assert page.problems == []


def test_phone_shows_the_timeline_first(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("alice", size="phone")
    page.goto(f"/incidents/{demo['incidents']['SEV1']}")
    timeline_top = page.locator("#h-timeline").bounding_box()
    strip_top = page.locator("#next-steps").bounding_box()
    assert timeline_top is not None and strip_top is not None
    # Header, then what is next, then the timeline: all within the first screen.
    assert strip_top["y"] < timeline_top["y"] < PHONE["height"], (strip_top, timeline_top)
    # The side panels come after the timeline, folded.
    runbooks = page.locator("#panel-runbooks")
    assert runbooks.bounding_box()["y"] > page.locator("#timeline").bounding_box()["y"]
    playwright.expect(runbooks).not_to_have_attribute("open", "")
    runbooks.locator("summary").click()
    playwright.expect(runbooks.get_by_role("button", name="Run").first).to_be_visible()
    shot(page, "war-room-phone-runbooks-open")
    assert page.problems == []


def test_refused_forms_keep_what_was_typed(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("bob")
    sev1 = demo["incidents"]["SEV1"]
    page.goto(f"/incidents/{sev1}")
    page.locator("details#resolve > summary").click()
    summary = "Reverted infra PR #4412; the LB reaches every target again."
    page.get_by_label("Resolution summary (required)").fill(summary)
    page.locator(".checklist input[type=checkbox]").first.check()
    page.get_by_label("or waive because").nth(1).fill("no customer contact")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_role("alert").get_by_text("checklist is incomplete").wait_for()
    # Everything typed is still there, the resolve form open.
    playwright.expect(page.get_by_label("Resolution summary (required)")).to_have_value(summary)
    playwright.expect(page.locator(".checklist input[type=checkbox]").first).to_be_checked()
    playwright.expect(page.get_by_label("or waive because").nth(1)).to_have_value(
        "no customer contact"
    )
    # The other forms on the page stay empty.
    playwright.expect(page.get_by_label("Add a note (Markdown)")).to_have_value("")
    shot(page, "war-room-resolve-refused-kept")

    # A status update the server refuses (an unreadable "next update in") keeps its text.
    long_text = "Customers in the EU see errors on every API call. " * 8
    page.get_by_label("Impact").fill(long_text)
    page.get_by_label("What we are doing").fill("Reverting the security-group change")
    page.get_by_label("Next update in").fill("soonish")
    page.get_by_role("button", name="Publish update").click()
    page.get_by_role("alert").wait_for()
    playwright.expect(page.get_by_label("Impact")).to_have_value(long_text)
    playwright.expect(page.get_by_label("Next update in")).to_have_value("soonish")
    # Preview of a long update wraps inside the page.
    page.get_by_label("Next update in").fill("30m")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".preview .update-text").first
    preview.wait_for()
    box = preview.bounding_box()
    assert box is not None and box["x"] + box["width"] <= DESKTOP["width"]
    assert _refused(page.problems) == []


def test_unknown_page_is_an_html_404(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("alice")
    response = page.goto("/incidnets")
    assert response is not None and response.status == 404
    assert "text/html" in response.headers["content-type"]
    page.get_by_role("heading", name="Not found").wait_for()
    page.get_by_role("link", name="Back to the dashboard").click()
    page.wait_for_url(f"{demo['url']}/")
    # The API keeps answering JSON.
    api = page.request.get("/api/v1/no-such-thing")
    assert api.status == 404 and api.headers["content-type"].startswith("application/json")


def test_schedule_calendar_and_take_this_shift(visit: Any) -> None:
    page = visit("carol")
    page.goto("/oncall/schedules/platform-primary")
    calendar = page.locator("#calendar svg.shift-calendar.wide")
    playwright.expect(calendar.locator("text.cal-day")).to_have_count(14)
    for person in ("bob", "dave", "erin"):
        playwright.expect(page.locator("#calendar .cal-legend")).to_contain_text(person)
    assert calendar.locator("rect.cal-shift").count() >= 14  # every day has someone
    playwright.expect(calendar.locator("line.cal-now")).to_have_count(1)
    # "Take this shift" offers the signed-in person first.
    take = page.locator("#next-shifts tbody tr").first
    playwright.expect(take.locator("select")).to_have_value("carol")
    take.get_by_role("button", name="Take").click()
    playwright.expect(page.locator("#calendar .cal-legend")).to_contain_text("carol")
    shot(page, "schedule-calendar-taken")
    assert page.problems == []


def test_api_docs_render_offline(visit: Any, demo: dict[str, Any]) -> None:
    page = visit("alice")
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith(demo["url"]) else None,
    )
    page.goto("/api/docs")
    page.wait_for_timeout(3000)
    page.locator(".swagger-ui .info .title", has_text="warroom").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/incidents").first.wait_for()
    shot(page, "tour-api-docs-desktop")
    assert elsewhere == [] and page.problems == []
