"""Sign-in through a real OpenID provider in a real browser: Chromium (Playwright), a real
`warroom serve` and panva's oidc-provider. Screenshots land in test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.identity.conftest import CLIENT_ID, CLIENT_SECRET, IDP_PASSWORD, OpenIdProvider

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

if not Path(CHROMIUM).exists():  # CI installs it (.ci/run); never skip there
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sso_server(
    tmp_path: Path, provider_factory: Callable[..., OpenIdProvider]
) -> Iterator[tuple[str, OpenIdProvider]]:
    """`warroom serve` with single sign-on only (password login off)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    op = provider_factory([f"{url}/login/oidc/callback"], [f"{url}/login"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env.update(
        WARROOM_DATA_DIR=str(tmp_path / "data"),
        WARROOM_PORT=str(port),
        WARROOM_OIDC_ISSUER=op.issuer,
        WARROOM_OIDC_CLIENT_ID=CLIENT_ID,
        WARROOM_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        WARROOM_OIDC_PROVIDER_NAME="Test IdP",
        WARROOM_ADMIN_GROUPS="sre-leads",
        WARROOM_RESPONDER_GROUPS="oncall",
        WARROOM_PASSWORD_LOGIN="false",
    )
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--no-worker", "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
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
        yield url, op
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield instance
        instance.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_sign_in_and_out_through_the_provider_in_a_browser(
    sso_server: tuple[str, OpenIdProvider], browser: Any, phone: bool
) -> None:
    url, op = sso_server
    size = {"width": 390, "height": 844} if phone else {"width": 1366, "height": 900}
    context = browser.new_context(base_url=url, viewport=size, is_mobile=phone)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    suffix = "phone" if phone else "desktop"

    page.goto("/incidents")
    page.wait_for_url(f"{url}/login?next=/incidents")
    assert page.get_by_label("Password").count() == 0  # password login is off
    shot(page, f"identity-login-sso-{suffix}")

    # A wrong password at the provider: back on warroom's page with the reason.
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{op.issuer}/interaction/**")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/login/oidc/callback**")
    alert = page.get_by_role("alert")
    assert "did not let you in (wrong user name or password)" in alert.inner_text()
    shot(page, f"identity-login-denied-{suffix}")

    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{op.issuer}/interaction/**")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(IDP_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")
    assert "alice" in page.content()
    assert page.get_by_role("link", name="Users").count() == 1  # sre-leads -> admin
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["warroom_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    shot(page, f"identity-signed-in-{suffix}")

    # Logging out ends the provider's session too (RP-initiated logout, its confirmation).
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="You are logged out of warroom").wait_for()
    shot(page, f"identity-signed-out-{suffix}")
    page.get_by_role("link", name="Also sign out of Test IdP").click()
    page.wait_for_url(f"{op.issuer}/session/end**")
    page.locator("button[autofocus], button[type=submit]").first.click()
    page.wait_for_url(f"{url}/login**")
    page.goto("/")
    page.wait_for_url(f"{url}/login**")
    assert problems == []
    context.close()
