"""Admin tokens: the last one cannot be revoked, WARROOM_ADMIN_TOKEN is the way back, and
"last used" is recorded at most once a minute per token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import Api
from warroom.core import auth, tables
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime


def _token_id(admin: Api, name: str) -> int:
    items = admin.ok("GET", "/api/v1/tokens")["items"]
    return next(t["id"] for t in items if t["name"] == name)


def test_the_last_admin_token_cannot_be_revoked(
    client: TestClient, make_token: Callable[..., str], clock: FixedClock
) -> None:
    admin = Api(client, make_token("admin", name="root"))
    root = _token_id(admin, "root")
    status, body = admin.request("DELETE", f"/api/v1/tokens/{root}")
    assert status == 409 and body["error"]["code"] == "last_admin_token"
    assert "WARROOM_ADMIN_TOKEN" in body["error"]["message"]
    assert admin.get("/api/v1/tokens")[0] == 200  # still works: nothing changed

    # An expiring admin token is a way back only while it lasts.
    created = admin.ok(
        "POST",
        "/api/v1/tokens",
        json={"name": "brief", "scopes": ["admin"], "expires_at": "2026-11-23T10:05:00Z"},
    )
    clock.advance(timedelta(minutes=10))
    assert admin.request("DELETE", f"/api/v1/tokens/{root}")[0] == 409

    spare = admin.ok("POST", "/api/v1/tokens", json={"name": "spare", "scopes": ["admin"]})
    assert admin.ok("DELETE", f"/api/v1/tokens/{root}")["revoked"] is True
    assert admin.get("/api/v1/tokens")[0] == 401
    other = Api(client, spare["token"])
    assert other.request("DELETE", f"/api/v1/tokens/{spare['id']}")[0] == 409
    assert other.ok("DELETE", f"/api/v1/tokens/{created['id']}")["revoked"] is True


def test_warroom_admin_token_is_the_way_back(client: TestClient, runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as conn:
        auth.ensure_admin_token(conn, "wr_first-configured-admin-token", now)
        # Every admin token revoked behind warroom's back (e.g. an older version allowed it).
        conn.execute(update(tables.api_tokens).values(revoked_at=now))
    assert Api(client, "wr_first-configured-admin-token").get("/api/v1/tokens")[0] == 401
    # The operator sets WARROOM_ADMIN_TOKEN to a new value and restarts (serve calls this).
    with runtime.db.write() as conn:
        assert auth.ensure_admin_token(conn, "wr_recovery-admin-token-value", now) is None
    status, body = Api(client, "wr_recovery-admin-token-value").get("/api/v1/tokens")
    assert status == 200 and any("WARROOM_ADMIN_TOKEN" in t["name"] for t in body["items"])


def test_last_used_is_recorded_at_most_once_a_minute(
    client: TestClient, make_token: Callable[..., str], clock: FixedClock
) -> None:
    admin = Api(client, make_token("admin", name="root"))
    script = Api(client, make_token("viewer", name="script"))

    def last_used() -> str | None:
        items = admin.ok("GET", "/api/v1/tokens")["items"]
        value = next(t["last_used_at"] for t in items if t["name"] == "script")
        return str(value) if value else None

    assert last_used() is None
    first = clock.now().isoformat()[:19]
    assert script.get("/api/v1/incidents")[0] == 200
    assert str(last_used()).startswith(first)
    clock.advance(timedelta(seconds=30))
    script.get("/api/v1/incidents")
    assert str(last_used()).startswith(first)  # within the minute: not written again
    clock.advance(timedelta(seconds=31))
    script.get("/api/v1/incidents")
    assert str(last_used()).startswith(clock.now().isoformat()[:19])
