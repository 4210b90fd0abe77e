"""Matrix: a bot user on any homeserver, through the client-server API (v3).

Outbound: rooms per incident (`createRoom`), invites, messages (`m.notice`, edited in place
with `m.replace` for the summary card), the topic, pinned events and, on archive, a read-only
room (`events_default` raised in the power levels). Inbound: `/sync` long-polling for
`!warroom` commands, `📌` reactions and newly pinned messages. The access token is sent only
in the Authorization header and never logged (errors carry the endpoint path, not the URL's
query or headers).

Reference: https://spec.matrix.org/v1.11/client-server-api/
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from warroom.chat.config import MatrixSettings
from warroom.chat.model import Message
from warroom.chat.platform import Channel, ChatError

API = "/_matrix/client/v3"
# Matrix has no buttons: this reaction on a page message acknowledges (as whoever reacts).
ACK_REACTION = "✅"
# Where a message carries what its acknowledgement acts on (e.g. "incident:INC-...").
ACK_FIELD = "org.warroom.ack"
ROOM_EVENT_LEVELS = {
    "m.room.power_levels": 100,
    "m.room.history_visibility": 100,
    "m.room.tombstone": 100,
    "m.room.encryption": 100,
    "m.room.server_acl": 100,
    "m.room.name": 50,
    "m.room.avatar": 50,
    "m.room.canonical_alias": 50,
    "m.room.topic": 50,
    "m.room.pinned_events": 0,
}


@dataclass(frozen=True)
class Inbound:
    """Something a person did in a room warroom must act on."""

    kind: str  # "command" or "mark"
    channel: str
    user: str
    event_id: str
    text: str = ""
    # For marks: the marked message's author and id.
    author: str | None = None
    message_id: str | None = None


def _quiet(text: str) -> str:
    """No `@room` mention from user text (the bot may notify the whole room)."""
    return text.replace("@room", "@\u200broom")


def render_html(message: Message) -> str:
    parts = [f"<b>{html.escape(_quiet(message.title))}</b>"]
    parts += [html.escape(_quiet(line)) for line in message.lines]
    if message.link:
        link = html.escape(message.link, quote=True)
        parts.append(f'<a href="{link}">{link}</a>')
    if message.ack:
        parts.append(f"<i>Acknowledge: react {ACK_REACTION} or reply <code>!warroom ack</code></i>")
    return "<br>".join(parts)


def render_plain(message: Message) -> str:
    text = _quiet(message.plain())
    if message.ack:
        text += f"\nAcknowledge: react {ACK_REACTION} or reply !warroom ack"
    return text


class MatrixPlatform:
    name = "matrix"

    def __init__(
        self,
        settings: MatrixSettings,
        *,
        direct_rooms: Callable[[str], str | None] | None = None,
        remember_direct: Callable[[str, str], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        token = settings.token()
        if not token:
            raise ChatError(
                "no Matrix access token: set "
                + (settings.access_token_env or "chat.matrix.access_token"),
                retryable=False,
            )
        self.settings = settings
        self.user_id = settings.user_id
        self._client = httpx.Client(
            base_url=settings.homeserver.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self._direct_rooms = direct_rooms or (lambda _user: None)
        self._remember_direct = remember_direct or (lambda _user, _room: None)

    def close(self) -> None:
        self._client.close()

    # ---- HTTP ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._client.request(method, API + path, json=body, params=params, **extra)
        except httpx.HTTPError as exc:
            # The message names the endpoint only: never the token.
            raise ChatError(f"matrix {method} {path.split('?')[0]}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            code = str(data.get("errcode", response.status_code))
            error = str(data.get("error", ""))[:300]
            retry = data.get("retry_after_ms")
            raise ChatError(
                f"matrix {path.split('?')[0]}: {code} {error}".strip(),
                code=code,
                retryable=response.status_code == 429 or response.status_code >= 500,
                retry_after=float(retry) / 1000 if retry else None,
            )
        return data if isinstance(data, dict) else {}

    def _send(self, room: str, event_type: str, content: dict[str, Any]) -> str:
        txn = uuid.uuid4().hex
        path = f"/rooms/{quote(room)}/send/{event_type}/{txn}"
        return str(self._call("PUT", path, content)["event_id"])

    # ---- ChatPlatform --------------------------------------------------------------------

    def whoami(self) -> str:
        return str(self._call("GET", "/account/whoami")["user_id"])

    def create_channel(self, name: str, topic: str, *, private: bool) -> Channel:
        body: dict[str, Any] = {
            "name": name,
            "topic": topic,
            "preset": "private_chat" if private else "public_chat",
            "visibility": "private",
            # Anyone in the room may pin a message: a pinned message becomes a timeline note.
            # (The override replaces the whole `events` map: the usual levels are restated.)
            "power_level_content_override": {"events": ROOM_EVENT_LEVELS},
        }
        alias = name
        for attempt in range(5):
            body["room_alias_name"] = alias
            try:
                room = str(self._call("POST", "/createRoom", body)["room_id"])
                break
            except ChatError as exc:
                if exc.code != "M_ROOM_IN_USE" or attempt == 4:
                    raise
                alias = f"{name}-{attempt + 2}"
        server = self.user_id.split(":", 1)[1]
        url = f"https://matrix.to/#/{quote('#' + alias + ':' + server, safe='')}"
        return Channel(id=room, name=alias, url=url)

    def invite(self, channel: str, users: list[str]) -> None:
        for user in users:
            try:
                self._call("POST", f"/rooms/{quote(channel)}/invite", {"user_id": user})
            except ChatError as exc:
                # Already in the room (or invited): nothing to do.
                if exc.code != "M_FORBIDDEN" or "already" not in exc.message:
                    raise

    def post(self, channel: str, message: Message) -> str:
        content = {
            "msgtype": "m.notice",
            "body": render_plain(message),
            "format": "org.matrix.custom.html",
            "formatted_body": render_html(message),
        }
        if message.ack:
            content[ACK_FIELD] = message.ack
        return self._send(channel, "m.room.message", content)

    def update(self, channel: str, message_id: str, message: Message) -> None:
        new = {
            "msgtype": "m.notice",
            "body": render_plain(message),
            "format": "org.matrix.custom.html",
            "formatted_body": render_html(message),
        }
        content = {
            **new,
            "body": "* " + new["body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": message_id},
        }
        self._send(channel, "m.room.message", content)

    def set_topic(self, channel: str, text: str) -> None:
        self._call("PUT", f"/rooms/{quote(channel)}/state/m.room.topic", {"topic": text})

    def state(self, channel: str, event_type: str) -> dict[str, Any]:
        try:
            return self._call("GET", f"/rooms/{quote(channel)}/state/{event_type}")
        except ChatError as exc:
            if exc.code == "M_NOT_FOUND":
                return {}
            raise

    def pin(self, channel: str, message_id: str) -> None:
        pinned = list(self.state(channel, "m.room.pinned_events").get("pinned", []))
        if message_id not in pinned:
            pinned.append(message_id)
            path = f"/rooms/{quote(channel)}/state/m.room.pinned_events"
            self._call("PUT", path, {"pinned": pinned})

    def archive(self, channel: str) -> None:
        """Read-only from now on: posting needs the bot's power level."""
        levels = self.state(channel, "m.room.power_levels")
        if levels.get("events_default") != 100:
            levels["events_default"] = 100
            self._call("PUT", f"/rooms/{quote(channel)}/state/m.room.power_levels", levels)

    def unarchive(self, channel: str) -> None:
        """Writable again: everyone may post (the power level `archive` raised)."""
        levels = self.state(channel, "m.room.power_levels")
        if levels.get("events_default", 0) != 0:
            levels["events_default"] = 0
            self._call("PUT", f"/rooms/{quote(channel)}/state/m.room.power_levels", levels)

    def user_for_email(self, email: str) -> str | None:
        return None  # the client-server API does not expose other users' emails

    def email_of(self, user: str) -> str | None:
        return None

    def reply_private(self, channel: str | None, user: str, text: str) -> None:
        room = self._direct_rooms(user)
        if room is None:
            created = self._call(
                "POST",
                "/createRoom",
                {"preset": "trusted_private_chat", "is_direct": True, "invite": [user]},
            )
            room = str(created["room_id"])
            self._remember_direct(user, room)
        self._send(room, "m.room.message", {"msgtype": "m.notice", "body": text})

    def react(self, channel: str, event_id: str, key: str) -> None:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        self._send(channel, "m.reaction", content)

    def event(self, channel: str, event_id: str) -> dict[str, Any]:
        return self._call("GET", f"/rooms/{quote(channel)}/event/{quote(event_id)}")

    # ---- inbound ---------------------------------------------------------------------------

    def sync(self, since: str | None, timeout_ms: int) -> tuple[str, list[Inbound]]:
        """One `/sync`: (next_batch, what to act on). Without `since` the backlog is skipped."""
        room_filter = {
            "room": {
                "timeline": {
                    "types": ["m.room.message", "m.reaction", "m.room.pinned_events"],
                    "limit": 100,
                },
                "state": {"types": []},
                "ephemeral": {"types": []},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        }
        params: dict[str, Any] = {"filter": json.dumps(room_filter), "timeout": timeout_ms}
        if since:
            params["since"] = since
        else:
            params["timeout"] = 0
        # The server holds a long poll up to `timeout_ms`: wait a little longer than that.
        wait = int(params["timeout"]) / 1000 + 10
        data = self._call("GET", "/sync", params=params, timeout=wait)
        cursor = str(data.get("next_batch", since or ""))
        if not since:
            return cursor, []
        found: list[Inbound] = []
        for room, joined in data.get("rooms", {}).get("join", {}).items():
            for event in joined.get("timeline", {}).get("events", []):
                found += self._inbound(room, event)
        return cursor, found

    def _inbound(self, room: str, event: dict[str, Any]) -> list[Inbound]:
        sender = str(event.get("sender", ""))
        if sender == self.user_id:
            return []
        kind = event.get("type")
        content = event.get("content") or {}
        event_id = str(event.get("event_id", ""))
        if kind == "m.room.message" and isinstance(content.get("body"), str):
            if "m.new_content" in content:
                return []  # edits are not new commands
            return [Inbound("command", room, sender, event_id, text=content["body"])]
        if kind == "m.reaction":
            relates = content.get("m.relates_to") or {}
            if relates.get("rel_type") == "m.annotation" and relates.get("key"):
                return [
                    Inbound(
                        "reaction",
                        room,
                        sender,
                        event_id,
                        text=str(relates["key"]),
                        message_id=str(relates.get("event_id", "")),
                    )
                ]
        if kind == "m.room.pinned_events":
            now = list(content.get("pinned") or [])
            before = list(
                ((event.get("unsigned") or {}).get("prev_content") or {}).get("pinned") or []
            )
            return [
                Inbound("mark", room, sender, f"{event_id}:{pinned}", message_id=pinned)
                for pinned in now
                if pinned not in before
            ]
        return []
