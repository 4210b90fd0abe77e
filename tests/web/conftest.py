"""Web fixtures: logged-in browsers-without-a-browser (TestClient with a session cookie)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from warroom.api.app import create_app
from warroom.core.runtime import Runtime
from warroom.web import users

PASSWORD = "correct horse battery"


class WebUser:
    """A TestClient holding one user's session, with the CSRF token of its forms."""

    def __init__(self, client: TestClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post_form(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True) -> Any:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=body, follow_redirects=False)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
def make_user(runtime: Runtime) -> Callable[[str, str], None]:
    def make(name: str, role: str) -> None:
        with runtime.db.write() as conn:
            users.create_user(
                conn, name=name, password=PASSWORD, role=role, created_by="tests",
                now=runtime.clock.now(),
            )  # fmt: skip

    return make


@pytest.fixture
def web_as(
    runtime: Runtime, make_user: Callable[[str, str], None]
) -> Iterator[Callable[[str, str], WebUser]]:
    clients: list[TestClient] = []

    def open_as(name: str, role: str) -> WebUser:
        make_user(name, role)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        response = login(client, name)
        assert response.status_code == 303, response.text
        return WebUser(client, csrf_of(client.get("/").text))

    yield open_as
    for client in clients:
        client.__exit__(None, None, None)
