"""The web UI in a real browser: Debian's Chromium driven by Playwright, against `warroom serve`.

Screenshots land in test-artifacts/ (gitignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.web import users

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser test password"

if not Path(CHROMIUM).exists():  # CI installs it (.ci/run); never skip there
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_with_users(data_dir: Path, accounts: tuple[tuple[str, str], ...]) -> Iterator[str]:
    """A real `warroom serve` on a fresh SQLite data dir with these (name, role) users."""
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=None, config=None))
    with runtime.db.write() as conn:
        for name, role in accounts:
            users.create_user(
                conn, name=name, password=PASSWORD, role=role, created_by="tests",
                now=runtime.clock.now(),
            )  # fmt: skip
    runtime.close()
    with serve(data_dir) as url:
        yield url


@contextmanager
def serve(data_dir: Path, **extra_env: str) -> Iterator[str]:
    """A real `warroom serve` (no worker) on this data dir; yields its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env.update(WARROOM_DATA_DIR=str(data_dir), WARROOM_PORT=str(port), **extra_env)
    log = (data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--no-worker", "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (
            data_dir / "serve.log"
        ).read_text()
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three users: two responders and a viewer."""
    accounts = (("alice", "responder"), ("bob", "responder"), ("victor", "viewer"))
    with serve_with_users(tmp_path_factory.mktemp("browser") / "data", accounts) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield instance
        instance.close()


@pytest.fixture
def open_as(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser context logged in as a user; collects CSP and script errors."""
    contexts: list[Any] = []

    def make(name: str, *, phone: bool = False) -> Any:
        options: dict[str, Any] = {"base_url": server}
        if phone:
            options.update(viewport={"width": 390, "height": 844}, is_mobile=True)
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        page.on(
            "console",
            lambda msg: page.problems.append(msg.text) if msg.type == "error" else None,
        )
        page.on("dialog", lambda dialog: page.problems.append(f"dialog: {dialog.message}"))
        page.goto("/")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{server}/")
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def live(page: Any) -> None:
    """Wait until the page's event stream is open (so later changes reach it)."""
    page.locator("html[data-live='open']").wait_for(state="attached")


def open_resolve(page: Any) -> None:
    if page.locator("details#resolve[open]").count() == 0:
        page.locator("details#resolve > summary").click()


def test_declare_live_ack_note_resolve(open_as: Any) -> None:
    watcher = open_as("alice")
    watcher.goto("/incidents")
    live(watcher)
    watcher.evaluate("window.notReloaded = true")
    actor = open_as("bob")
    actor.goto("/incidents/new")
    actor.get_by_label("What is broken?").fill("Payments API returns 500")
    actor.get_by_label("Services (comma separated)").fill("payments-api")
    question = actor.get_by_role("group", name="Is the service completely down?")
    question.get_by_label("Yes").check()
    actor.get_by_role("group", name="Are customers affected?").get_by_label("Yes").check()
    proposal = actor.locator("#proposal")
    proposal.locator(".sev", has_text="SEV1").wait_for()
    shot(actor, "declare-form")
    actor.get_by_role("button", name="Declare").click()
    actor.wait_for_url("**/incidents/INC-*")
    incident = actor.url.rsplit("/", 1)[1]

    # The other open page shows the new incident without a reload.
    watcher.get_by_role("link", name=f"{incident} Payments API returns 500").wait_for()
    assert watcher.evaluate("window.notReloaded") is True
    shot(watcher, "incident-list-live")

    watcher.goto(f"/incidents/{incident}")
    live(watcher)
    watcher.evaluate("window.notReloaded = true")
    actor.get_by_role("button", name="Acknowledge").click()
    watcher.locator("#incident-header .status-acknowledged").wait_for()
    actor.get_by_label("Add a note (Markdown)").fill("Rolled back **payments-api** to v41")
    actor.get_by_role("button", name="Post note").click()
    watcher.locator("#timeline strong", has_text="payments-api").wait_for()
    assert watcher.evaluate("window.notReloaded") is True

    # Resolve: an incomplete checklist is refused with the reason, then completed.
    open_resolve(actor)
    actor.get_by_label("Resolution summary (required)").fill("Rolled back the release")
    actor.get_by_role("button", name="Resolve").click()
    actor.get_by_role("alert").get_by_text("checklist is incomplete").wait_for()
    shot(actor, "resolve-refused")
    open_resolve(actor)
    actor.get_by_label("Resolution summary (required)").fill("Rolled back the release")
    for box in actor.locator(".checklist input[type=checkbox]").all():
        box.check()
    actor.get_by_role("button", name="Resolve").click()
    actor.locator("#incident-header .status-resolved").wait_for()
    watcher.locator("#incident-header .status-resolved").wait_for()
    shot(watcher, "war-room-resolved")
    assert watcher.problems == []
    # The refused resolve answered 409 (shown on the page); nothing else went wrong.
    assert [p for p in actor.problems if "status of 409" not in p] == []


def test_viewer_cannot_act_and_script_payloads_are_inert(open_as: Any, server: str) -> None:
    alice = open_as("alice")
    alice.goto("/incidents/new")
    alice.get_by_label("What is broken?").fill("Search is slow")
    alice.get_by_label("Severity").select_option("SEV3")
    alice.get_by_label("Reason, if you override the proposal").fill("known scope")
    alice.get_by_role("button", name="Declare").click()
    alice.wait_for_url("**/incidents/INC-*")
    incident = alice.url.rsplit("/", 1)[1]

    viewer = open_as("victor", phone=True)
    viewer.goto(f"/incidents/{incident}")
    live(viewer)
    assert viewer.get_by_role("button", name="Acknowledge").count() == 0
    assert viewer.get_by_label("Add a note (Markdown)").count() == 0
    # A forged post with the viewer's own valid session and CSRF token is refused.
    token = viewer.evaluate("document.querySelector('input[name=csrf_token]').value")
    refused = viewer.request.post(f"/incidents/{incident}/ack", form={"csrf_token": token})
    assert refused.status == 403

    payload = (
        "<script>window.pwned = 1</script>\n\n"
        '<img src="x" onerror="window.pwned = 2">\n\n'
        "[link](javascript:window.pwned=3) and **still bold**"
    )
    alice.get_by_label("Add a note (Markdown)").fill(payload)
    alice.get_by_role("button", name="Post note").click()
    alice.locator("#timeline strong", has_text="still bold").wait_for()
    # The viewer got the note live over the event stream: rendered as text, never run.
    viewer.locator("#timeline strong", has_text="still bold").wait_for()
    for page in (alice, viewer):
        assert page.evaluate("window.pwned === undefined")
        assert page.locator("#timeline img").count() == 0
        assert page.locator("#timeline script").count() == 0
        assert page.locator("#timeline a[href^='javascript']").count() == 0
        page.get_by_text("<script>window.pwned = 1</script>").wait_for()
    shot(viewer, "viewer-phone-xss-inert")

    # The list filters as you type (htmx), keeping the URL in step.
    alice.goto("/incidents")
    alice.get_by_label("Search").fill("no such thing")
    alice.get_by_text("No incident matches.").wait_for()
    alice.get_by_label("Search").fill("search is")
    alice.get_by_role("link", name=f"{incident} Search is slow").wait_for()
    playwright.expect(alice).to_have_url(re.compile(r"/incidents\?.*q=search(%20|\+)is"))
    assert alice.problems == [] and viewer.problems == []
