"""The on-call forms' pure parts: restriction text, and drafts from stored objects."""

from __future__ import annotations

import pytest

from warroom.core.errors import InvalidInput
from warroom.web.oncall_pages import (
    format_restrictions,
    parse_restrictions,
    person_body,
    policy_body,
    policy_draft,
)

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@pytest.mark.parametrize(
    ("text", "parsed", "formatted"),
    [
        ("", [], ""),
        ("mon-fri 09:00-17:00", [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}], None),
        ("MON-FRI 9:00-17:00", [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}],
         "mon-fri 09:00-17:00"),
        ("sat,sun 10:00-14:00", [{"days": ["sat", "sun"], "start": "10:00", "end": "14:00"}],
         "sat-sun 10:00-14:00"),
        ("fri-mon 18:00-08:00", [{"days": ["mon", "fri", "sat", "sun"], "start": "18:00",
                                  "end": "08:00"}], "mon,fri-sun 18:00-08:00"),
        ("22:00-06:00", [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                          "start": "22:00", "end": "06:00"}], None),
        ("mon 09:00-12:00; wed,fri 13:00-17:00",
         [{"days": ["mon"], "start": "09:00", "end": "12:00"},
          {"days": ["wed", "fri"], "start": "13:00", "end": "17:00"}], None),
    ],
)  # fmt: skip
def test_restrictions_parse_and_format_back(
    text: str, parsed: list[dict[str, object]], formatted: str | None
) -> None:
    assert parse_restrictions(text) == parsed
    assert format_restrictions(parsed) == (text if formatted is None else formatted)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("weekdays", "write days then hours"),
        ("mon-fri 9-5", "write days then hours"),
        ("mon-fry 09:00-17:00", "is not a day"),
        ("funday 09:00-17:00", "is not a day"),
        ("mon 09:00-24:30", "24:30 is not a time of day"),
    ],
)
def test_bad_restrictions_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_restrictions(text)
    assert message in caught.value.message


def test_policy_draft_round_trips_into_the_same_body() -> None:
    stored = {
        "name": "p",
        "description": "d",
        "repeat": 2,
        "levels": [
            {"delay_minutes": 0, "targets": ["schedule:a"], "mode": "all"},
            {"delay_minutes": 10, "targets": ["person:b", "team:c"], "mode": "round_robin"},
        ],
    }
    draft = policy_draft(stored)
    assert len(draft["levels"]) == 3  # a blank row to add a level
    body = policy_body(draft)
    assert body["levels"] == [
        {"targets": ["schedule:a"], "mode": "all", "delay_minutes": "0"},
        {"targets": ["person:b", "team:c"], "mode": "round_robin", "delay_minutes": "10"},
    ]
    assert body["repeat"] == "2"


def test_person_body_orders_methods_and_keeps_urls_left_blank() -> None:
    draft = {
        "display_name": "",
        "email": "",
        "timezone": "UTC",
        "methods": [
            {"orig": "a", "name": "a", "url": "", "delay": "5", "order": "2"},
            {"orig": "", "name": "b", "url": "ntfy://x/b", "delay": "", "order": "1"},
            {"orig": "", "name": "", "url": "", "delay": "0", "order": ""},
        ],
    }
    body = person_body(draft, {"a": "ntfy://x/a"})
    assert body["contact_methods"] == [
        {"name": "b", "url": "ntfy://x/b", "delay_minutes": "0"},
        {"name": "a", "url": "ntfy://x/a", "delay_minutes": "5"},
    ]
    draft["methods"][0]["order"] = "first"
    with pytest.raises(InvalidInput, match="order is a number"):
        person_body(draft, {"a": "ntfy://x/a"})


def test_gaps_are_the_stretches_no_shift_covers() -> None:
    from datetime import UTC, datetime, timedelta

    from warroom.web.calendar import Gap, Shift, gaps

    t0 = datetime(2026, 12, 7, tzinfo=UTC)

    def h(n: int) -> datetime:
        return t0 + timedelta(hours=n)

    shifts = [Shift("bob", h(2), h(5)), Shift("ann", h(5), h(8)), Shift("cy", h(10), h(30))]
    assert gaps(shifts, t0, h(24)) == [Gap(t0, h(2)), Gap(h(8), h(10))]
    assert gaps(shifts, h(3), h(9)) == [Gap(h(8), h(9))]
    assert gaps([], t0, h(1)) == [Gap(t0, h(1))]
    assert gaps([Shift("a", h(-1), h(2))], t0, h(2)) == []
