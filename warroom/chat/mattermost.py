"""Mattermost: a bot account through REST API v4, a `/warroom` slash command (its token
verified) and interactive message buttons (their context signed by warroom, since Mattermost
does not sign button requests).

Endpoints used (https://api.mattermost.com/): GET /users/me, GET /teams/name/{name},
POST /channels, POST /channels/{id}/members, PUT /channels/{id}/patch, DELETE /channels/{id}
(archive), POST /posts, PUT /posts/{id}/patch, POST /posts/{id}/pin, POST /posts/ephemeral,
GET /users/email/{email}, GET /users/{id}.
Slash commands: https://developers.mattermost.com/integrate/slash-commands/custom/
Buttons: https://developers.mattermost.com/integrate/plugins/interactive-messages/
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

import httpx

from warroom.chat.config import MattermostSettings
from warroom.chat.model import Message
from warroom.chat.platform import Channel, ChatError

API = "/api/v4"
# Mattermost's error id when a channel name is already used in the team.
NAME_TAKEN_IDS = ("store.sql_channel.save_channel.exists.app_error",)


def escape(text: str) -> str:
    """User text shown as written: Markdown's inline markup escaped, and no `@channel`-style
    mentions (a zero-width space after `@`), so a title cannot ping or restyle a channel."""
    out = []
    for n, char in enumerate(text):
        line_start = n == 0 or text[n - 1] == "\n"
        if char in "\\`*_[]<>~|" or (line_start and char in "#-+>"):
            out.append("\\" + char)
        elif char == "@":
            out.append("@\u200b")
        else:
            out.append(char)
    return "".join(out)


def render(message: Message) -> str:
    lines = [f"**{escape(message.title)}**", *(escape(line) for line in message.lines)]
    if message.link:
        lines.append(f"[Open the war room]({message.link})")
    return "\n".join(lines)


def sign_action(key: bytes, action: str) -> str:
    return hmac.new(key, f"mattermost-action:{action}".encode(), hashlib.sha256).hexdigest()


def check_action(key: bytes, action: str, signature: str) -> bool:
    return hmac.compare_digest(sign_action(key, action), signature)


class MattermostPlatform:
    name = "mattermost"

    def __init__(
        self,
        settings: MattermostSettings,
        *,
        action_url: str,
        action_key: Any,
        timeout: float = 10.0,
    ) -> None:
        token = settings.token()
        if not token:
            raise ChatError(
                "no Mattermost bot token: set "
                + (settings.bot_token_env or "chat.mattermost.bot_token"),
                retryable=False,
            )
        self.settings = settings
        self._action_url = action_url
        self._action_key = action_key  # callable -> bytes (read from the database on use)
        self._client = httpx.Client(
            base_url=settings.url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self._team_id: str | None = None

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ChatError(f"mattermost {method} {path}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            error_id = str(data.get("id", "")) if isinstance(data, dict) else ""
            text = str(data.get("message", "")) if isinstance(data, dict) else ""
            code = error_id or str(response.status_code)
            if error_id in NAME_TAKEN_IDS:
                code = "name_taken"
            elif response.status_code == 404:
                code = "not_found"
            elif response.status_code == 429:
                code = "ratelimited"
            reset = response.headers.get("X-Ratelimit-Reset") or response.headers.get("Retry-After")
            raise ChatError(
                f"mattermost {path}: {response.status_code} {text or error_id}".strip(),
                code=code,
                retryable=response.status_code == 429 or response.status_code >= 500,
                retry_after=float(reset) if reset else None,
            )
        return data

    def team_id(self) -> str:
        if self._team_id is None:
            team = self._call("GET", f"/teams/name/{quote(self.settings.team)}")
            self._team_id = str(team["id"])
        return self._team_id

    def whoami(self) -> str:
        return str(self._call("GET", "/users/me")["username"])

    def create_channel(self, name: str, topic: str, *, private: bool) -> Channel:
        data = self._call(
            "POST",
            "/channels",
            {
                "team_id": self.team_id(),
                "name": name[:64],
                "display_name": name[:64],
                "type": "P" if private else "O",
                "header": topic[:1024],
            },
        )
        url = f"{self.settings.url.rstrip('/')}/{self.settings.team}/channels/{data['name']}"
        return Channel(id=str(data["id"]), name=str(data["name"]), url=url)

    def invite(self, channel: str, users: list[str]) -> None:
        for user in users:
            self._call("POST", f"/channels/{channel}/members", {"user_id": user})

    def _props(self, message: Message) -> dict[str, Any]:
        if not message.ack:
            return {}
        signature = sign_action(self._action_key(), message.ack)
        return {
            "attachments": [
                {
                    "actions": [
                        {
                            "id": "warroomack",
                            "name": "Acknowledge",
                            "integration": {
                                "url": self._action_url,
                                "context": {"action": message.ack, "signature": signature},
                            },
                        }
                    ]
                }
            ]
        }

    def post(self, channel: str, message: Message) -> str:
        body = {"channel_id": channel, "message": render(message), "props": self._props(message)}
        return str(self._call("POST", "/posts", body)["id"])

    def update(self, channel: str, message_id: str, message: Message) -> None:
        body = {"message": render(message), "props": self._props(message)}
        self._call("PUT", f"/posts/{message_id}/patch", body)

    def set_topic(self, channel: str, text: str) -> None:
        self._call("PUT", f"/channels/{channel}/patch", {"header": text[:1024]})

    def pin(self, channel: str, message_id: str) -> None:
        self._call("POST", f"/posts/{message_id}/pin")

    def archive(self, channel: str) -> None:
        self._call("DELETE", f"/channels/{channel}")

    def unarchive(self, channel: str) -> None:
        # https://api.mattermost.com/#tag/channels/operation/RestoreChannel
        self._call("POST", f"/channels/{channel}/restore")

    def user_for_email(self, email: str) -> str | None:
        try:
            return str(self._call("GET", f"/users/email/{quote(email)}")["id"])
        except ChatError as exc:
            if exc.code == "not_found":
                return None
            raise

    def email_of(self, user: str) -> str | None:
        email = self._call("GET", f"/users/{quote(user)}").get("email")
        return str(email) if email else None

    def reply_private(self, channel: str | None, user: str, text: str) -> None:
        if channel is None:
            return
        body = {"user_id": user, "post": {"channel_id": channel, "message": escape(text)}}
        self._call("POST", "/posts/ephemeral", body)
