"""What every vendor reader shares: warroom names from vendor names, contact methods as
Apprise URLs from templates the user gives, schedule restrictions from weekly windows."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import time, timedelta

from pydantic import ValidationError

from warroom.core.inputs import time_zone
from warroom.importers.plan import ImportedPerson, Skipped
from warroom.oncall.models import ALL_DAYS, ContactMethod, PersonIn, RestrictionIn

_NOT_SLUG = re.compile(r"[^a-z0-9._-]+")


def slug(text: str, fallback: str) -> str:
    """A warroom name (lowercase slug) for a vendor's display name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-._")[:80]
    if not cleaned or cleaned in ("new", "import"):
        cleaned = _NOT_SLUG.sub("-", fallback.lower()).strip("-._")[:80] or "imported"
    return cleaned


class Names:
    """Unique warroom names per kind: a second 'Ops' becomes 'ops-<vendor id>'."""

    def __init__(self) -> None:
        self._taken: dict[str, set[str]] = {}
        self.by_vendor_id: dict[tuple[str, str], str] = {}

    def name(self, kind: str, vendor_id: str, display: str) -> str:
        taken = self._taken.setdefault(kind, set())
        candidate = slug(display, vendor_id)
        if candidate in taken:
            candidate = slug(f"{candidate[:60]}-{vendor_id}", vendor_id)
        taken.add(candidate)
        self.by_vendor_id[(kind, vendor_id)] = candidate
        return candidate

    def of(self, kind: str, vendor_id: str) -> str | None:
        return self.by_vendor_id.get((kind, vendor_id))


@dataclass(frozen=True)
class ContactTemplates:
    """Apprise URL templates for the vendor's contact methods (`{address}` is replaced): email
    needs the SMTP server warroom sends through, SMS and phone a provider account. A kind
    without a template is listed as not imported."""

    email: str | None = None
    sms: str | None = None
    phone: str | None = None

    def url(self, kind: str, address: str) -> str | None:
        template = {"email": self.email, "sms": self.sms, "phone": self.phone}.get(kind)
        return template.replace("{address}", address) if template else None


def contact(
    templates: ContactTemplates, kind: str, address: str, position: int
) -> ContactMethod | None:
    url = templates.url(kind, address)
    if url is None:
        return None
    return ContactMethod(name=f"{kind}{position}", url=url, delay_minutes=0)


def weekly_window(day: int, start: time, length: timedelta) -> list[RestrictionIn]:
    """A window starting on `day` (0 = Monday) at `start` lasting `length` (up to a week), as
    per-day restrictions (warroom's windows live within one day, or cross one midnight)."""
    pieces: list[RestrictionIn] = []
    if length >= timedelta(days=7):
        return pieces  # always on: no restriction
    offset = timedelta(hours=start.hour, minutes=start.minute, seconds=start.second)
    cursor, end = day * timedelta(days=1) + offset, day * timedelta(days=1) + offset + length
    while cursor < end:
        day_start = timedelta(days=cursor.days)
        piece_end = min(end, day_start + timedelta(days=1))
        begin = cursor - day_start
        finish = piece_end - day_start
        pieces.append(
            RestrictionIn(
                days=[ALL_DAYS[cursor.days % 7]],
                start=_clock(begin),
                end=time(0, 0) if finish == timedelta(days=1) else _clock(finish),
            )
        )
        cursor = piece_end
    return pieces


def _clock(delta: timedelta) -> time:
    seconds = int(delta.total_seconds())
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def person(
    vendor_id: str,
    *,
    name: str,
    display: str,
    email: str,
    zone: str,
    methods: list[ContactMethod],
    skipped: list[Skipped],
) -> ImportedPerson | None:
    """A vendor's user as a warroom person (an unknown time zone becomes UTC); one warroom
    refuses is listed as skipped with the reason."""
    try:
        time_zone(zone)
    except ValueError:
        zone = "UTC"
    try:
        built = PersonIn(
            name=name,
            display_name=display[:200],
            email=email,
            timezone=zone,
            contact_methods=methods[:10],
        )
    except ValidationError as exc:
        skipped.append(Skipped(kind="person", vendor_id=vendor_id, name=display, why=str(exc)))
        return None
    return ImportedPerson(vendor_id=vendor_id, person=built)
