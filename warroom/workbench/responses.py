"""Response models of the workbench API (`warroom/workbench/api.py`): runbooks, changes,
mitigations, hotfixes and verification."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime, JsonObject, Number
from warroom.incidents.responses import Event


class RunbookMatch(ApiModel):
    types: list[str]
    services: list[str]
    labels: dict[str, str]
    policies: list[str]
    fallback: bool


class RunbookStep(ApiModel):
    """A step; the fields beyond the first ones depend on its kind (docs/workbench.md)."""

    id: str
    title: str
    automatic: bool
    dangerous: bool
    kind: str = Field(examples=["command", "http", "manual", "prometheus", "mitigation"])
    number: int
    needs_approval: bool
    command: str | None = None
    timeout: Number | None = None
    cwd: str | None = None
    env_allow: list[str] | None = None
    env: dict[str, str] | None = None
    max_output: int | None = None
    url: str | None = None
    method: str | None = None
    expect_status: list[int] | None = None
    expect_body: str | None = None
    headers: dict[str, str] | None = None
    body: str | JsonObject | None = None
    instructions: str | None = None
    checklist: list[str] | None = None
    action: str | None = None
    description: str | None = None
    query: str | None = None
    op: str | None = None
    threshold: Number | None = None
    baseline_window: str | None = None
    max_ratio: Number | None = None
    prometheus_url: str | None = None
    prompt: str | None = None


class RunbookSummary(ApiModel):
    id: str
    title: str
    source: str
    builtin: bool
    match: RunbookMatch
    steps: int = Field(description="how many steps")
    automatic_steps: list[str]
    command_executor: bool


class Runbook(ApiModel):
    id: str
    title: str
    source: str
    builtin: bool
    match: RunbookMatch
    steps: list[RunbookStep]
    automatic_steps: list[str]
    command_executor: bool
    description: str


class RunbookList(ApiModel):
    items: list[RunbookSummary]
    problems: list[JsonObject] = Field(description="runbook files that could not be loaded")


class MatchingRunbooks(ApiModel):
    incident: str
    items: list[Runbook]


class StepResult(ApiModel):
    runbook: str
    step: str
    step_number: int
    title: str
    kind: str
    by: str
    automatic: bool
    status: str
    output: str | None = None
    details: JsonObject | None = None
    approved_by: str | None = None
    note: str | None = None


class RunbookRun(ApiModel):
    incident: str
    runbook: str
    results: list[StepResult]


class StepApproval(ApiModel):
    incident: str
    runbook: str
    step: str
    approved: bool


class Change(ApiModel):
    id: int
    service: str
    kind: str
    version: str | None
    by: str | None
    link: str | None
    description: str | None
    at: IsoTime
    recorded_at: IsoTime
    recorded_by: str


class ChangeList(ApiModel):
    items: list[Change]


class CorrelatedChange(ApiModel):
    change_id: int
    service: str
    kind: str
    version: str | None
    at: IsoTime
    by: str | None
    link: str | None
    score: Number
    relation: str
    minutes_before: Number
    reason: str


class IncidentChanges(ApiModel):
    incident: str
    started_at: IsoTime
    window: Number = Field(description="the correlation window in seconds")
    changes: list[CorrelatedChange]


class MitigationOption(ApiModel):
    action: str
    why: str
    command: str | None
    outcome: str | None


class MitigationSuggestions(ApiModel):
    incident: str
    signals: dict[str, str]
    suggestions: list[MitigationOption]
    tried: dict[str, str | None] = Field(description="action -> outcome")
    exhausted: bool


class Mitigation(ApiModel):
    action: str
    outcome: str
    description: str
    source: str
    by: str


class MitigationRecorded(ApiModel):
    incident: str
    mitigation: Mitigation
    mitigation_exhausted: bool
    next_option: MitigationOption | None = None


class StagingTimeBox(ApiModel):
    minutes: Number
    ends_at: IsoTime
    exceeded: bool


class GateResult(ApiModel):
    gate: str
    rule: str | None
    status: str = Field(examples=["passed", "pending", "skipped", "failed"])
    reason: str | None
    by: str | None


class EmergencyPr(ApiModel):
    """The emergency pull request the policy asks for: drafted, then opened on GitHub."""

    branch: str
    title: str
    labels: list[str]
    reviewers: list[str]
    body: str
    state: str


class Hotfix(ApiModel):
    hotfix: str
    author: str
    recorded_by: str
    description: str
    link: str | None
    severity: str
    gates: list[GateResult]
    deploy_blockers: list[str]
    deployed: bool
    rollout: dict[str, Any] | None = None
    staging_time_box: StagingTimeBox | None = None
    emergency_pr: EmergencyPr | None = None


class HotfixList(ApiModel):
    items: list[Hotfix]


class Verification(ApiModel):
    incident: str
    window_seconds: Number | None
    passed: bool
    regressed: bool
    events: list[Event]


class VerificationConfirmed(ApiModel):
    incident: str
    verification_passed: bool
