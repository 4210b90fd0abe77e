"""The `chat` config section: which incidents get a channel, how it is named and run, and the
chat platforms warroom talks to (Matrix, Slack, Mattermost).

Secrets (access tokens, signing secrets, command tokens) may be written inline, but are better
named by environment variable (`*_env`): the config file is then safe to share.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.durations import parse_duration

PLATFORMS = ("matrix", "slack", "mattermost")
# Fields a channel name template may use.
NAME_FIELDS = ("date", "seq", "id", "slug", "severity", "service")
_FIELD = re.compile(r"\{([a-z_]+)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(inline: str | None, env: str | None) -> str | None:
    if inline:
        return inline
    if env:
        return os.environ.get(env) or None
    return None


class MatrixSettings(_Strict):
    """A bot user on any Matrix homeserver (client-server API)."""

    homeserver: str = Field(description="e.g. https://matrix.example.org")
    user_id: str = Field(description="The bot's user id, e.g. @warroom:example.org")
    access_token: str | None = None
    access_token_env: str | None = "WARROOM_MATRIX_ACCESS_TOKEN"
    # Matrix does not expose users' emails: people link once (`warroom chat link`).
    command_prefix: str = "!warroom"

    def token(self) -> str | None:
        return _secret(self.access_token, self.access_token_env)

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not re.match(r"^@[^:\s]+:[^\s]+$", value):
            raise ValueError("a Matrix user id looks like @warroom:example.org")
        return value


class SlackSettings(_Strict):
    """A Slack app: its bot token and signing secret."""

    bot_token: str | None = None
    bot_token_env: str | None = "WARROOM_SLACK_BOT_TOKEN"
    signing_secret: str | None = None
    signing_secret_env: str | None = "WARROOM_SLACK_SIGNING_SECRET"
    # Socket Mode: receive events, commands and clicks over a WebSocket warroom opens
    # (`warroom chat listen`), for installs Slack cannot reach; needs an app-level token.
    socket_mode: bool = False
    app_token: str | None = None
    app_token_env: str | None = "WARROOM_SLACK_APP_TOKEN"
    # The Web API base (a test server, or Slack's own).
    api_url: str = "https://slack.com/api/"
    # Requests older than this are refused (Slack's guidance: five minutes).
    timestamp_window_seconds: int = Field(default=300, ge=30, le=900)

    def token(self) -> str | None:
        return _secret(self.bot_token, self.bot_token_env)

    def secret(self) -> str | None:
        return _secret(self.signing_secret, self.signing_secret_env)

    def app_token_value(self) -> str | None:
        return _secret(self.app_token, self.app_token_env)


class MattermostSettings(_Strict):
    """A Mattermost bot account (REST API v4), a slash command and message buttons."""

    url: str = Field(description="e.g. https://mattermost.example.org")
    team: str = Field(description="The team (name) incident channels are created in")
    bot_token: str | None = None
    bot_token_env: str | None = "WARROOM_MATTERMOST_BOT_TOKEN"
    # The slash command's token (Integrations > Slash commands); more than one may be valid.
    command_tokens: tuple[str, ...] = ()
    command_tokens_env: str | None = "WARROOM_MATTERMOST_COMMAND_TOKEN"

    def token(self) -> str | None:
        return _secret(self.bot_token, self.bot_token_env)

    def tokens(self) -> tuple[str, ...]:
        from_env = _secret(None, self.command_tokens_env)
        return self.command_tokens + ((from_env,) if from_env else ())


class CallLink(_Strict):
    """A video call for the incident, linked on the channel's summary card: a URL template
    (fields as in `name`), e.g. `https://meet.jit.si/warroom-{id}` (Jitsi opens a room on first
    join), or a standing bridge; only at these severities (empty: every severity)."""

    url: str = Field(min_length=8, max_length=500)
    severities: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("a call link is an http(s) URL")
        unknown = [f for f in _FIELD.findall(value) if f not in NAME_FIELDS]
        if unknown:
            known = ", ".join(NAME_FIELDS)
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; a call link may use {known}")
        return value


class ChatConfig(_Strict):
    """Incident channels: who gets one and how they behave."""

    # Severities (ids or aliases) that get a channel; empty means every severity.
    severities: tuple[str, ...] = ()
    # Channel name; fields: {date} 20261206, {seq} 001, {id} inc-20261206-001, {slug} of
    # the title, {severity}, {service} (the first service, or the slug).
    name: str = "inc-{date}-{seq}-{slug}"
    private: bool = False
    # How long after the incident closes the channel is archived.
    archive_after: str = "24h"
    # What of the timeline is posted: key events (status, severity, roles, updates, pages),
    # every event, or nothing.
    verbosity: Literal["key", "all", "none"] = "key"
    # What a linked person may do when they have no web account of the same name.
    default_role: Literal["responder", "viewer"] = "responder"
    # Pin or react with this to make a message a timeline note.
    note_reaction: str = "📌"
    # A video call linked on the summary card (002's war room: "video call link if P0/P1").
    call: CallLink | None = None
    matrix: MatrixSettings | None = None
    slack: SlackSettings | None = None
    mattermost: MattermostSettings | None = None

    @field_validator("archive_after")
    @classmethod
    def _archive_after(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        unknown = [f for f in _FIELD.findall(value) if f not in NAME_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; a name may use {', '.join(NAME_FIELDS)}"
            )
        if not value.strip():
            raise ValueError("a channel name template cannot be empty")
        return value

    @property
    def archive_delay(self) -> timedelta:
        return parse_duration(self.archive_after)

    def platforms(self) -> tuple[str, ...]:
        """The platforms configured, in a fixed order."""
        return tuple(p for p in PLATFORMS if getattr(self, p) is not None)
