"""The post-mortem editor and the post-mortems list in Chromium at 1366×900 and 390×844, on
the demo dataset (see test_browser_tour.py). Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web import test_browser as base
from tests.web import test_browser_tour as tour
from tests.web.test_browser import shot

pytestmark = pytest.mark.browser

browser = base.browser
demo = tour.demo
visit = tour.visit


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_postmortem_pages_at_both_sizes(visit: Any, demo: dict[str, Any], size: str) -> None:
    page = visit("alice", size=size)
    for name, path in (
        ("postmortem-editor", f"/incidents/{demo['incidents']['SEV2']}/postmortem"),
        ("postmortems", "/postmortems"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"] + 1, (path, width)
        shot(page, f"pm-{name}-{size}")
    assert page.problems == []
