"""Deliver one message to Apprise URLs, with timeouts, reporting retryable or permanent failure.

Apprise URLs carry secrets (tokens, passwords), so only `channel_of(url)` (the scheme) ever
reaches logs, errors or the timeline.

Webhooks (`json://`, `jsons://`), the channel a page storm sends most to, are read by Apprise
and posted by warroom itself over each delivery thread's kept-alive connections, in the exact
request Apprise would make: Apprise opens a connection and reads the environment for every
message, which was nearly a third of the work of paging an incident.

Every message states its body format. Without one Apprise takes the body as the channel's own
format: HTML for email, where `<checkout-api>` vanished from the text part and an alert's
`<a href=...>` became a clickable link. Plain text (the default) is sent as text: email gets a
text/plain body, and channels that render Markdown or HTML get it converted and escaped by
Apprise. A caller sending `markdown` or `html` escapes the user text it puts in
(`escape_for`).
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal
from urllib.parse import urlsplit

import apprise
import requests
from apprise.common import OverflowMode
from apprise.plugins.custom_json import NotifyJSON

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


@dataclass(frozen=True)
class _Webhook:
    """A `json://` or `jsons://` URL as Apprise read it, to post as Apprise would.

    `formats` are the body formats Apprise passes through to this URL unchanged; a message in
    another format (the URL's `format=` asks for a conversion) goes through Apprise."""

    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    auth: tuple[str, str] | None
    verify: bool | str
    timeout: tuple[float, float]
    allow_redirects: bool
    payload_extras: dict[str, str]
    formats: frozenset[BodyFormat]

    def payload(self, title: str, body: str) -> dict[str, object]:
        """Apprise's JSON layout (version 1.0), with the URL's `:key=value` extras applied:
        a known key renamed (or dropped when empty), any other added."""
        payload: dict[str, object] = {
            "version": NotifyJSON.json_version,
            "title": title,
            "message": body,
            "attachments": [],
            "type": apprise.NotifyType.INFO.value,
        }
        for key, value in self.payload_extras.items():
            if key not in payload:
                payload[key] = value
            elif value:
                payload[value] = payload.pop(key)
            else:
                del payload[key]
        return payload

    def post(self, session: requests.Session, title: str, body: str) -> int | None:
        """The response's status, or None when no response came.

        A connection lost before the answer is tried once more, on a new connection: a
        receiver closes a kept-alive connection when it has been idle a while, and a message
        sent just then would otherwise wait for the outbox's next attempt. The receiver may
        then get the message twice, which for a page beats getting it late."""
        data = json.dumps(self.payload(title, body))
        try:
            return self._send(session, data)
        except requests.Timeout:
            return None
        except requests.ConnectionError:
            pass  # sent once more below
        except requests.RequestException:
            return None
        try:
            return self._send(session, data)
        except requests.RequestException:
            return None

    def _send(self, session: requests.Session, data: str) -> int:
        response = session.request(
            self.method,
            self.url,
            data=data,
            params=self.params,
            headers=self.headers,
            auth=self.auth,
            verify=self.verify,
            timeout=self.timeout,
            allow_redirects=self.allow_redirects,
        )
        return response.status_code


def _webhook(server: Any) -> _Webhook | None:
    """`server` as a webhook warroom posts itself, or None when only Apprise can send to it:
    another channel, a URL asking Apprise to rewrite messages (emojis, overflow, line
    limits), or one the environment would route (a proxy, `.netrc` credentials)."""
    if type(server) is not NotifyJSON:
        return None
    if server.overflow_mode != OverflowMode.UPSTREAM or server.interpret_emojis:
        return None
    if server.body_max_line_count > 0 or server.title_maxlen <= 0:
        return None
    url = f"{'https' if server.secure else 'http'}://{server.host}"
    if isinstance(server.port, int):
        url += f":{server.port}"
    url += server.fullpath
    # The environment is read once here, as requests reads it for each message.
    if requests.utils.get_environ_proxies(url):
        return None
    if not server.user and requests.utils.get_netrc_auth(url):
        return None
    verify: bool | str = bool(server.verify_certificate)
    if verify:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    formats = frozenset(
        name
        for name in BODY_FORMATS
        if server.resolve_format(_APPRISE_FORMAT[name]) == _APPRISE_FORMAT[name]
    )
    return _Webhook(
        method=str(server.method),
        url=url,
        params=dict(server.params),
        headers={"User-Agent": server.app_id, "Content-Type": "application/json"}
        | dict(server.headers),
        # A user without a password: an empty one (Apprise would send the text "None").
        auth=(server.user, server.password or "") if server.user else None,
        verify=verify,
        timeout=server.request_timeout,
        allow_redirects=bool(server.redirects),
        payload_extras=dict(server.payload_extras),
        formats=formats,
    )


@dataclass(frozen=True)
class _Sender:
    apprise: apprise.Apprise
    webhook: _Webhook | None


def _session() -> requests.Session:
    """This thread's HTTP session for webhooks: its connections stay open between messages."""
    session: requests.Session | None = getattr(_senders, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # each webhook read the environment when it was made
        # Every message is sent as if it were the only one: no cookies carried to the next.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _senders.session = session
    return session


def _sender(url: str) -> _Sender | None:
    """A sender for `url` (None when Apprise cannot deliver to it).

    Each delivery thread keeps the senders of the URLs it sent to lately: reading a URL and
    setting up its plug-in cost more than many a send. Only senders whose plug-ins never pace
    their requests are kept, so that a message is never held back by the one before it."""
    cache: OrderedDict[str, _Sender] | None = getattr(_senders, "cache", None)
    if cache is None:
        cache = _senders.cache = OrderedDict()
    found = cache.get(url)
    if found is not None:
        cache.move_to_end(url)
        return found
    reader = apprise.Apprise(asset=_ASSET)
    if not reader.add(_with_timeouts(url)):
        return None
    servers = list(reader)
    sender = _Sender(reader, _webhook(servers[0]) if len(servers) == 1 else None)
    if all(server.request_rate_per_sec <= 0 for server in servers):
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
    webhook = sender.webhook
    try:
        if webhook is not None and body and body_format in webhook.formats:
            status = webhook.post(_session(), title, body)
            ok = status is not None and 200 <= status < 300
            if not ok:
                log.warning("delivery via %s failed: %s", channel, status or "no response")
        else:
            # Saying what the body is written in makes Apprise escape it for HTML channels
            # (email's HTML part) instead of reading user text as markup.
            ok = bool(
                sender.apprise.notify(
                    title=title, body=body, body_format=_APPRISE_FORMAT[body_format]
                )
            )
    except Exception as exc:  # a plug-in of Apprise failing must not take the worker down
        log.warning("delivery via %s raised %s", channel, type(exc).__name__)
        return Delivery(False, channel, f"{channel} delivery raised {type(exc).__name__}")
    if ok:
        return Delivery(True, channel)
    return Delivery(False, channel, f"{channel} delivery failed")
