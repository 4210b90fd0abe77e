"""Deliver one message to Apprise URLs, with timeouts, reporting retryable or permanent failure.

Apprise URLs carry secrets (tokens, passwords), so only `channel_of(url)` (the scheme) ever
reaches logs, errors or the timeline.

Every message states its body format. Without one Apprise takes the body as the channel's own
format: HTML for email, where `<checkout-api>` vanished from the text part and an alert's
`<a href=...>` became a clickable link. Plain text (the default) is sent as text: email gets a
text/plain body, and channels that render Markdown or HTML get it converted and escaped by
Apprise. A caller sending `markdown` or `html` escapes the user text it puts in
(`escape_for`).
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import apprise

log = logging.getLogger("warroom.notify")

BodyFormat = Literal["text", "markdown", "html"]
BODY_FORMATS: tuple[BodyFormat, ...] = ("text", "markdown", "html")
_APPRISE_FORMAT = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")

CONNECT_TIMEOUT_S = 4.0
READ_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Delivery:
    ok: bool
    channel: str
    message: str = ""
    retryable: bool = True


def channel_of(url: str) -> str:
    """The scheme only (`json`, `mailto`, `ntfy`...): safe to show anywhere."""
    scheme = urlsplit(url).scheme
    return scheme or "unknown"


def _with_timeouts(url: str) -> str:
    # Apprise reads connect/read timeouts from the `cto`/`rto` URL arguments.
    if "cto=" in url or "rto=" in url:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}cto={CONNECT_TIMEOUT_S:g}&rto={READ_TIMEOUT_S:g}"


def is_valid_url(url: str) -> bool:
    """True when Apprise knows how to deliver to this URL."""
    return bool(apprise.Apprise().add(url))


def escape_for(body_format: BodyFormat, text: str) -> str:
    """User text made literal in a body of this format."""
    if body_format == "html":
        return html.escape(text)
    if body_format == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


# One URL per message: sent in the calling thread, without a thread pool started per send.
_ASSET = apprise.AppriseAsset(async_mode=False)
SENDERS_PER_THREAD = 64
_senders = threading.local()


def _sender(url: str) -> apprise.Apprise | None:
    """An Apprise sender for `url` (None when Apprise cannot deliver to it).

    Each delivery thread keeps the senders of the URLs it sent to lately: reading a URL and
    setting up its plug-in cost more than many a send. Only senders whose plug-ins never pace
    their requests are kept, so that a message is never held back by the one before it."""
    cache: OrderedDict[str, apprise.Apprise] | None = getattr(_senders, "cache", None)
    if cache is None:
        cache = _senders.cache = OrderedDict()
    found = cache.get(url)
    if found is not None:
        cache.move_to_end(url)
        return found
    sender = apprise.Apprise(asset=_ASSET)
    if not sender.add(_with_timeouts(url)):
        return None
    if all(server.request_rate_per_sec <= 0 for server in sender):
        cache[url] = sender
        if len(cache) > SENDERS_PER_THREAD:
            cache.popitem(last=False)
    return sender


def deliver(url: str, title: str, body: str, body_format: BodyFormat = "text") -> Delivery:
    """Send to one URL; never raises. `body_format` is what `body` is written in."""
    channel = channel_of(url)
    sender = _sender(url)
    if sender is None:
        return Delivery(False, channel, f"unsupported or malformed {channel} URL", retryable=False)
    if body_format not in _APPRISE_FORMAT:
        return Delivery(False, channel, f"unknown body format {body_format!r}", retryable=False)
    try:
        # Saying what the body is written in makes Apprise escape it for HTML channels (email's
        # HTML part) instead of reading user text as markup.
        ok = bool(sender.notify(title=title, body=body, body_format=_APPRISE_FORMAT[body_format]))
    except Exception as exc:  # a plug-in of Apprise failing must not take the worker down
        log.warning("delivery via %s raised %s", channel, type(exc).__name__)
        return Delivery(False, channel, f"{channel} delivery raised {type(exc).__name__}")
    if ok:
        return Delivery(True, channel)
    return Delivery(False, channel, f"{channel} delivery failed")
