"""The agent's tools: each one is a thin call to warroom's REST API as the agent.

Adding a tool for an endpoint is a few lines:

    @tool(scope="responder", title="Acknowledge")
    async def acknowledge_incident(incident: IncidentRef) -> dict[str, Any]:
        \"\"\"Acknowledge a triggered or reopened incident (stops its escalation).\"\"\"
        return await api().post(f"/incidents/{incident}/acknowledge")

The API enforces scopes, guards and the policy's agent rules; `scope` here only labels the
tool (listing hides tools the agent's token cannot use). Another package adds its tools the
same way in its own module (e.g. `warroom/oncall/agent_tools.py`) and imports that module from
its plugin module, so the tools are registered whenever plugins load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from warroom.agents.context import api
from warroom.core.vocab import IncidentType, Role, Status

IncidentRef = Annotated[
    str, Field(description="The incident's id, e.g. INC-20261123-001", max_length=40)
]
ToolFn = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: ToolFn
    scope: Literal["viewer", "responder"]
    title: str
    destructive: bool = False

    @property
    def read_only(self) -> bool:
        return self.scope == "viewer"


TOOLS: list[ToolSpec] = []


def tool(
    *, scope: Literal["viewer", "responder"], title: str, destructive: bool = False
) -> Callable[[ToolFn], ToolFn]:
    """Register an async function as an agent tool (its docstring is the description)."""

    def register(fn: ToolFn) -> ToolFn:
        TOOLS.append(ToolSpec(fn.__name__, fn, scope, title, destructive))
        return fn

    return register


Answers = Annotated[
    dict[str, bool | float],
    Field(
        description=(
            "Assessment answers (omit what you do not know): complete_outage, data_loss, "
            "security_breach, users_affected_pct (0-100), workaround, customer_facing, "
            "data_at_risk, performance_only, third_party, recent_deploy, infrastructure"
        )
    ),
]


# ---- reading ---------------------------------------------------------------------------


@tool(scope="viewer", title="List incidents")
async def list_incidents(
    status: Annotated[list[Status] | None, Field(description="Only these statuses")] = None,
    severity: Annotated[list[str] | None, Field(description="Only these severities")] = None,
    service: Annotated[str | None, Field(description="Only incidents on this service")] = None,
    open: Annotated[bool | None, Field(description="true: open only; false: done only")] = None,
    text: Annotated[str | None, Field(description="Search title, summary, id")] = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """List incidents, newest first, with their severity and status."""
    return dict(
        await api().get(
            "/incidents",
            status=[s.value for s in status or []],
            severity=severity or [],
            service=service,
            open=None if open is None else str(open).lower(),
            q=text,
            limit=limit,
        )
    )


@tool(scope="viewer", title="Get an incident")
async def get_incident(incident: IncidentRef) -> dict[str, Any]:
    """One incident: state, roles (and the roles still missing), targets, next update due,
    post-mortem, and the moves allowed from its status."""
    return dict(await api().get(f"/incidents/{incident}"))


@tool(scope="viewer", title="Read the timeline")
async def get_timeline(
    incident: IncidentRef,
    last: Annotated[int | None, Field(ge=1, le=1000, description="Only the last N events")] = None,
) -> dict[str, Any]:
    """The incident's timeline: every event, oldest first, with who did it."""
    data = dict(await api().get(f"/incidents/{incident}/timeline"))
    if last is not None:
        data["events"] = data["events"][-last:]
    return data


@tool(scope="viewer", title="Read the policy")
async def get_policy() -> dict[str, Any]:
    """The incident policy in force: severities, targets, update cadence, roles required,
    escalation, resolution checklist and what agents may do."""
    return dict(await api().get("/policy"))


@tool(scope="viewer", title="Propose severity and type")
async def propose_triage(answers: Answers) -> dict[str, Any]:
    """Propose a severity and type from the assessment answers, with the policy rule that
    decided each. Changes nothing; record it with `record_triage`."""
    return dict(await api().post("/triage", answers))


# ---- working an incident -----------------------------------------------------------------


@tool(scope="responder", title="Declare an incident")
async def declare_incident(
    title: Annotated[str, Field(min_length=1, max_length=300)],
    summary: Annotated[str, Field(max_length=20000)] = "",
    severity: Annotated[
        str | None, Field(description="A severity id or alias; omit to triage from answers")
    ] = None,
    type: IncidentType | None = None,
    services: Annotated[list[str] | None, Field(description="Affected services")] = None,
    answers: Answers | None = None,
    override_reason: Annotated[
        str | None, Field(description="Why the severity differs from the triage proposal")
    ] = None,
) -> dict[str, Any]:
    """Declare an incident. Give a severity, or the triage answers to let the policy decide."""
    body: dict[str, Any] = {"title": title, "summary": summary, "services": services or []}
    if severity is not None:
        body["severity"] = severity
    if type is not None:
        body["type"] = type.value
    if answers:
        body["triage"] = answers
    if override_reason:
        body["override_reason"] = override_reason
    return dict(await api().post("/incidents", body))


@tool(scope="responder", title="Record a triage")
async def record_triage(
    incident: IncidentRef,
    answers: Answers,
    severity: Annotated[str | None, Field(description="Override the proposed severity")] = None,
    type: Annotated[IncidentType | None, Field(description="Override the proposed type")] = None,
    override_reason: Annotated[str | None, Field(description="Needed when overriding")] = None,
) -> dict[str, Any]:
    """Record the triage on an incident: the proposal from the answers, or your override
    with a reason."""
    body: dict[str, Any] = {"answers": answers}
    if severity is not None:
        body["severity"] = severity
    if type is not None:
        body["type"] = type.value
    if override_reason:
        body["override_reason"] = override_reason
    return dict(await api().post(f"/incidents/{incident}/triage", body))


