"""Human durations used in policy and CLI flags: `90s`, `15m`, `2h`, `3d`, `1w`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

from warroom.core.inputs import MAX_DURATION

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """Parse `15m`, `1h30m`, `2d`, `immediate` (zero); raise ValueError otherwise."""
    cleaned = text.strip().lower()
    if cleaned in {"0", "immediate", "now"}:
        return timedelta(0)
    if not cleaned:
        raise ValueError("empty duration")
    position = 0
    seconds = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != position and cleaned[position : match.start()].strip():
            raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 15m, 2h, 1d, 1w")
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or cleaned[position:].strip():
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 15m, 2h, 1d, 1w")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too long: at most {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Short human form: `1h 5m`, `45s`, `2d 3h`."""
    total = int(value.total_seconds())
    if total < 0:
        return "-" + format_duration(-value)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days}d")
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    if seconds and not days and not hours:
        parts.append(f"{seconds}s")
    return " ".join(parts) or "0s"
