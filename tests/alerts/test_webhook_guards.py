"""The webhooks are answered outside the app's middleware (the intake fast path): every guard
a request meets inside the app applies to them too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.helpers import am_alert, am_payload, create_integration
from tests.conftest import Api
from warroom.core.runtime import Runtime

PATH = "/api/v1/alerts/alertmanager"


@pytest.fixture
def am_key(admin_api: Api) -> str:
    return create_integration(admin_api, "prom", "alertmanager")


def _nothing_stored(admin_api: Api) -> None:
    assert admin_api.ok("GET", "/api/v1/alerts")["items"] == []
    assert admin_api.ok("GET", "/api/v1/alerts/counts")["received"] == 0


def test_a_webhook_answer_carries_the_security_headers(api: Api, am_key: str) -> None:
    response = api.client.post(
        PATH,
        json=am_payload([am_alert(fingerprint="9a00000000000001")]),
        headers={"Authorization": f"Bearer {am_key}"},
    )
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["location"].startswith("/api/v1/alerts/requests/")


def test_a_body_sent_in_chunks_past_the_cap_is_413(
    api: Api, admin_api: Api, am_key: str, runtime: Runtime
) -> None:
    cap = runtime.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:  # no Content-Length: only counting what arrives catches it
        yield b'{"alerts": ['
        for _ in range(cap // 1000 + 1):
            yield b" " * 1000

    response = api.client.post(
        PATH, content=chunks(), headers={"Authorization": f"Bearer {am_key}"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["x-content-type-options"] == "nosniff"
    _nothing_stored(admin_api)


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("", b'{"version": "4", "alerts": [{"labels": {"alertname": "a\\u0000b"}}]}'),
        ("?integration=%00", b'{"version": "4", "alerts": []}'),
    ],
    ids=["escaped-in-body", "in-query"],
)
def test_a_nul_character_is_422(
    api: Api, admin_api: Api, am_key: str, suffix: str, body: bytes
) -> None:
    response = api.client.post(
        PATH + suffix,
        content=body,
        headers={"Authorization": f"Bearer {am_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    _nothing_stored(admin_api)


def test_an_unexpected_failure_is_a_500_with_the_api_error_body(
    api: Api, am_key: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(runtime.alerts.intake, "accept_async", broken)
    response = api.client.post(
        PATH,
        json=am_payload([am_alert(fingerprint="9a00000000000002")]),
        headers={"Authorization": f"Bearer {am_key}"},
    )
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "a bug" not in response.text  # the server log says what; the sender is not told


def test_webhooks_are_timed_by_route_template(admin_api: Api, am_key: str) -> None:
    for key in (am_key, "wrong-key"):
        admin_api.client.post(
            f"{PATH}/{key}", json=am_payload([am_alert(fingerprint="9a00000000000003")])
        )
    text = admin_api.client.get("/metrics", headers=admin_api.headers).text
    timed = [
        line
        for line in text.splitlines()
        if line.startswith("warroom_http_request_duration_seconds_count")
        and 'route="/api/v1/alerts/alertmanager/{key}"' in line
    ]
    assert any('status="202"' in line and line.endswith(" 1.0") for line in timed), timed
    assert any('status="401"' in line and line.endswith(" 1.0") for line in timed), timed
