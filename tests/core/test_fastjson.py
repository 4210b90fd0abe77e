"""The hot paths' JSON: orjson's speed, the standard library's meaning."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from warroom.core import fastjson


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, "é", null, true], "b": {"c": "\\u00e9"}}',
        '{"big": 123456789012345678901234567890}',  # orjson would read a float
        '{"big": -18446744073709551616, "id": "1234567890123456789012"}',
        '["\\ud800"]',  # a lone surrogate escape
        "[" * 100 + "]" * 100,
    ],
    ids=["plain", "big-integer", "big-negative-integer", "lone-surrogate", "nested"],
)
def test_what_is_read_is_what_the_standard_library_reads(text: str) -> None:
    assert fastjson.loads(text.encode("utf-8", "surrogatepass")) == json.loads(text)
    assert fastjson.loads(text) == json.loads(text)
    assert fastjson.loads(fastjson.dumps(json.loads(text))) == json.loads(text)
    assert repr(fastjson.loads(text)) == repr(json.loads(text))  # ints stay ints


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b'{"a": Infinity}', b'{"a": -Infinity}', b"{nope", b"\xff\xfe", b"[" * 100_000],
    ids=["nan", "infinity", "minus-infinity", "malformed", "not-utf8", "too-deep"],
)
def test_what_is_not_strict_json_is_refused(raw: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)):
        fastjson.loads(raw)


@pytest.mark.parametrize("big", [False, True], ids=["orjson", "standard-library"])
def test_times_are_written_as_isoformat_writes_them(big: bool) -> None:
    """The same text whichever writer runs (the standard library's for what orjson refuses)."""
    times = [
        datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 11, 23, 9, 0),
        date(2026, 11, 23),
    ]
    value = [*times, 2**70 if big else 1]
    written = fastjson.dumps(value)
    assert json.loads(written)[:4] == [t.isoformat() for t in times]
    with pytest.raises(TypeError):
        fastjson.dumps([object(), 2**70])
