"""Time sources. Domain code takes `now` as an argument; services take a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, overload


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real UTC clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


def ensure_utc(value: datetime) -> datetime:
    """Attach UTC to naive datetimes and convert aware ones to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00+00:01; a ValueError lets input validation report it as 422.
        raise ValueError("the time is out of range") from None


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of a time as it is (None stays None): the API's time fields."""
    return moment.isoformat() if moment else None


def iso_utc(moment: datetime, *, zulu: bool = False) -> str:
    """ISO 8601 text in UTC; `zulu` writes `Z` for `+00:00` (RFC 3339 feeds, Statuspage)."""
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z") if zulu else text


def json_default(value: object) -> str:
    """`json.dumps(default=...)`: times as ISO 8601; anything else is an error."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
