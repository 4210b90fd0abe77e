"""iCalendar feeds of shifts, and importing shifts from an iCal file (recurring events expanded).

Feeds give each shift a UID from its schedule, person and true start, so a calendar app sees
the same event each time it refreshes. Imports key each shift by its event's UID (and, for a
recurring event, the occurrence's RECURRENCE-ID), so importing the same calendar again replaces
what changed instead of adding everything twice; warroom's own feeds import back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from warroom.oncall import schedule as sm


def feed(name: str, shifts: list[tuple[str, sm.Shift]], now: datetime) -> bytes:
    """A VCALENDAR with one VEVENT per shift; `shifts` pairs a schedule name with each shift."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//warroom//on-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call: {name}")
    for schedule, shift in shifts:
        event = icalendar.Event()
        event.add("uid", f"{schedule}-{shift.user}-{int(shift.start.timestamp())}@warroom")
        event.add("summary", f"On call: {shift.user} ({schedule})")
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("dtstamp", now.astimezone(UTC))
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


@dataclass(frozen=True)
class ImportedShift:
    start: datetime
    end: datetime
    who: str  # the summary (or attendee) that names the person
    key: str  # the event's UID, with the occurrence for a recurring event
    uid: str


def _aware(value: Any, zone: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    raise ValueError("not a date")


def _key(uid: str, occurrence: datetime | None) -> str:
    key = uid if occurrence is None else f"{uid}|{occurrence.astimezone(UTC).isoformat()}"
    if len(key) > 300:  # the column's size; UIDs are usually far shorter
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def parse(data: bytes, start: datetime, end: datetime, zone: tzinfo = UTC) -> list[ImportedShift]:
    """Every occurrence between start and end (recurrences expanded), in start order.

    Floating times (no zone, no Z) and all-day dates are in `zone`, the import's time zone.
    """
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise ValueError(f"not an iCalendar file: {exc}") from None
    recurring = {
        str(event.get("uid", ""))
        for event in cal.walk("VEVENT")
        if event.get("rrule") is not None or event.get("rdate") is not None
    }
    result = []
    for event in recurring_ical_events.of(cal).between(start, end):
        dtstart = _aware(event.get("dtstart").dt, zone)
        raw_end = event.get("dtend")
        dtend = _aware(raw_end.dt, zone) if raw_end is not None else dtstart + timedelta(hours=1)
        attendee = event.get("attendee")
        if isinstance(attendee, list):
            attendee = attendee[0] if attendee else None
        who = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:") if attendee else ""
        summary = str(event.get("summary", "")).strip()
        uid = str(event.get("uid", "")) or f"no-uid:{dtstart.isoformat()}:{summary}"
        occurrence = None
        if uid in recurring:
            raw = event.get("recurrence-id")
            occurrence = _aware(raw.dt, zone) if raw is not None else dtstart
        result.append(ImportedShift(dtstart, dtend, who or summary, _key(uid, occurrence), uid))
    return sorted(result, key=lambda s: s.start)
