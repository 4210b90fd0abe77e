"""Request shapes of the workbench API (shared by the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.clock import ensure_utc
from warroom.core.inputs import Moment
from warroom.workbench.runbooks import MitigationAction


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunIn(_Strict):
    # A 1-based step number or a step id; without it, the runbook's automatic steps run.
    step: str | None = Field(default=None, max_length=80)
    note: str | None = Field(default=None, max_length=4000)


class ApproveIn(_Strict):
    step: str = Field(min_length=1, max_length=80)
    note: str | None = Field(default=None, max_length=4000)


class ChangeIn(_Strict):
    service: str = Field(min_length=1, max_length=120)
    kind: Literal["deploy", "config", "flag", "infra"]
    version: str = Field(default="", max_length=200)
    by: str = Field(default="", max_length=200)
    link: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=4000)
    at: Moment | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return ensure_utc(value) if value is not None else None


class MitigationIn(_Strict):
    action: MitigationAction
    outcome: Literal["succeeded", "failed", "pending"] = "pending"
    description: str = Field(default="", max_length=4000)


class GateAnswerIn(_Strict):
    status: Literal["passed", "skipped"]
    reason: str = Field(default="", max_length=2000)
    by: str = Field(default="", max_length=200)


class HotfixIn(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,119}$")
    author: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    link: str = Field(default="", max_length=2000)
    gates: dict[str, GateAnswerIn] = Field(default_factory=dict)


class GateIn(_Strict):
    gates: dict[str, GateAnswerIn] = Field(min_length=1)


class ConfirmIn(_Strict):
    note: str = Field(min_length=1, max_length=4000)
