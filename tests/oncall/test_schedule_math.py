"""Schedule math as tables: rotations, DST, restrictions, overrides (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from warroom.oncall import schedule as sm

BERLIN = "Europe/Berlin"
NY = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


# Weekly rotation, handoff Monday 09:00 Berlin time; DST starts 2026-03-29, ends 2026-10-25.
WEEKLY = sm.Schedule(
    "weekly",
    BERLIN,
    layers=(sm.Layer(("ann", "bob", "cat"), datetime(2026, 3, 16, 9, 0), 1, "weeks"),),
)
# Daily rotation, handoff 00:00 New York time (DST starts 2026-03-08, ends 2026-11-01).
DAILY = sm.Schedule(
    "daily", NY, layers=(sm.Layer(("ann", "bob"), datetime(2026, 3, 1, 0, 0), 1, "days"),)
)
# 12-hour shifts counted in elapsed time.
HOURLY = sm.Schedule(
    "hourly", BERLIN, layers=(sm.Layer(("ann", "bob"), datetime(2026, 3, 28, 8, 0), 12, "hours"),)
)
BUSINESS = sm.Restriction(("mon", "tue", "wed", "thu", "fri"), time(9), time(17))
LAYERED = sm.Schedule(
    "layered",
    "UTC",
    layers=(
        sm.Layer(("night",), datetime(2026, 1, 5, 0, 0), 1, "weeks"),
        sm.Layer(("day1", "day2"), datetime(2026, 1, 5, 9, 0), 1, "weeks", (BUSINESS,)),
    ),
)
OVERNIGHT = sm.Schedule(
    "overnight",
    "UTC",
    layers=(
        sm.Layer(
            ("owl",),
            datetime(2026, 1, 1),
            1,
            "weeks",
            (sm.Restriction(("fri",), time(22), time(6)),),
        ),
    ),
)
OVERRIDDEN = sm.Schedule(
    "overridden",
    "UTC",
    layers=(sm.Layer(("ann", "bob"), datetime(2026, 11, 2, 9, 0), 1, "weeks"),),
    overrides=(
        sm.Override(utc("2026-11-03T12:00"), utc("2026-11-03T18:00"), "zed"),  # take a shift
        sm.Override(utc("2026-11-08T00:00"), utc("2026-11-10T00:00"), "cat", replaces="ann"),
        sm.Override(utc("2026-11-11T00:00"), utc("2026-11-11T06:00"), "dan", replaces="bob"),
    ),
)


@pytest.mark.parametrize(
    ("schedule", "at", "expected"),
    [
        # before the layer starts nobody is on call
        (WEEKLY, local("2026-03-16T08:59", BERLIN), None),
        (WEEKLY, local("2026-03-16T09:00", BERLIN), "ann"),
        (WEEKLY, local("2026-03-23T08:59", BERLIN), "ann"),
        (WEEKLY, local("2026-03-23T09:00", BERLIN), "bob"),
        # the week DST starts: the handoff stays at 09:00 local (07:00 UTC, not 08:00)
        (WEEKLY, utc("2026-03-30T06:59"), "bob"),
        (WEEKLY, utc("2026-03-30T07:00"), "cat"),
        (WEEKLY, local("2026-04-06T09:00", BERLIN), "ann"),
        # after DST ends: 09:00 local is 08:00 UTC again
        (WEEKLY, utc("2026-10-26T07:59"), WEEKLY.layers[0].users[(32 - 1) % 3]),
        (WEEKLY, utc("2026-10-26T08:00"), WEEKLY.layers[0].users[32 % 3]),
        # daily, New York: DST start day is 23 hours long, handoff still at local midnight
        (DAILY, local("2026-03-07T23:59", NY), "ann"),
        (DAILY, local("2026-03-08T00:00", NY), "bob"),
        (DAILY, local("2026-03-08T23:59", NY), "bob"),
        (DAILY, local("2026-03-09T00:00", NY), "ann"),
        (DAILY, utc("2026-03-09T04:00"), "ann"),  # local midnight is 04:00 UTC in EDT
        (DAILY, utc("2026-03-09T03:59"), "bob"),
        # the 25-hour day DST ends
        (DAILY, local("2026-11-01T00:00", NY), DAILY.layers[0].users[245 % 2]),
        (DAILY, utc("2026-11-02T04:59"), DAILY.layers[0].users[245 % 2]),
        (DAILY, utc("2026-11-02T05:00"), DAILY.layers[0].users[246 % 2]),
        # hourly shifts are elapsed time: across the DST jump they stay 12 real hours
        (HOURLY, local("2026-03-28T08:00", BERLIN), "ann"),
        (HOURLY, local("2026-03-28T20:00", BERLIN), "bob"),
        (HOURLY, local("2026-03-29T09:00", BERLIN), "ann"),  # 08:00 CET = 09:00 CEST
        (HOURLY, local("2026-03-29T08:59", BERLIN), "bob"),
        # restrictions: the business-hours layer wins inside its window only
        (LAYERED, utc("2026-01-05T08:59"), "night"),
        (LAYERED, utc("2026-01-05T09:00"), "day1"),
        (LAYERED, utc("2026-01-09T16:59"), "day1"),
        (LAYERED, utc("2026-01-09T17:00"), "night"),
        (LAYERED, utc("2026-01-10T12:00"), "night"),  # Saturday
        (LAYERED, utc("2026-01-12T10:00"), "day2"),
        # a window across midnight belongs to the day it starts on
        (OVERNIGHT, utc("2026-01-02T21:59"), None),  # Friday
        (OVERNIGHT, utc("2026-01-02T22:00"), "owl"),
        (OVERNIGHT, utc("2026-01-03T05:59"), "owl"),  # Saturday morning
        (OVERNIGHT, utc("2026-01-03T06:00"), None),
        (OVERNIGHT, utc("2026-01-01T23:00"), None),  # Thursday night
        # overrides: a whole-schedule shift, and replacing one person only
        (OVERRIDDEN, utc("2026-11-03T11:59"), "ann"),
        (OVERRIDDEN, utc("2026-11-03T12:00"), "zed"),
        (OVERRIDDEN, utc("2026-11-03T18:00"), "ann"),
        (OVERRIDDEN, utc("2026-11-08T12:00"), "cat"),  # ann's week, cat takes it
        (OVERRIDDEN, utc("2026-11-09T12:00"), "bob"),  # bob's week: cat does not replace him
        (OVERRIDDEN, utc("2026-11-11T01:00"), "dan"),  # swap: dan covers bob's night
        (OVERRIDDEN, utc("2026-11-11T06:00"), "bob"),
    ],
)
def test_on_call(schedule: sm.Schedule, at: datetime, expected: str | None) -> None:
    assert sm.on_call(schedule, at) == expected


def test_shifts_are_merged_and_follow_dst() -> None:
    shifts = sm.shifts(WEEKLY, utc("2026-03-20T00:00"), utc("2026-04-07T00:00"))
    assert [(s.user, s.start.isoformat(), s.end.isoformat()) for s in shifts] == [
        ("ann", "2026-03-20T00:00:00+00:00", "2026-03-23T08:00:00+00:00"),
        ("bob", "2026-03-23T08:00:00+00:00", "2026-03-30T07:00:00+00:00"),
        ("cat", "2026-03-30T07:00:00+00:00", "2026-04-06T07:00:00+00:00"),
        ("ann", "2026-04-06T07:00:00+00:00", "2026-04-07T00:00:00+00:00"),
    ]


def test_shifts_leave_gaps_out_and_split_at_overrides() -> None:
    shifts = sm.shifts(OVERRIDDEN, utc("2026-11-03T00:00"), utc("2026-11-04T00:00"))
    assert [(s.user, s.start.hour, s.end.hour) for s in shifts] == [
        ("ann", 0, 12),
        ("zed", 12, 18),
        ("ann", 18, 0),
    ]
    overnight = sm.shifts(OVERNIGHT, utc("2026-01-01T00:00"), utc("2026-01-08T00:00"))
    assert [(s.start.isoformat(), s.end.isoformat()) for s in overnight] == [
        ("2026-01-02T22:00:00+00:00", "2026-01-03T06:00:00+00:00")
    ]


def test_current_shift_reports_true_bounds() -> None:
    shift = sm.current_shift(LAYERED, utc("2026-01-07T12:00"), timedelta(days=8))
    assert shift is not None
    assert (shift.user, shift.start, shift.end) == (
        "day1",
        utc("2026-01-07T09:00"),
        utc("2026-01-07T17:00"),
    )