@tool(scope="responder", title="Add a note")
async def add_note(
    incident: IncidentRef, text: Annotated[str, Field(min_length=1, max_length=20000)]
) -> dict[str, Any]:
    """Add a note to the timeline: a finding, a decision, what you are trying next."""
    return dict(await api().post(f"/incidents/{incident}/notes", {"text": text}))


@tool(scope="responder", title="Acknowledge")
async def acknowledge_incident(incident: IncidentRef) -> dict[str, Any]:
    """Acknowledge a triggered or reopened incident (stops its escalation)."""
    return dict(await api().post(f"/incidents/{incident}/acknowledge"))


@tool(scope="responder", title="Change status")
async def set_status(
    incident: IncidentRef,
    status: Annotated[
        Literal["investigating", "identified", "mitigating", "monitoring"],
        Field(description="The working status to move to"),
    ],
    reason: Annotated[str | None, Field(max_length=2000)] = None,
) -> dict[str, Any]:
    """Move an incident to a working status (investigating, identified, mitigating,
    monitoring). Resolve and close have their own tools."""
    body: dict[str, Any] = {"status": status}
    if reason:
        body["reason"] = reason
    return dict(await api().post(f"/incidents/{incident}/status", body))


@tool(scope="responder", title="Change severity")
async def change_severity(
    incident: IncidentRef,
    severity: Annotated[str, Field(description="A severity id or alias from the policy")],
    reason: Annotated[str, Field(min_length=1, max_length=2000)],
) -> dict[str, Any]:
    """Raise or lower the severity, with the reason (paging and cadence follow the policy)."""
    body = {"severity": severity, "reason": reason}
    return dict(await api().post(f"/incidents/{incident}/severity", body))


@tool(scope="responder", title="Assign a role")
async def assign_role(
    incident: IncidentRef,
    role: Role,
    person: Annotated[
        str | None, Field(description="Who takes the role; omit to clear it", max_length=200)
    ] = None,
) -> dict[str, Any]:
    """Assign an incident role (commander, deployer, investigator, communications_lead,
    executive_liaison, verifier, scribe) to a person, or clear it."""
    body = {"role": role.value, "person": person}
    return dict(await api().post(f"/incidents/{incident}/roles", body))


@tool(scope="responder", title="Set a condition flag")
async def set_flag(
    incident: IncidentRef,
    flag: Annotated[
        str,
        Field(description="e.g. data_breach_suspected, user_data_affected, mitigation_exhausted"),
    ],
    value: bool = True,
    reason: Annotated[str | None, Field(max_length=2000)] = None,
) -> dict[str, Any]:
    """Set or clear a condition flag; the policy's condition-based escalations react to it."""
    body: dict[str, Any] = {"flag": flag, "value": value}
    if reason:
        body["reason"] = reason
    return dict(await api().post(f"/incidents/{incident}/flags", body))


@tool(scope="responder", title="Resolve")
async def resolve_incident(
    incident: IncidentRef,
    summary: Annotated[str, Field(description="What was wrong and what fixed it")],
    confirmed: Annotated[
        list[str] | None,
        Field(description="Checklist item ids you have confirmed (see the policy)"),
    ] = None,
    waived: Annotated[
        dict[str, str] | None,
        Field(description="Checklist item id -> the reason for waiving it"),
    ] = None,
) -> dict[str, Any]:
    """Resolve an incident with a summary and the policy's resolution checklist: confirm each
    item, or waive it with a reason."""
    checklist: dict[str, Any] = {item: {"confirmed": True} for item in confirmed or []}
    for item, reason in (waived or {}).items():
        checklist[item] = {"waived": reason}
    body = {"summary": summary, "checklist": checklist}
    return dict(await api().post(f"/incidents/{incident}/resolve", body))


@tool(scope="responder", title="Schedule the post-mortem")
async def schedule_postmortem(
    incident: IncidentRef,
    owner: Annotated[str, Field(min_length=1, max_length=200)],
    due_at: Annotated[str, Field(description="ISO 8601 date-time, e.g. 2026-11-25T17:00:00Z")],
) -> dict[str, Any]:
    """Schedule the post-mortem: who writes it and by when."""
    body = {"owner": owner, "due_at": due_at}
    return dict(await api().post(f"/incidents/{incident}/postmortem/schedule", body))


@tool(scope="responder", title="Close", destructive=True)
async def close_incident(incident: IncidentRef) -> dict[str, Any]:
    """Close a resolved incident. Refused while a required post-mortem is not done."""
    return dict(await api().post(f"/incidents/{incident}/close"))


@tool(scope="responder", title="Reopen")
async def reopen_incident(
    incident: IncidentRef, reason: Annotated[str, Field(min_length=1, max_length=2000)]
) -> dict[str, Any]:
    """Reopen a resolved or closed incident, with the reason it is back."""
    return dict(await api().post(f"/incidents/{incident}/reopen", {"reason": reason}))


# Tools that wait for a capability still being built (see docs/agents.md).
PENDING: dict[str, str] = {
    "who_is_on_call": "on-call schedules (oncall)",
    "page": "paging and escalation policies (oncall)",
    "suspected_changes": "change records and correlation (changes)",
    "suggest_mitigations": "mitigations and rollback commands (changes/runbooks)",
    "run_runbook_step": "runbooks with approval gates (runbooks)",
    "draft_status_update": "status updates and the status page (statuspage)",
    "publish_status_update": "status page publishing (statuspage; agents.may_publish_public)",
    "draft_postmortem": "post-mortem drafts (postmortems)",
    "similar_incidents": "similar past incidents (postmortems/metrics)",
    "metrics": "MTTx metrics (metrics)",
}
