"""Request shapes of the post-mortems API (shared by the service and the CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.core.clock import ensure_utc
from warroom.core.durations import parse_duration
from warroom.core.inputs import Moment

ItemType = Literal["prevent", "mitigate", "detect", "process"]
ItemStatus = Literal["open", "in_progress", "done", "wont_do"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _aware(value: datetime | None) -> datetime | None:
    return ensure_utc(value) if value is not None else None


class PostmortemEditIn(Strict):
    body: str | None = Field(default=None, max_length=200_000)
    # The version the edit was based on; a stale one is refused (409) instead of overwriting.
    version: int | None = None
    root_cause_category: str | None = None


class SubmitIn(Strict):
    reviewers: list[str] = Field(default_factory=list, max_length=20)


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class ActionItemIn(Strict):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20_000)
    owner: str | None = Field(default=None, max_length=200)
    due_at: Moment | None = None
    priority: int = Field(default=2, ge=1, le=4)
    type: ItemType = "prevent"
    status: ItemStatus = "open"

    _due = field_validator("due_at")(_aware)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an action item needs a title")
        return value.strip()


class ActionItemPatch(Strict):
    title: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    owner: str | None = Field(default=None, max_length=200)
    due_at: Moment | None = None
    priority: int | None = Field(default=None, ge=1, le=4)
    type: ItemType | None = None
    status: ItemStatus | None = None

    _due = field_validator("due_at")(_aware)


class ListActions(Strict):
    owner: str | None = None
    overdue: bool = False
    status: list[str] = Field(default_factory=list)
    incident: str | None = None
    limit: int = Field(default=500, ge=1, le=5000)
    after_id: int | None = Field(default=None, description="Only items after this one (by id)")


class MeetingIn(Strict):
    """The post-incident review meeting: when, how long, who facilitates, who attends."""

    starts_at: Moment
    duration: timedelta = Field(
        default=timedelta(hours=1), description="e.g. 45m or 1h (15 minutes to 8 hours)"
    )
    facilitator: str = Field(min_length=1, max_length=200)
    attendees: list[str] = Field(min_length=1, max_length=50)
    location: str | None = Field(default=None, max_length=500, description="Room or call link")

    _starts = field_validator("starts_at")(_aware)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except OverflowError:
                raise ValueError("a review meeting lasts from 15 minutes to 8 hours") from None
        return value

    @field_validator("duration")
    @classmethod
    def _duration_range(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=15) <= value <= timedelta(hours=8):
            raise ValueError("a review meeting lasts from 15 minutes to 8 hours")
        return value

    @model_validator(mode="after")
    def _ends(self) -> MeetingIn:
        try:
            _ = self.starts_at + self.duration  # the end must be a representable time
        except OverflowError:
            raise ValueError("the review meeting must end before the year 10000") from None
        if self.starts_at.year > 9000:
            raise ValueError("the review meeting must start within this millennium")
        return self

    @field_validator("facilitator")
    @classmethod
    def _facilitator(cls, value: str) -> str:
        if not value.strip() or "\n" in value:
            raise ValueError("name the facilitator on one line")
        return value.strip()

    @field_validator("attendees")
    @classmethod
    def _attendees(cls, value: list[str]) -> list[str]:
        names = [a.strip() for a in value]
        if any(not a or len(a) > 200 or "\n" in a for a in names):
            raise ValueError("each attendee is a name or an email address on one line")
        return list(dict.fromkeys(names))
