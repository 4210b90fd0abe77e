"""The war room's verification panel: the window the workbench runs after mitigation, started
from the page (a move to monitoring) and confirmed by hand, through HTTP and the worker."""

from __future__ import annotations

from collections.abc import Callable

from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.worker import Worker

ALICE = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")


def panel(html: str) -> str:
    return html.split('id="verification"', 1)[1].split("</section>", 1)[0]


def work(runtime: Runtime) -> None:
    worker = Worker(runtime, name="test-worker")
    while worker.run_once() > 0:
        pass


def test_start_then_confirm_verification(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    request = schemas.DeclareIn(title="Checkout down", severity="SEV2", services=["checkout"])
    incident = runtime.incidents.declare(ALICE, request).public_id
    runtime.incidents.acknowledge(ALICE, incident)
    page = panel(alice.get(f"/incidents/{incident}").text)
    assert "not started" in page and "window 30m" in page
    assert "Start verification (move to monitoring)" in page

    started = alice.post_form(
        f"/incidents/{incident}/status",
        {"status": "monitoring", "reason": "start the verification window"},
    )
    assert started.status_code == 303
    work(runtime)  # the workbench's reactor planned the window's first check
    page = panel(alice.get(f"/incidents/{incident}").text)
    assert '<strong class="verification-running">running</strong>' in page
    assert "Started" in page and "Ends" in page
    assert "no health checks" in page and "Start verification" not in page

    blank = alice.post_form(f"/incidents/{incident}/verification/confirm", {"note": "  "})
    assert blank.status_code == 422 and "note" in blank.text
    assert not runtime.incidents.get(incident).flags.get("verification_passed")

    confirmed = alice.post_form(
        f"/incidents/{incident}/verification/confirm", {"note": "error rate <b>flat</b>"}
    )
    assert confirmed.status_code == 303
    assert runtime.incidents.get(incident).flags["verification_passed"] is True
    page = panel(alice.get(f"/incidents/{incident}").text)
    assert "passed" in page and "Confirmed stable by alice" in page
    assert "error rate &lt;b&gt;flat&lt;/b&gt;" in page and "Confirm stable" not in page
    again = alice.post_form(f"/incidents/{incident}/verification/confirm", {"note": "again"})
    assert again.status_code == 409 and "already passed" in again.text


def test_viewer_sees_the_window_but_cannot_confirm(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    victor = web_as("victor", "viewer")
    request = schemas.DeclareIn(title="Search slow", severity="SEV3", services=["search"])
    incident = runtime.incidents.declare(ALICE, request).public_id
    page = panel(victor.get(f"/incidents/{incident}").text)
    assert "not started" in page and "window 15m" in page
    assert "Confirm stable" not in page and "Start verification" not in page
    refused = victor.post_form(f"/incidents/{incident}/verification/confirm", {"note": "mine"})
    assert refused.status_code == 403
    assert not runtime.incidents.get(incident).flags.get("verification_passed")
