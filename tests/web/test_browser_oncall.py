"""On-call editing in a real browser (Chromium through Playwright) against `warroom serve`:
people, a schedule, an escalation policy with two levels, and an override that changes who is
on call now; a viewer sees it all without a single form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web.test_browser import (  # noqa: F401  (fixtures, with the Chromium skip)
    browser,
    open_as,
    server,
    shot,
)

pytestmark = pytest.mark.browser


def _refusals_only(page: Any) -> list[str]:
    """Console noise from the deliberate 4xx answers is expected; anything else is not."""
    return [p for p in page.problems if "status of 422" not in p]


def test_build_on_call_in_the_browser_and_override_changes_who_is_on_call(
    open_as: Any,  # noqa: F811
) -> None:
    alice = open_as("alice")
    alice.goto("/oncall/people")
    for name, display in (("pat", "Pat Doe"), ("quinn", "Quinn Roe")):
        alice.get_by_label("Name (lowercase, e.g. alice)").fill(name)
        alice.get_by_label("Display name").fill(display)
        alice.get_by_label("Method 1 name").fill("push")
        alice.get_by_label("Method 1 URL").fill(f"ntfy://ntfy.example.invalid/{name}")
        alice.get_by_role("button", name="Add person").click()
        alice.wait_for_url(f"**/oncall/people/{name}")
        alice.goto("/oncall/people")
    alice.get_by_role("link", name="quinn").wait_for()

    # A schedule whose only layer has pat on call since yesterday.
    alice.goto("/oncall/schedules/new")
    alice.get_by_label("Name (lowercase, e.g. payments-primary)").fill("web-primary")
    alice.get_by_label("Layer 1 rotation (people in order, comma separated)").fill("pat")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    alice.get_by_label("Layer 1 first handoff (local time)").fill(
        yesterday.strftime("%Y-%m-%dT%H:%M")
    )
    alice.get_by_label("Layer 1 shift unit").select_option("weeks")
    alice.get_by_role("button", name="Create schedule").click()
    alice.wait_for_url("**/oncall/schedules/web-primary")
    assert alice.locator("#on-call-person").inner_text() == "pat"

    # An escalation policy with two levels; a bad target first is refused on the form.
    alice.goto("/oncall/policies/new")
    alice.get_by_label("Name (lowercase, e.g. payments-critical)").fill("web-critical")
    alice.get_by_label("Level 1 delay (minutes)").fill("0")
    alice.get_by_label("Level 1 targets").fill("schedule:nope")
    alice.get_by_role("button", name="Create policy").click()
    alice.get_by_role("alert").get_by_text("target schedule:nope").wait_for()
    assert alice.get_by_label("Level 1 targets").input_value() == "schedule:nope"
    alice.get_by_label("Level 1 targets").fill("schedule:web-primary")
    alice.get_by_label("Level 2 delay (minutes)").fill("15")
    alice.get_by_label("Level 2 targets").fill("person:quinn, person:pat")
    alice.get_by_label("Level 2 mode").select_option("round_robin")
    alice.get_by_label("Repeat the levels (times, 0-10)").fill("1")
    alice.get_by_role("button", name="Create policy").click()
    alice.wait_for_url("**/oncall/policies/web-critical")
    levels = alice.locator("#policy-levels > li")
    assert levels.count() == 2
    assert "schedule:web-primary" in levels.nth(0).inner_text()
    assert "15 min" in levels.nth(1).inner_text() and "round robin" in levels.nth(1).inner_text()
    shot(alice, "oncall-policy")

    # An override from now (the form starts at the current minute) puts quinn on call.
    alice.goto("/oncall/schedules/web-primary")
    alice.get_by_label("Who is on call").select_option("quinn")
    alice.get_by_role("button", name="Add override").click()
    alice.wait_for_url("**/oncall/schedules/web-primary")
    assert alice.locator("#on-call-person").inner_text() == "quinn"
    alice.locator("#overrides").get_by_text("quinn").wait_for()
    shot(alice, "oncall-schedule-override")

    # The viewer sees the change everywhere, read-only.
    viewer = open_as("victor")
    viewer.locator("#oncall-now").get_by_text("quinn").wait_for()  # the dashboard panel
    viewer.goto("/oncall/schedules/web-primary")
    assert viewer.locator("#on-call-person").inner_text() == "quinn"
    assert viewer.get_by_role("button", name="Add override").count() == 0
    assert viewer.get_by_role("button", name="Remove").count() == 0
    assert viewer.locator("main form").count() == 0
    token = viewer.evaluate("document.querySelector('input[name=csrf_token]').value")
    refused = viewer.request.post(
        "/oncall/schedules/web-primary/overrides",
        form={"csrf_token": token, "user": "pat", "start": "2030-01-01T00:00",
              "end": "2030-01-01T01:00"},
    )  # fmt: skip
    assert refused.status == 403
    viewer.goto("/oncall/policies/web-critical")
    assert viewer.locator("main form").count() == 0

    # Removing the override hands the shift back to pat.
    alice.locator("#overrides").get_by_role("button", name="Remove").click()
    alice.wait_for_url("**/oncall/schedules/web-primary")
    assert alice.locator("#on-call-person").inner_text() == "pat"
    alice.goto("/services")
    shot(alice, "services")
    assert _refusals_only(alice) == [] and viewer.problems == []
