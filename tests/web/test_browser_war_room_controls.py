"""The MUST STOP banner and the flags control in Chromium, at 1366×900 and 390×844, on a real
`warroom serve` with the orchestrator preset (seed 001: data loss is a MUST STOP).
Screenshots go to test-artifacts/controls-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web import test_browser as base
from tests.web.test_browser import PASSWORD, playwright, serve, shot
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.web import users

pytestmark = pytest.mark.browser

browser = base.browser
ALICE = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two SEV1 incidents declared with data loss at triage (each raises the data-loss stop)."""
    root = tmp_path_factory.mktemp("controls")
    config = root / "warroom.yaml"
    config.write_text("policy: orchestrator\n")
    data_dir = root / "data"
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=None, config=config))
    ids = []
    with runtime.db.write() as conn:
        users.create_user(
            conn, name="alice", password=PASSWORD, role="responder", created_by="tests",
            now=runtime.clock.now(),
        )  # fmt: skip
    for title in ("Orders table truncated by a migration", "Invoices missing since 02:00"):
        body = schemas.DeclareIn(
            title=title,
            severity="SEV1",
            services=["orders"],
            triage=schemas.TriageIn(data_loss=True),
        )
        ids.append(runtime.incidents.declare(ALICE, body).public_id)
    runtime.close()
    with serve(data_dir, WARROOM_CONFIG=str(config)) as url:
        yield {"url": url, "incidents": ids}


def _open(browser: Any, url: str, viewport: dict[str, int], *, phone: bool = False) -> Any:
    context = browser.new_context(base_url=url, viewport=viewport, is_mobile=phone)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.goto("/login")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    return page


def _refused(problems: list[str]) -> list[str]:
    return [p for p in problems if "status of 4" not in p]


def test_must_stop_banner_first_then_acknowledged_desktop(
    browser: Any, stopped: dict[str, Any]
) -> None:
    page = _open(browser, stopped["url"], DESKTOP)
    incident = stopped["incidents"][0]
    page.goto(f"/incidents/{incident}")
    banner = page.locator("#must-stop .must-stop")
    playwright.expect(banner).to_contain_text("MUST STOP")
    playwright.expect(banner).to_contain_text("Surface, don't solve")
    box = banner.bounding_box()
    header = page.locator("#incident-header").bounding_box()
    assert box is not None and header is not None
    assert box["y"] < header["y"] and box["y"] + box["height"] < DESKTOP["height"]
    page.screenshot(path=str(base.ARTIFACTS / "controls-must-stop-desktop-screen.png"))
    shot(page, "controls-must-stop-desktop")

    # A refused acknowledgement (a blank decision) keeps the banner.
    decision = page.get_by_label("Decision (required, goes on the timeline)")
    decision.fill("   ")
    banner.get_by_role("button", name="Acknowledge with this decision").click()
    page.locator(".flash.error, [role=alert]").first.wait_for()
    playwright.expect(page.locator("#must-stop .must-stop")).to_have_count(1)

    page.get_by_label("Decision (required, goes on the timeline)").fill(
        "Restore from the 02:00 backup; DPO informed"
    )
    page.get_by_role("button", name="Acknowledge with this decision").click()
    page.wait_for_url(f"**/incidents/{incident}")
    playwright.expect(page.locator("#must-stop .must-stop")).to_have_count(0)
    playwright.expect(page.locator("#timeline")).to_contain_text("MUST STOP acknowledged")
    playwright.expect(page.locator("#timeline")).to_contain_text("Restore from the 02:00 backup")

    # The flags control: set one, with its reason, then see it in the panel and timeline.
    flags = page.locator("#incident-flags")
    playwright.expect(flags).to_contain_text("data loss")
    flags.locator("summary").click()
    flags.get_by_label("Flag").fill("stopped")
    flags.get_by_label("Reason (required, goes on the timeline)").fill("trying it")
    flags.get_by_role("button", name="Save flag").click()
    page.get_by_text("set by warroom itself").first.wait_for()
    playwright.expect(page.locator("#incident-flags").get_by_label("Flag")).to_have_value("stopped")
    flags = page.locator("#incident-flags")
    flags.get_by_label("Flag").fill("customer_facing")
    flags.get_by_label("Reason (required, goes on the timeline)").fill("checkout shows errors")
    flags.get_by_role("button", name="Save flag").click()
    page.wait_for_url(f"**/incidents/{incident}")
    playwright.expect(page.locator("#incident-flags")).to_contain_text("checkout shows errors")
    page.locator("#incident-flags").scroll_into_view_if_needed()
    shot(page, "controls-flags-desktop")
    assert _refused(page.problems) == []


def test_must_stop_banner_is_the_first_screen_on_a_phone(
    browser: Any, stopped: dict[str, Any]
) -> None:
    page = _open(browser, stopped["url"], PHONE, phone=True)
    page.goto(f"/incidents/{stopped['incidents'][1]}")
    banner = page.locator("#must-stop .must-stop")
    box = banner.bounding_box()
    assert box is not None and box["y"] < 120, box
    button = banner.get_by_role("button", name="Acknowledge with this decision").bounding_box()
    assert button is not None and button["y"] + button["height"] < PHONE["height"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1
    page.screenshot(path=str(base.ARTIFACTS / "controls-must-stop-phone-screen.png"))
    shot(page, "controls-must-stop-phone")
    assert page.problems == []
