"""Behind a TLS proxy: a real `warroom serve` trusting X-Forwarded-* from the proxy's address
marks cookies Secure and throttles logins per client address (429 with Retry-After)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import Process, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(**env: str) -> Process:
        data_dir = tmp_path / f"data{len(started)}"
        data_dir.mkdir()
        url = f"sqlite:///{data_dir / 'warroom.db'}"
        process = start_server(url, data_dir, worker=False, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _login_form(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[str, str]:
    page = client.get(f"{url}/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1), page.headers["set-cookie"]


def _fail_login(url: str, name: str, client_ip: str) -> httpx.Response:
    headers = {"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https"}
    with httpx.Client() as client:
        token, _ = _login_form(client, url, headers)
        client.cookies.set("warroom_login_csrf", token)
        return client.post(
            f"{url}/login",
            data={"csrf_token": token, "name": name, "password": "wrong password"},
            headers=headers,
        )


def test_behind_a_trusted_proxy_cookies_are_secure_and_throttling_sees_the_client(
    serve: Callable[..., Process],
) -> None:
    server = serve(WARROOM_FORWARDED_ALLOW_IPS="127.0.0.1")
    with httpx.Client() as client:
        _, cookie = _login_form(client, server.url, {"X-Forwarded-Proto": "https"})
        assert "warroom_login_csrf=" in cookie and "secure" in cookie.lower()
        _, plain = _login_form(client, server.url, {})
        assert "secure" not in plain.lower()  # plain http straight to warroom

    for n in range(5):  # five different names from one client address
        assert _fail_login(server.url, f"user{n}", "203.0.113.7").status_code == 401
    blocked = _fail_login(server.url, "user9", "203.0.113.7")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "too many failed logins" in blocked.text
    # Another client behind the same proxy is not blocked.
    assert _fail_login(server.url, "user9", "198.51.100.20").status_code == 401


def test_without_proxy_headers_forwarded_headers_are_ignored(
    serve: Callable[..., Process],
) -> None:
    server = serve(WARROOM_PROXY_HEADERS="false")
    with httpx.Client() as client:
        _, cookie = _login_form(client, server.url, {"X-Forwarded-Proto": "https"})
        assert "secure" not in cookie.lower()
    for n in range(5):  # "different clients" by header, one address in truth
        assert _fail_login(server.url, f"user{n}", f"203.0.113.{n}").status_code == 401
    assert _fail_login(server.url, "user9", "198.51.100.20").status_code == 429
