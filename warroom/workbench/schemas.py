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


class DiagnosisIn(_Strict):
    """A structured diagnosis (seed 003's stage 2a output)."""

    hypothesis: str = Field(min_length=1, max_length=4000, description="Root cause hypothesis")
    evidence: str = Field(min_length=1, max_length=8000)
    confidence: Literal["low", "medium", "high"]

    @field_validator("hypothesis", "evidence")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class RunIn(_Strict):
    # A 1-based step number or a step id; without it, the runbook's automatic steps run.
    step: str | None = Field(default=None, max_length=80)
    note: str | None = Field(default=None, max_length=4000)
    # For a diagnosis step.
    diagnosis: DiagnosisIn | None = None


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
    # Who wrote the fix (default: whoever records it); never its reviewer.
    author: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)
    link: str = Field(default="", max_length=2000)
    gates: dict[str, GateAnswerIn] = Field(default_factory=dict)
    # Why a rollback or feature flag was not possible (policy hotfix.requires_reason).
    why_not_rollback: str = Field(default="", max_length=2000)
    # "significant" risk with rollback impossible is a MUST STOP (seed 001).
    risk: Literal["low", "significant"] | None = None
    root_cause: str = Field(default="", max_length=2000)


class PullRequestIn(_Strict):
    """Open the hotfix's emergency pull request from this branch (which must be pushed)."""

    head: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$",
        description="The branch holding the fix, e.g. hotfix/inc-20261206-001",
    )
    base: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$",
        description="The branch to merge into (default: emergency_pr.base)",
    )

    @field_validator("head", "base")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        # git check-ref-format: no "..", "//", trailing "/" or ".lock".
        if value is not None and (
            ".." in value or "//" in value or value.endswith(("/", ".lock", "."))
        ):
            raise ValueError(f"{value!r} is not a valid branch name")
        return value


class RolloutIn(_Strict):
    """The next stage of a canary deploy: the full rollout, or halted (rolled back)."""

    stage: Literal["full", "halted"]
    note: str = Field(default="", max_length=4000, description="What was seen (halted: why)")


class ReviewIn(_Strict):
    note: str = Field(default="", max_length=4000)


class GateIn(_Strict):
    gates: dict[str, GateAnswerIn] = Field(min_length=1)


class ConfirmIn(_Strict):
    note: str = Field(min_length=1, max_length=4000)
