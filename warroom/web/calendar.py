"""Who is on call over the next days, drawn as an SVG calendar: one row per day in the
schedule's timezone, one coloured bar per shift with the person's name.

Inline SVG with classes (colours in style.css): no inline style, so the strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

PALETTE = 8
ROW = 28
TOP = 22


@dataclass(frozen=True)
class Layout:
    """How wide the calendar is drawn, and what fits: a wide one, and one for a phone."""

    width: int
    label: int  # the day labels' column
    day_format: str
    hours: tuple[int, ...]
    css: str


WIDE = Layout(760, 92, "%a %d %b", (0, 6, 12, 18, 24), "wide")
# Drawn at about the width it is shown on a phone, so its text stays readable unscaled.
COMPACT = Layout(360, 58, "%a %d", (0, 12, 24), "compact")


@dataclass(frozen=True)
class Shift:
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Gap:
    """A stretch with nobody on call."""

    start: datetime
    end: datetime


def gaps(shifts: Sequence[Shift], start: datetime, end: datetime) -> list[Gap]:
    """The stretches of [start, end) that no shift covers, in time order."""
    found: list[Gap] = []
    cursor = start
    for shift in sorted(shifts, key=lambda s: s.start):
        if shift.end <= cursor:
            continue
        if shift.start > cursor:
            found.append(Gap(cursor, min(shift.start, end)))
        cursor = max(cursor, shift.end)
        if cursor >= end:
            break
    if cursor < end:
        found.append(Gap(cursor, end))
    return [g for g in found if g.end > g.start]


def first_day(now: datetime, zone: ZoneInfo) -> datetime:
    """Today's local midnight: where the calendar starts."""
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


def shift_calendar(
    shifts: Sequence[Shift],
    now: datetime,
    zone: ZoneInfo,
    *,
    days: int = 14,
    layout: Layout = WIDE,
) -> Markup:
    """An SVG of `days` days from today (in `zone`), each shift a bar labelled with its person."""
    width, left = layout.width, layout.label
    colours: dict[str, int] = {}
    for shift in shifts:
        colours.setdefault(shift.person, len(colours) % PALETTE)
    today = first_day(now, zone)
    # Gaps from now on are drawn in red: nobody would be paged then.
    until = datetime.combine(today.date() + timedelta(days=days), time(0), tzinfo=zone)
    holes = gaps(shifts, max(now, today), until)
    height = TOP + ROW * days + 4
    parts = [
        f'<svg class="shift-calendar {layout.css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="cal-title-{layout.css}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="cal-title-{layout.css}">On-call calendar of the next {days} days, '
        f"one row a day ({escape(str(zone))} time)</title>",
    ]
    for hour in layout.hours:
        x = left + (width - left) * hour / 24
        anchor = "end" if hour == 24 else "start" if hour == 0 else "middle"
        parts.append(
            f'<text class="cal-hour" x="{x:.1f}" y="14" text-anchor="{anchor}">{hour:02d}:00</text>'
        )
        parts.append(
            f'<line class="cal-grid" x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 2}"/>'
        )
    for index in range(days):
        # Local midnights (a DST day is 23 or 25 hours; the bar scales to 24).
        day = datetime.combine(today.date() + timedelta(days=index), time(0), tzinfo=zone)
        next_day = datetime.combine(day.date() + timedelta(days=1), time(0), tzinfo=zone)
        y = TOP + ROW * index
        weekend = " cal-weekend" if day.weekday() >= 5 else ""
        parts.append(
            f'<rect class="cal-row{weekend}" x="0" y="{y}" width="{width}" height="{ROW - 2}"/>'
        )
        parts.append(
            f'<text class="cal-day" x="4" y="{y + 17}">{day.strftime(layout.day_format)}</text>'
        )
        span = (next_day - day).total_seconds() / 3600
        for gap in holes:
            start, end = max(gap.start, day), min(gap.end, next_day)
            if end <= start:
                continue
            x1 = left + (width - left) * (start - day).total_seconds() / 3600 / span
            x2 = left + (width - left) * (end - day).total_seconds() / 3600 / span
            tip = (
                f"Nobody on call: {gap.start.astimezone(zone):%a %d %b %H:%M} – "
                f"{gap.end.astimezone(zone):%a %d %b %H:%M}"
            )
            parts.append(
                f'<g><title>{tip}</title><rect class="cal-gap" x="{x1 + 1:.1f}" y="{y + 2}" '
                f'width="{max(1.0, x2 - x1 - 2):.1f}" height="{ROW - 6}" rx="3"/>'
            )
            if x2 - x1 > 60:
                parts.append(f'<text class="cal-gap-name" x="{x1 + 6:.1f}" y="{y + 17}">gap</text>')
            parts.append("</g>")
        for shift in shifts:
            start, end = max(shift.start, day), min(shift.end, next_day)
            if end <= start:
                continue
            scale = 24 / span
            x1 = left + (width - left) * (start - day).total_seconds() / 3600 * scale / 24
            x2 = left + (width - left) * (end - day).total_seconds() / 3600 * scale / 24
            label = escape(shift.person)
            tip = (
                f"{label}: {shift.start.astimezone(zone):%a %d %b %H:%M} – "
                f"{shift.end.astimezone(zone):%a %d %b %H:%M}"
            )
            parts.append(
                f'<g><title>{tip}</title><rect class="cal-shift p{colours[shift.person]}" '
                f'x="{x1 + 1:.1f}" y="{y + 2}" width="{max(1.0, x2 - x1 - 2):.1f}" '
                f'height="{ROW - 6}" rx="3"/>'
            )
            if x2 - x1 > 8 * len(shift.person) + 8:
                parts.append(f'<text class="cal-name" x="{x1 + 6:.1f}" y="{y + 17}">{label}</text>')
            parts.append("</g>")
        if day <= now < next_day:
            x = left + (width - left) * (now - day).total_seconds() / 3600 / span
            parts.append(
                f'<line class="cal-now" x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + ROW - 2}"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(shifts: Sequence[Shift]) -> list[tuple[str, int]]:
    """(person, colour index) in the calendar's order."""
    colours: dict[str, int] = {}
    for shift in shifts:
        colours.setdefault(shift.person, len(colours) % PALETTE)
    return list(colours.items())
