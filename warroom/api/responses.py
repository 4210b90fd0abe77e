"""Response models of the core API: health, tokens, audit, policy (`system.py`), outbox."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime, JsonObject


class Health(ApiModel):
    status: str = Field(examples=["ok"])
    version: str


class Readiness(ApiModel):
    """200 when ready, 503 (same body) when not."""

    status: str = Field(examples=["ready", "not ready"])
    checks: dict[str, str] = Field(description='check -> "ok" or what is wrong')


class Token(ApiModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: IsoTime
    created_by: str
    expires_at: IsoTime | None
    revoked_at: IsoTime | None
    last_used_at: IsoTime | None
    kind: str = Field(examples=["token", "agent"])


class TokenList(ApiModel):
    items: list[Token]


class TokenCreated(ApiModel):
    id: int
    name: str
    scopes: list[str]
    kind: str
    token: str = Field(description="the token value, shown this once")


class TokenRevoked(ApiModel):
    id: int
    revoked: bool


class AuditEntry(ApiModel):
    id: int
    at: IsoTime
    actor: str
    action: str = Field(examples=["token.create"])
    target: str
    details: JsonObject


class AuditLog(ApiModel):
    items: list[AuditEntry]
    next_cursor: int | None = Field(
        description="the cursor of the next page (also in the Link header); null on the last"
    )


class Preset(ApiModel):
    name: str
    description: str


class PresetList(ApiModel):
    items: list[Preset]


class PolicyTarget(ApiModel):
    label: str
    within: str | None = None


class SeverityPostmortem(ApiModel):
    requirement: str
    due_within: str | None = None


class PolicySeverity(ApiModel):
    id: str
    name: str
    aliases: list[str]
    definition: str
    examples: list[str]
    response_target: PolicyTarget
    resolution_target: PolicyTarget
    update_interval: str | None
    roles_required: list[str]
    paging: str
    notify_commander: bool
    add_to_backlog: bool
    executive_brief: bool
    public_update: bool
    postmortem: SeverityPostmortem
    hotfix_gates: dict[str, str]
    verification_window: str | None


class PolicyDocument(ApiModel):
    """The policy document (durations as text such as "15m"); docs/policy.md explains it."""

    name: str
    description: str
    severities: list[PolicySeverity]
    resolution_checklist: list[dict[str, str]]
    contacts: dict[str, JsonObject]
    escalation: JsonObject
    triage: JsonObject
    recurrence_window: str | None
    recurrence_action: str
    alerts_auto_resolve: bool
    postmortem_close_requires: str
    mttr_from: str
    agents: dict[str, bool]
    resolve_requires_verification: bool
    verification_waiver_roles: list[str]
    stop_rules: list[JsonObject]
    hotfix: JsonObject
    mitigation_tree: list[JsonObject]
    communications: JsonObject
    postmortem_template: JsonObject


class Effect(ApiModel):
    """An outbox effect (secrets hidden: channels only, bodies withheld)."""

    id: int
    kind: str
    status: str = Field(examples=["pending", "failed", "dead"])
    due_at: IsoTime
    attempts: int
    last_error: str | None
    dedup_key: str | None
    incident_id: int | str | None
    payload: JsonObject


class OutboxList(ApiModel):
    items: list[Effect]
    depth: dict[str, int] = Field(description="effects per status")
