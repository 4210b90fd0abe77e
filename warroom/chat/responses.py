"""Response models of the chat API (`warroom/chat/api.py`)."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime


class PlatformStatus(ApiModel):
    platform: str = Field(examples=["matrix", "slack", "mattermost"])
    state: str = Field(examples=["ok", "failing", "unknown"])
    open_channels: int
    last_attempt_at: IsoTime | None
    last_error: str | None
    last_error_at: IsoTime | None


class ChatStatus(ApiModel):
    platforms: list[PlatformStatus]


class PlatformCheck(ApiModel):
    platform: str
    ok: bool
    as_: str | None = Field(default=None, alias="as", description="who warroom is there")
    error: str | None = None


class ChatCheck(ApiModel):
    platforms: list[PlatformCheck]


class ChatDelivery(ApiModel):
    id: int
    outbox_id: int | None
    incident: str | None
    platform: str
    action: str
    ok: bool
    error: str | None
    attempt: int
    attempted_at: IsoTime


class ChatLink(ApiModel):
    platform: str
    chat_user: str
    person: str
    linked_by: str | None = None
    linked_at: IsoTime | None = None


class Channel(ApiModel):
    incident: str
    platform: str
    channel_id: str
    name: str | None
    url: str | None
    created_at: IsoTime
    archived_at: IsoTime | None
