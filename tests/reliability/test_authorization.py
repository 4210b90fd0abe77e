"""Authorization proven by enumeration: every route, unauthenticated and as a viewer."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from tests.conftest import Api

# Public by design: health, API docs, the public status page, and intake endpoints that
# authenticate with their own integration keys (checked by their own tests).
PUBLIC = (
    re.compile(r"^/healthz$"),
    re.compile(r"^/readyz$"),
    re.compile(r"^/api/docs"),
    re.compile(r"^/api/openapi\.json$"),
    re.compile(r"^/$"),
    # Signed, expiring, single-use acknowledgement links from notifications.
    re.compile(r"^/api/v1/oncall/ack/"),
    # Alert intake: each integration authenticates with its own key (see tests/alerts).
    re.compile(r"^(/api/v1)?/v2/enqueue$"),
    re.compile(r"^/api/v1/alerts/(alertmanager|grafana|generic)(/|$)"),
    re.compile(r"^/api/v1/heartbeats/"),
    re.compile(r"^/status(/|$)"),  # the public status page (warroom.comms.public)
    re.compile(r"^/login$"),
    # Sign-in through the OpenID provider (state, nonce and PKCE checked; tests/identity).
    re.compile(r"^/login/oidc(/callback)?$"),
    # Chat platforms' callbacks: Slack request signatures and Mattermost command tokens, each
    # checked by the platform's own tests (tests/chat); unconfigured platforms answer 404.
    re.compile(r"^/api/v1/chat/slack/(events|commands|interactivity)$"),
    re.compile(r"^/api/v1/chat/mattermost/(command|action)$"),
)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, including those of included routers (FastAPI wraps them)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def _routes(client: TestClient) -> list[tuple[str, str]]:
    app: Any = client.app
    routes = _api_routes(app.router.routes)
    # The walk must see at least every documented operation.
    walked = {route.path for route in routes}
    assert set(app.openapi()["paths"]) <= walked
    found = []
    for route in routes:
        path = re.sub(r"\{[^}:]+(:path)?\}", "INC-20261123-001", route.path)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def _is_public(path: str) -> bool:
    return any(pattern.search(path) for pattern in PUBLIC)


def test_every_route_needs_authentication(client: TestClient) -> None:
    routes = _routes(client)
    assert len(routes) > 25
    failures = []
    for method, path in routes:
        if _is_public(path):
            continue
        reply = client.request(method, path, json={})
        if reply.status_code != 401:
            failures.append(f"{method} {path} -> {reply.status_code}")
    assert failures == []


def test_viewers_cannot_write_anywhere(client: TestClient, viewer_api: Api) -> None:
    failures = []
    for method, path in _routes(client):
        if method not in WRITE_METHODS or _is_public(path):
            continue
        status, _ = viewer_api.request(method, path, json={})
        if status != 403:
            failures.append(f"{method} {path} -> {status}")
    assert failures == []


def test_a_bad_token_is_401_not_403(client: TestClient) -> None:
    reply = client.get("/api/v1/incidents", headers={"Authorization": "Bearer wr_nope"})
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthorized"
