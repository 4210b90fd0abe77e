"""RSS 2.0 and Atom 1.0 history feeds of public incident updates (XML built by ElementTree,
so every piece of text is escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from warroom.comms.views import Page, PublicIncident, PublicUpdate
from warroom.core.clock import iso_utc

ATOM_NS = "http://www.w3.org/2005/Atom"


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _rfc3339(moment: datetime) -> str:
    return iso_utc(moment, zulu=True)


def _item_text(incident: PublicIncident, update: PublicUpdate) -> str:
    return update.body


def rss(page: Page, history: Sequence[tuple[PublicIncident, PublicUpdate]], now: datetime) -> bytes:
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = ET.SubElement(root, "channel")
    _text(channel, "title", f"{page.name} - incident history")
    _text(channel, "link", page.url)
    _text(channel, "description", f"Incident updates from {page.name}")
    ET.SubElement(
        channel,
        "atom:link",
        {"href": f"{page.url}/history.rss", "rel": "self", "type": "application/rss+xml"},
    )
    latest = history[0][1].display_at if history else now
    _text(channel, "lastBuildDate", format_datetime(latest.astimezone(UTC), usegmt=True))
    for incident, update in history:
        item = ET.SubElement(channel, "item")
        _text(item, "title", f"{incident.name} ({update.status})")
        _text(item, "link", f"{page.url}/incidents/{incident.code}")
        _text(item, "description", _item_text(incident, update))
        _text(
            item, "guid", f"{page.url}/incidents/{incident.code}#{update.code}", isPermaLink="false"
        )
        _text(item, "pubDate", format_datetime(update.display_at.astimezone(UTC), usegmt=True))
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def atom(
    page: Page, history: Sequence[tuple[PublicIncident, PublicUpdate]], now: datetime
) -> bytes:
    ns = ""  # plain names; the default namespace is declared on the root element
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _text(feed, f"{ns}id", f"{page.url}/history.atom")
    _text(feed, f"{ns}title", f"{page.name} - incident history")
    latest = history[0][1].display_at if history else now
    _text(feed, f"{ns}updated", _rfc3339(latest))
    ET.SubElement(feed, f"{ns}link", {"href": page.url, "rel": "alternate"})
    ET.SubElement(feed, f"{ns}link", {"href": f"{page.url}/history.atom", "rel": "self"})
    author = ET.SubElement(feed, f"{ns}author")
    _text(author, f"{ns}name", page.name)
    for incident, update in history:
        entry = ET.SubElement(feed, f"{ns}entry")
        _text(entry, f"{ns}id", f"{page.url}/incidents/{incident.code}#{update.code}")
        _text(entry, f"{ns}title", f"{incident.name} ({update.status})")
        _text(entry, f"{ns}updated", _rfc3339(update.display_at))
        _text(entry, f"{ns}published", _rfc3339(update.created_at))
        ET.SubElement(
            entry,
            f"{ns}link",
            {"href": f"{page.url}/incidents/{incident.code}", "rel": "alternate"},
        )
        _text(entry, f"{ns}content", _item_text(incident, update), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
