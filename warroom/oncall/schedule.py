"""Schedule math as pure functions: who is on call at an instant, and the shifts over a window.

A schedule has a timezone, layers and overrides. A layer rotates an ordered list of people:
shifts of N hours (elapsed time) or N days/weeks (wall-clock time in the schedule's timezone,
so a 09:00 handoff stays at 09:00 across DST changes). A layer may be restricted to windows
(weekdays, business hours); outside them it has nobody. Later layers win where they have
someone; overrides win over every layer (a whole-schedule override, or one that only replaces
a given person = taking over their shift). Nothing here reads the clock: `at` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Restriction:
    """Active on `days` from `start` to `end` local time (end <= start crosses midnight)."""

    days: tuple[str, ...] = DAYS
    start: time = time(0, 0)
    end: time = time(0, 0)


@dataclass(frozen=True)
class Layer:
    users: tuple[str, ...]
    start: datetime  # naive local wall time of the first handoff (in the schedule's zone)
    length: int = 1
    unit: str = "weeks"  # hours | days | weeks
    restrictions: tuple[Restriction, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class Override:
    start: datetime  # aware
    end: datetime  # aware
    user: str
    replaces: str | None = None  # only when this person is on call (take one person's shift)


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()
    # People who may not be paged (disabled accounts): their shifts become gaps.
    unavailable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    user: str


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    """Naive wall-clock time in `zone` of an aware instant."""
    return at.astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The aware UTC instant of a naive wall time (fold=0 for ambiguous or skipped times)."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _wall_step(layer: Layer) -> timedelta:
    return timedelta(days=layer.length * (7 if layer.unit == "weeks" else 1))


def shift_index(layer: Layer, zone: ZoneInfo, at: datetime) -> int:
    """Which shift of the layer contains `at` (negative before the layer starts)."""
    if layer.unit == "hours":
        start = _instant(layer.start, zone)
        return (at - start) // timedelta(hours=layer.length)
    return (_local(at, zone) - layer.start) // _wall_step(layer)


def shift_start(layer: Layer, zone: ZoneInfo, index: int) -> datetime:
    if layer.unit == "hours":
        return _instant(layer.start, zone) + index * timedelta(hours=layer.length)
    return _instant(layer.start + index * _wall_step(layer), zone)


def _in_restriction(r: Restriction, wall: datetime) -> bool:
    day = DAYS[wall.weekday()]
    clock = wall.time()
    if r.start < r.end:
        return day in r.days and r.start <= clock < r.end
    if r.start == r.end:  # the whole day
        return day in r.days
    # crosses midnight: the window belongs to the day it starts on
    if clock >= r.start:
        return day in r.days
    previous = DAYS[(wall.weekday() - 1) % 7]
    return clock < r.end and previous in r.days


def layer_user(layer: Layer, zone: ZoneInfo, at: datetime) -> str | None:
    if not layer.users:
        return None
    index = shift_index(layer, zone, at)
    if index < 0:
        return None
    if layer.restrictions and not any(
        _in_restriction(r, _local(at, zone)) for r in layer.restrictions
    ):
        return None
    return layer.users[index % len(layer.users)]


def on_call(schedule: Schedule, at: datetime) -> str | None:
    """The person on call at `at`, or None when nobody is."""
    zone = _zone(schedule.timezone)
    user: str | None = None
    for layer in schedule.layers:  # later layers win where they have someone
        candidate = layer_user(layer, zone, at)
        if candidate is not None:
            user = candidate
    for override in schedule.overrides:  # later overrides win too
        if override.start <= at < override.end and (
            override.replaces is None or override.replaces == user
        ):
            user = override.user
    return None if user in schedule.unavailable else user


def _boundaries(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    zone = _zone(schedule.timezone)
    points = {start, end}
    for layer in schedule.layers:
        first = max(shift_index(layer, zone, start), 0)
        last = shift_index(layer, zone, end)
        for index in range(first, last + 1):
            points.add(shift_start(layer, zone, index))
        if layer.restrictions:
            day: date = _local(start, zone).date() - timedelta(days=1)
            last_day = _local(end, zone).date()
            while day <= last_day:
                for r in layer.restrictions:
                    for clock in (r.start, r.end):
                        points.add(_instant(datetime.combine(day, clock), zone))
                day += timedelta(days=1)
    for override in schedule.overrides:
        points.update((override.start, override.end))
    return sorted(p for p in points if start <= p <= end)


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call from `start` to `end`, as merged contiguous shifts (gaps left out)."""
    points = _boundaries(schedule, start, end)
    result: list[Shift] = []
    for left, right in pairwise(points):
        if left >= right:
            continue
        user = on_call(schedule, left)
        if user is None:
            continue
        if result and result[-1].user == user and result[-1].end == left:
            result[-1] = Shift(result[-1].start, right, user)
        else:
            result.append(Shift(left, right, user))
    return result


def current_shift(schedule: Schedule, at: datetime, horizon: timedelta) -> Shift | None:
    """The shift containing `at` with its true start and end (searched within `horizon`)."""
    for shift in shifts(schedule, at - horizon, at + horizon):
        if shift.start <= at < shift.end:
            return shift
    return None
