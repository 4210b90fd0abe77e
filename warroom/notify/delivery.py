"""Deliver one message to Apprise URLs, with timeouts, reporting retryable or permanent failure.

Apprise URLs carry secrets (tokens, passwords), so only `channel_of(url)` (the scheme) ever
reaches logs, errors or the timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

log = logging.getLogger("warroom.notify")

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


def deliver(url: str, title: str, body: str) -> Delivery:
    """Send to one URL; never raises."""
    channel = channel_of(url)
    sender = apprise.Apprise()
    if not sender.add(_with_timeouts(url)):
        return Delivery(False, channel, f"unsupported or malformed {channel} URL", retryable=False)
    try:
        # Every message warroom writes is plain text: saying so makes Apprise escape it for
        # HTML channels (email's HTML part) instead of reading user text as markup.
        ok = bool(sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))
    except Exception as exc:  # a plug-in of Apprise failing must not take the worker down
        log.warning("delivery via %s raised %s", channel, type(exc).__name__)
        return Delivery(False, channel, f"{channel} delivery raised {type(exc).__name__}")
    if ok:
        return Delivery(True, channel)
    return Delivery(False, channel, f"{channel} delivery failed")
