"""Slack: a Slack app with a bot token (the official `slack_sdk` for the Web API calls and
the request signature check), the Events API, a `/warroom` slash command and interactivity.

Web API methods used (https://api.slack.com/methods): auth.test, conversations.create,
conversations.invite, conversations.setTopic, conversations.archive, conversations.history,
chat.postMessage, chat.update, chat.postEphemeral, pins.add, users.lookupByEmail, users.info.
Signatures: https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.signature import SignatureVerifier

from warroom.chat.config import SlackSettings
from warroom.chat.model import Message
from warroom.chat.platform import Channel, ChatError

ACK_ACTION = "warroom_ack"
# Errors worth trying again; the others are configuration or permission problems.
_RETRYABLE = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: &, < and > (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(message: Message) -> list[dict[str, Any]]:
    lines = [f"*{escape(message.title)}*", *(escape(line) for line in message.lines)]
    if message.link:
        lines.append(f"<{message.link}|Open the war room>")
    result: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}}
    ]
    if message.ack:
        result.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ACK_ACTION,
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "style": "primary",
                        "value": message.ack,
                    }
                ],
            }
        )
    return result


class _Clock:
    def __init__(self, now: Any) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now())


def verify(
    settings: SlackSettings,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
) -> str | None:
    """Why a request is refused, or None when its signature is good and fresh."""
    secret = settings.secret()
    if not secret:
        return "no Slack signing secret configured"
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    moment = time.time() if now is None else now
    try:
        age = abs(moment - int(timestamp))
    except ValueError:
        return "bad X-Slack-Request-Timestamp"
    if age > settings.timestamp_window_seconds:
        return "request timestamp outside the allowed window (a replay?)"
    verifier = SignatureVerifier(secret, clock=_Clock(lambda: moment))  # type: ignore[arg-type]
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "bad signature"
    return None


class SlackPlatform:
    name = "slack"

    def __init__(self, settings: SlackSettings, timeout: int = 10) -> None:
        token = settings.token()
        if not token:
            where = settings.bot_token_env or "chat.slack.bot_token"
            raise ChatError(f"no Slack bot token: set {where}", retryable=False)
        self.settings = settings
        self._client = WebClient(token=token, base_url=settings.api_url, timeout=timeout)
        self._team_url: str | None = None

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = str(data.get("error", exc.response.status_code))
            retry = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            raise ChatError(
                f"slack {method.replace('_', '.', 1)}: {error}",
                code=error,
                retryable=error in _RETRYABLE or exc.response.status_code >= 500,
                retry_after=float(retry) if retry else None,
            ) from None
        except (SlackRequestError, OSError) as exc:
            # The reason only (the token travels in a header, never in the message).
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise ChatError(
                f"slack {method.replace('_', '.', 1)}: unreachable ({reason})"
            ) from None
        data = response.data
        return data if isinstance(data, dict) else {}

    def whoami(self) -> str:
        data = self._call("auth_test")
        self._team_url = str(data.get("url") or "") or None
        return str(data.get("user_id", ""))

    def create_channel(self, name: str, topic: str, *, private: bool) -> Channel:
        data = self._call("conversations_create", name=name, is_private=private)
        channel = data["channel"]
        self.set_topic(str(channel["id"]), topic)
        if self._team_url is None:
            self.whoami()
        base = (self._team_url or "https://slack.com/").rstrip("/")
        return Channel(
            id=str(channel["id"]), name=str(channel["name"]), url=f"{base}/archives/{channel['id']}"
        )

    def invite(self, channel: str, users: list[str]) -> None:
        try:
            self._call("conversations_invite", channel=channel, users=",".join(users))
        except ChatError as exc:
            if exc.code != "already_in_channel":
                raise

    def post(self, channel: str, message: Message) -> str:
        data = self._call(
            "chat_postMessage", channel=channel, text=message.plain(), blocks=blocks(message)
        )
        return str(data["ts"])

    def update(self, channel: str, message_id: str, message: Message) -> None:
        self._call(
            "chat_update",
            channel=channel,
            ts=message_id,
            text=message.plain(),
            blocks=blocks(message),
        )

    def set_topic(self, channel: str, text: str) -> None:
        self._call("conversations_setTopic", channel=channel, topic=text[:250])

    def pin(self, channel: str, message_id: str) -> None:
        try:
            self._call("pins_add", channel=channel, timestamp=message_id)
        except ChatError as exc:
            if exc.code != "already_pinned":
                raise

    def archive(self, channel: str) -> None:
        try:
            self._call("conversations_archive", channel=channel)
        except ChatError as exc:
            if exc.code != "already_archived":
                raise

    def unarchive(self, channel: str) -> None:
        # https://api.slack.com/methods/conversations.unarchive: Slack documents that bot
        # tokens cannot currently unarchive; the refusal reaches the caller, which then opens
        # a new channel for the reopened incident.
        try:
            self._call("conversations_unarchive", channel=channel)
        except ChatError as exc:
            if exc.code != "not_archived":
                raise

    def user_for_email(self, email: str) -> str | None:
        try:
            data = self._call("users_lookupByEmail", email=email)
        except ChatError as exc:
            if exc.code == "users_not_found":
                return None
            raise
        return str(data["user"]["id"])

    def email_of(self, user: str) -> str | None:
        data = self._call("users_info", user=user)
        email = (data.get("user") or {}).get("profile", {}).get("email")
        return str(email) if email else None

    def reply_private(self, channel: str | None, user: str, text: str) -> None:
        if channel is None:
            return
        self._call("chat_postEphemeral", channel=channel, user=user, text=escape(text))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message of a channel (for a 📌 reaction): conversations.history at its ts."""
        data = self._call(
            "conversations_history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        found = data.get("messages") or []
        return dict(found[0]) if found else None
