"""The bounds every value from outside (API, web forms, CLI, config) is held to, in one place.

Out-of-range input must be refused with a clear message before it reaches the database or the
date arithmetic, where it would surface as a server error (an id past 64 bits, a time before
the epoch, a duration of centuries, a time-zone name the OS cannot open, a NUL byte that
PostgreSQL cannot store).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from warroom.core.clock import ensure_utc

# Ids and cursors are 64-bit database keys; larger numbers are bad input, not a server error.
MAX_ID = 2**62
# The largest page a list endpoint serves (`?limit=`; warroom/api/pagination.py).
MAX_PAGE = 1000
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# Longer than any silence, window or target an incident process needs; keeps `now + d` in range.
MAX_DURATION = timedelta(days=3660)
MAX_ZONE_NAME = 64


def moment(value: datetime) -> datetime:
    """`value` in UTC (naive means UTC); ValueError outside 1970..9000."""
    utc = ensure_utc(value)
    if not EARLIEST <= utc < LATEST:
        raise ValueError("the time must be between 1970-01-01 and 9000-01-01")
    return utc


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError for anything else (including names the OS refuses)."""
    if not name or len(name) > MAX_ZONE_NAME or "\x00" in name:
        raise ValueError(f"unknown time zone {name[:MAX_ZONE_NAME]!r}; use e.g. Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; use e.g. Europe/Berlin") from None


def _zone_name(name: str) -> str:
    time_zone(name)
    return name


def text(value: str) -> str:
    """Text without NUL characters (PostgreSQL cannot store them; no medium shows them)."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


# Pydantic field types for the above, for request models and query parameters.
Moment = Annotated[datetime, AfterValidator(moment)]
TimeZoneName = Annotated[str, AfterValidator(_zone_name)]
