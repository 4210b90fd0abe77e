"""The "nobody was paged" warning in Chromium at 1366×900 and 390×844: a SEV2 on a service
without an escalation policy, as an on-call engineer sees it on the dashboard and the war room
(screenshots to test-artifacts/), with no CSP or script errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.oncall.conftest import drain
from tests.web.test_browser import (  # noqa: F401  (fixtures, with the Chromium skip)
    PASSWORD,
    browser,
    serve,
    shot,
)
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.web import users

pytestmark = pytest.mark.browser

CONFIG = "policy: default\nservices:\n  - name: checkout-api\n  - name: search\n"
RESPONDER = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")


@pytest.fixture(scope="module")
def unpaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server whose open SEV2 on checkout-api paged nobody (no escalation policy)."""
    data_dir: Path = tmp_path_factory.mktemp("unpaged") / "data"
    data_dir.mkdir()
    (data_dir / "warroom.yaml").write_text(CONFIG)
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=None, config=None))
    with runtime.db.write() as conn:
        users.create_user(
            conn, name="alice", password=PASSWORD, role="responder", created_by="tests",
            now=runtime.clock.now(),
        )  # fmt: skip
    state = runtime.incidents.declare(
        RESPONDER,
        schemas.DeclareIn(
            title="Checkout returns 502 for card payments",
            severity="SEV2",
            services=["checkout-api"],
        ),
    )
    drain(runtime)
    assert runtime.oncall.escalation.paging_problems(), "the incident should have paged nobody"
    runtime.close()
    with serve(data_dir) as url:
        yield url, state.public_id


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_warning_is_on_top_of_the_dashboard_and_the_war_room(
    browser: Any,  # noqa: F811
    unpaged: tuple[str, str],
    phone: bool,
) -> None:
    url, incident = unpaged
    options: dict[str, Any] = {"base_url": url, "viewport": {"width": 1366, "height": 900}}
    if phone:
        options.update(viewport={"width": 390, "height": 844}, is_mobile=True)
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto("/")
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{url}/")
        warning = page.locator(".paging-problem").first
        heading = f"Nobody was paged for {incident} (SEV2, checkout-api)"
        assert heading in warning.inner_text()
        box = warning.bounding_box()
        assert box is not None and box["y"] < 300  # above the fold, before the panels
        shot(page, f"paging-problem-dashboard-{'phone' if phone else 'desktop'}")
        warning.get_by_role("link", name="Set the escalation policy of checkout-api").click()
        page.wait_for_url(f"{url}/services/checkout-api")
        page.goto(f"/incidents/{incident}")
        assert heading in page.locator(".paging-problem").first.inner_text()
        shot(page, f"paging-problem-war-room-{'phone' if phone else 'desktop'}")
        assert problems == []
    finally:
        context.close()
