"""Out-of-range ids and cursors, NUL bytes and absurd durations in the alerts API: a clear 4xx
that changes nothing (these were 500s on SQLite's 64-bit integers and PostgreSQL's text)."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from warroom.api.deps import MAX_ID

TOO_BIG = "9223372036854775808"  # 2**63: one past SQLite's and PostgreSQL's bigint


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/alerts/{TOO_BIG}",
        "/api/v1/alerts/0",
        "/api/v1/alerts/-1",
        f"/api/v1/alerts?cursor={TOO_BIG}",
        "/api/v1/alerts?cursor=1e23",
        "/api/v1/alerts?cursor=0",
        "/api/v1/alerts?incident=INC%00",
        "/api/v1/alerts?integration=prom%00",
    ],
)
def test_out_of_range_reads_are_422(api: Api, path: str) -> None:
    status, body = api.get(path)
    assert status == 422, body
    assert body["error"]["code"] == "invalid_input"


def test_the_largest_id_is_a_404(api: Api) -> None:
    status, body = api.get(f"/api/v1/alerts/{MAX_ID}")
    assert status == 404, body
    status, body = api.get(f"/api/v1/alerts?cursor={MAX_ID}")
    assert status == 200 and body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "body",
    [
        {"matchers": ["service=payments"], "comment": "deploy", "duration": "10000000w"},
        {"matchers": ["service=payments"], "comment": "deploy", "duration": "99999999999999d"},
        {"matchers": ["service=pay\x00ments"], "comment": "deploy", "duration": "1h"},
        {"matchers": ["service=payments"], "comment": "dep\x00loy", "duration": "1h"},
    ],
)
def test_bad_silences_are_422_and_store_nothing(api: Api, body: dict[str, object]) -> None:
    status, answer = api.post("/api/v1/silences", json=body)
    assert status == 422, answer
    assert api.ok("GET", "/api/v1/silences?all=true")["items"] == []


def test_expiring_an_out_of_range_silence_is_422(api: Api) -> None:
    status, body = api.post(f"/api/v1/silences/{TOO_BIG}/expire")
    assert status == 422, body
