"""The war room's "Open channel" link, in a real browser (Debian's Chromium, Playwright)
against `warroom serve` with a chat section; screenshots at 1366×900 and 390×844 land in
test-artifacts/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.chat.conftest import ADMIN
from tests.chat.slack_server import BOT_TOKEN, SlackServer
from tests.chat.synapse import free_port
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.core.vocab import Role
from warroom.incidents import schemas
from warroom.oncall.models import PersonIn
from warroom.web import users
from warroom.worker import Worker

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser test password"

if not Path(CHROMIUM).exists():  # CI installs it (.ci/run); never skip there
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """`warroom serve` with a Slack channel opened for one incident: (url, incident, channel)."""
    slack = SlackServer()
    data_dir = tmp_path / "data"
    config = tmp_path / "warroom.yaml"
    chat = {"slack": {"bot_token": BOT_TOKEN, "signing_secret": "s", "api_url": slack.url}}
    config.write_text(yaml.safe_dump({"chat": chat}))
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=None, config=config))
    with runtime.db.write() as conn:
        users.create_user(
            conn, name="alice", password=PASSWORD, role="responder", created_by="tests",
            now=runtime.clock.now(),
        )  # fmt: skip
    runtime.oncall.create_person(ADMIN, PersonIn(name="alice", email="a@example.com"))
    incident = runtime.incidents.declare(
        ADMIN,
        schemas.DeclareIn(
            title="Checkout returns 502 for card payments",
            severity="SEV2",
            services=[],
            roles={Role.COMMANDER: "alice"},
        ),
    ).public_id
    Worker(runtime).run_once()
    [channel] = slack.state.channels
    runtime.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env.update(WARROOM_DATA_DIR=str(data_dir), WARROOM_PORT=str(port), WARROOM_CONFIG=str(config))
    log = (tmp_path / "serve.log").open("w")
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
            tmp_path / "serve.log"
        ).read_text()
        time.sleep(0.1)
    try:
        yield url, incident, channel
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        slack.stop()


def problems_of(problems: list[str], kind: str) -> Any:
    """A page listener collecting script errors and console errors into `problems`."""

    def listen(item: Any) -> None:
        if kind == "pageerror":
            problems.append(str(item))
        elif item.type == "error":
            problems.append(item.text)

    return listen


def test_the_war_room_links_the_incident_channel(served: tuple[str, str, str]) -> None:
    url, incident, channel = served
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            for name, options in (
                ("desktop", {"viewport": {"width": 1366, "height": 900}}),
                ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True}),
            ):
                context = browser.new_context(base_url=url, **options)
                page = context.new_page()
                problems: list[str] = []
                page.on("pageerror", problems_of(problems, "pageerror"))
                page.on("console", problems_of(problems, "console"))
                page.goto("/")
                page.get_by_label("User name").fill("alice")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(f"{url}/")
                page.goto(f"/incidents/{incident}")
                link = page.get_by_role("link", name=f"Open channel #inc-{incident[4:12]}-001-")
                assert link.get_attribute("href") == (
                    f"https://warroom-test.slack.com/archives/{channel}"
                )
                assert link.get_attribute("rel") == "noopener"
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"chat-war-room-link-{name}.png"))
                assert problems == []
                context.close()
        finally:
            browser.close()
