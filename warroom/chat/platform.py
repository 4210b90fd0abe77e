"""What warroom needs from a chat platform (the adapters implement it) and what they raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from warroom.chat.model import Message


class ChatError(Exception):
    """A chat API call failed. `retryable`: try again later (after `retry_after` seconds if
    the platform said so); `code`: the platform's error code (name_taken, not_in_channel...)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    url: str


class ChatPlatform(Protocol):
    """One chat platform: channels, members, messages, and who its users are."""

    name: str

    def whoami(self) -> str:
        """The bot's own user (a cheap authenticated call: the connection check)."""

    def create_channel(self, name: str, topic: str, *, private: bool) -> Channel: ...

    def invite(self, channel: str, users: list[str]) -> None: ...

    def post(self, channel: str, message: Message) -> str:
        """Post a message; returns its id."""

    def update(self, channel: str, message_id: str, message: Message) -> None: ...

    def set_topic(self, channel: str, text: str) -> None: ...

    def pin(self, channel: str, message_id: str) -> None: ...

    def archive(self, channel: str) -> None: ...

    def unarchive(self, channel: str) -> None:
        """Open an archived channel again (a ChatError where the platform refuses the bot)."""

    def user_for_email(self, email: str) -> str | None:
        """The chat user with this email, where the platform exposes emails."""

    def email_of(self, user: str) -> str | None: ...

    def reply_private(self, channel: str | None, user: str, text: str) -> None:
        """A message only `user` sees."""
