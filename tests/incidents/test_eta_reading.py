"""ETAs as people write them (the 001 MUST STOP rule reads them against the window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.incidents.stops import read_eta

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("in 90m", timedelta(minutes=90)),
        ("6 hours", timedelta(hours=6)),
        ("in 2h30", timedelta(hours=2, minutes=30)),
        ("about 2 hours", timedelta(hours=2)),
        ("~30 min", timedelta(minutes=30)),
        ("half an hour", timedelta(minutes=30)),
        ("within the hour", timedelta(hours=1)),
        ("1.5 hours", timedelta(minutes=90)),
        ("2 hours 30 minutes from now", timedelta(hours=2, minutes=30)),
        ("ETA: 45 minutes", timedelta(minutes=45)),
        ("by 14:00 UTC", timedelta(hours=4)),
        ("at 3pm", timedelta(hours=5)),
        ("14:30 +02:00", timedelta(hours=2, minutes=30)),
        ("9:00", timedelta(hours=23)),  # the next 09:00 is tomorrow's
        ("tomorrow 09:00", timedelta(hours=23)),
        ("2026-12-07T14:00Z", timedelta(hours=4)),
    ],
)
def test_an_eta_is_read_as_written(text: str, expected: timedelta) -> None:
    reading = read_eta(text, AT)
    assert reading.readable
    assert reading.at == AT + expected


@pytest.mark.parametrize("text", ["", None, "investigating", "Unknown", "TBD", "not yet known"])
def test_no_eta_yet_is_nothing_to_check(text: str | None) -> None:
    reading = read_eta(text, AT)
    assert reading.readable and reading.at is None


@pytest.mark.parametrize(
    "text", ["soonish", "14", "when the vendor calls back", "25:00", "99 parsecs"]
)
def test_words_that_are_no_time_are_unreadable(text: str) -> None:
    reading = read_eta(text, AT)
    assert not reading.readable and reading.at is None and reading.text == text
