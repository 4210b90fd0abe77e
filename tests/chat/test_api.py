"""The chat API: who may read and change links, and clear 4xx answers for bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from tests.chat.conftest import ADMIN
from tests.conftest import Api
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.runtime import Runtime
from warroom.incidents import schemas


def _api(runtime: Runtime, client: TestClient, scope: str) -> Api:
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name=scope, scopes=[scope], created_by="tests", now=runtime.clock.now()
        )
    return Api(client, token)


def test_links_status_and_channels_through_the_api(
    chat_runtime: Callable[[dict[str, Any]], Runtime],
) -> None:
    runtime = chat_runtime(
        {"mattermost": {"url": "http://127.0.0.1:9", "team": "ops", "bot_token": "x"}}
    )
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    admin, responder, viewer = (_api(runtime, client, s) for s in ("admin", "responder", "viewer"))
    link = {"platform": "mattermost", "chat_user": "u1", "person": "alice"}

    assert viewer.request("PUT", "/api/v1/chat/links", json=link)[0] == 403
    assert responder.request("PUT", "/api/v1/chat/links", json=link)[0] == 403
    status, body = admin.request("PUT", "/api/v1/chat/links", json={**link, "person": "zed"})
    assert status == 422 and "no person 'zed'" in body["error"]["message"]
    status, body = admin.request("PUT", "/api/v1/chat/links", json={**link, "platform": "irc"})
    assert status == 422 and "not configured" in body["error"]["message"]
    assert admin.request("PUT", "/api/v1/chat/links", json={**link, "extra": 1})[0] == 422
    assert admin.ok("PUT", "/api/v1/chat/links", json=link) == link
    assert [row["person"] for row in viewer.ok("GET", "/api/v1/chat/links")] == ["alice"]
    assert admin.request("DELETE", "/api/v1/chat/links/mattermost/u2")[0] == 404
    assert responder.request("DELETE", "/api/v1/chat/links/mattermost/u1")[0] == 403
    assert admin.request("DELETE", "/api/v1/chat/links/mattermost/u1")[0] == 204
    assert viewer.ok("GET", "/api/v1/chat/links") == []

    [platform] = viewer.ok("GET", "/api/v1/chat/status")["platforms"]
    assert platform == {
        "platform": "mattermost",
        "state": "unknown",
        "open_channels": 0,
        "last_attempt_at": None,
        "last_error": None,
        "last_error_at": None,
    }
    assert responder.request("POST", "/api/v1/chat/check")[0] == 403
    [checked] = admin.ok("POST", "/api/v1/chat/check")["platforms"]
    assert checked["ok"] is False and "x" not in checked["error"].split()  # never the token

    incident = runtime.incidents.declare(
        ADMIN, schemas.DeclareIn(title="t", severity="SEV4")
    ).public_id
    assert viewer.ok("GET", f"/api/v1/incidents/{incident}/chat") == []
    assert viewer.request("GET", "/api/v1/incidents/INC-20991231-999/chat")[0] == 404
    # Unsigned inbound requests are refused; platforms not configured answer 404.
    assert client.post("/api/v1/chat/mattermost/command", content=b"token=nope").status_code == 401
    assert client.post("/api/v1/chat/slack/commands", content=b"x=1").status_code == 404
