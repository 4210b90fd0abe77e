"""RSS 2.0 and Atom 1.0 history feeds of the public status page: incident updates and
maintenance windows (XML built by ElementTree, so every piece of text is escaped for XML).

Feed readers read an RSS `<description>` as HTML, so the plain text of an update is escaped
for HTML first (and its line breaks kept as `<br>`): `<checkout-api>` shows as written and no
markup in a message becomes a link. Atom says what its content is (`type="text"`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from warroom.comms.views import Maintenance, Page, PublicIncident, PublicUpdate
from warroom.core.clock import iso_utc

ATOM_NS = "http://www.w3.org/2005/Atom"
MAINTENANCE_LABELS = {
    "scheduled": "maintenance scheduled",
    "in_progress": "maintenance in progress",
    "completed": "maintenance completed",
}


@dataclass(frozen=True)
class FeedEntry:
    """One item of the history feeds; `text` is plain text."""

    id: str
    title: str
    link: str
    text: str
    published: datetime
    updated: datetime


def entries(
    page: Page,
    history: Sequence[tuple[PublicIncident, PublicUpdate]],
    maintenances: Sequence[Maintenance],
    now: datetime,
    limit: int = 50,
) -> list[FeedEntry]:
    """Incident updates and maintenance updates, newest first."""
    found = [
        FeedEntry(
            id=f"{page.url}/incidents/{incident.code}#{update.code}",
            title=f"{incident.name} ({update.status})",
            link=f"{page.url}/incidents/{incident.code}",
            text=update.body,
            published=update.created_at,
            updated=update.display_at,
        )
        for incident, update in history
    ]
    for window in maintenances:
        for update in window.updates(now):
            found.append(
                FeedEntry(
                    id=f"{page.url}#maintenance-{update.code}",
                    title=f"{window.name} ({MAINTENANCE_LABELS.get(update.status, update.status)})",
                    link=f"{page.url}#maintenance-{window.code}",
                    text=update.body,
                    published=update.created_at,
                    updated=update.display_at,
                )
            )
    found.sort(key=lambda e: e.updated, reverse=True)
    return found[:limit]


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _rfc3339(moment: datetime) -> str:
    return iso_utc(moment, zulu=True)


def html_of(text: str) -> str:
    """Plain text as the HTML an RSS reader renders back to the same text."""
    return "<br>\n".join(html.escape(line, quote=False) for line in text.splitlines())


def rss(page: Page, items: Sequence[FeedEntry], now: datetime) -> bytes:
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = ET.SubElement(root, "channel")
    _text(channel, "title", f"{page.name} - incident history")
    _text(channel, "link", page.url)
    _text(channel, "description", f"Incident and maintenance updates from {page.name}")
    ET.SubElement(
        channel,
        "atom:link",
        {"href": f"{page.url}/history.rss", "rel": "self", "type": "application/rss+xml"},
    )
    latest = items[0].updated if items else now
    _text(channel, "lastBuildDate", format_datetime(latest.astimezone(UTC), usegmt=True))
    for entry in items:
        item = ET.SubElement(channel, "item")
        _text(item, "title", entry.title)
        _text(item, "link", entry.link)
        _text(item, "description", html_of(entry.text))
        _text(item, "guid", entry.id, isPermaLink="false")
        _text(item, "pubDate", format_datetime(entry.updated.astimezone(UTC), usegmt=True))
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def atom(page: Page, items: Sequence[FeedEntry], now: datetime) -> bytes:
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", f"{page.url}/history.atom")
    _text(feed, "title", f"{page.name} - incident history")
    latest = items[0].updated if items else now
    _text(feed, "updated", _rfc3339(latest))
    ET.SubElement(feed, "link", {"href": page.url, "rel": "alternate"})
    ET.SubElement(feed, "link", {"href": f"{page.url}/history.atom", "rel": "self"})
    author = ET.SubElement(feed, "author")
    _text(author, "name", page.name)
    for item in items:
        entry = ET.SubElement(feed, "entry")
        _text(entry, "id", item.id)
        _text(entry, "title", item.title)
        _text(entry, "updated", _rfc3339(item.updated))
        _text(entry, "published", _rfc3339(item.published))
        ET.SubElement(entry, "link", {"href": item.link, "rel": "alternate"})
        _text(entry, "content", item.text, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
