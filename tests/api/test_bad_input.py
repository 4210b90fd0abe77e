"""Out-of-range and unstorable input is bad input (4xx, nothing changed) on every endpoint, never
a server error: ids past 64 bits, cursors, times before the epoch, durations of centuries, time
zones the OS cannot open, NUL characters (which PostgreSQL cannot store)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


def counts(api: Api) -> tuple[int, int, int]:
    incidents = len(api.ok("GET", "/api/v1/incidents")["items"])
    silences = len(api.ok("GET", "/api/v1/silences?all=true")["items"])
    schedules = len(api.ok("GET", "/api/v1/oncall/schedules")["items"])
    return incidents, silences, schedules


BAD: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/silences", {"matchers": ["a=b"], "comment": "x", "duration": "10000000w"}),
    ("POST", "/api/v1/silences", {"matchers": ["a=b"], "comment": "x", "ends_at": "0001-01-01"}),
    ("GET", "/api/v1/incidents?cursor=1e23", None),
    ("GET", "/api/v1/incidents?cursor=9223372036854775808", None),
    ("GET", "/api/v1/alerts?cursor=9223372036854775808", None),
    ("GET", "/api/v1/changes?since=0001-01-01", None),
    ("GET", "/api/v1/metrics?since=0001-01-01", None),
    ("POST", "/api/v1/oncall/pages/9223372036854775808/ack", None),
    ("GET", "/api/v1/alerts/9223372036854775808", None),
    ("POST", "/api/v1/silences/9223372036854775808/expire", None),
    ("POST", "/api/v1/oncall/schedules", {"name": "primary", "timezone": "A" * 300}),
    ("GET", "/api/v1/metrics?tz=" + "Europe/" + "A" * 60, None),
    ("POST", "/api/v1/incidents", {"title": "a\u0000b", "severity": "SEV3"}),
    ("POST", "/api/v1/incidents", {"title": "ok", "severity": "SEV3", "summary": "\u0000"}),
    ("GET", "/api/v1/incidents?service=%00", None),
    ("GET", "/api/v1/incidents?q=pay%00ments", None),
    ("GET", "/api/v1/incidents/INC-%00", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD)
def test_bad_input_is_4xx_and_changes_nothing(
    admin_api: Api, method: str, path: str, body: Any
) -> None:
    before = counts(admin_api)
    status, data = admin_api.request(method, path, json=body)
    assert 400 <= status < 500, (status, data)
    assert data["error"]["code"] == "invalid_input", data
    assert counts(admin_api) == before


def test_an_escaped_backslash_before_u0000_is_ordinary_text(admin_api: Api) -> None:
    # JSON "a\\u0000b" is the six characters a, \, u, 0, 0, 0, 0, b: not a NUL.
    status, data = admin_api.request(
        "POST",
        "/api/v1/incidents",
        content=b'{"title": "a\\\\u0000b", "severity": "SEV3"}',
        headers={"content-type": "application/json"},
    )
    assert status == 201, data
    assert data["title"] == "a\\u0000b"


def test_a_nul_in_a_web_form_is_refused(client: Any) -> None:
    response = client.post(
        "/login",
        content=b"name=ad%00min&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422


def test_openapi_declares_the_error_answers_of_each_operation(client: Any) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "Error" in schema["components"]["schemas"]
    declare = schema["paths"]["/api/v1/incidents"]["post"]["responses"]
    assert {"401", "403", "409", "422", "429"} <= set(declare)
    show = schema["paths"]["/api/v1/incidents/{incident_id}"]["get"]["responses"]
    assert {"401", "404", "422"} <= set(show) and "409" not in show
    # Webhooks answer in their sender's format (PagerDuty's for /v2/enqueue): not declared here.
    assert "400" not in schema["paths"]["/v2/enqueue"]["post"]["responses"]
