"""Request shapes of the post-mortems API (shared by the service and the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.clock import ensure_utc
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
