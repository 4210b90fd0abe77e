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
from warroom.core.vocab import TRIAGE_KEYS, IncidentType, Role, Status

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
            "Assessment answers (omit what you do not know): "
            + ", ".join(TRIAGE_KEYS)
            + ", users_affected_pct (0-100)"
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
    decided each. Changes nothing; record it with `record_triage`. With every answer unknown
    no severity is proposed (`severity` is null, rule `unanswered`): find out at least one
    answer, or have a person choose the severity."""
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
    if answers is not None:  # `{}` (nothing known) is refused: no severity to propose
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
    reason: Annotated[
        str | None, Field(max_length=2000, description="Why a due date already set moves")
    ] = None,
) -> dict[str, Any]:
    """Schedule the post-mortem: who writes it and by when."""
    body = {"owner": owner, "due_at": due_at, **({"reason": reason} if reason else {})}
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


# ---- on-call, changes, runbooks ----------------------------------------------------------

StepRef = Annotated[str, Field(description="A 1-based step number or a step id", max_length=80)]
RunbookRef = Annotated[str, Field(description="The runbook's id", max_length=120)]


@tool(scope="viewer", title="Who is on call")
async def who_is_on_call(
    schedule: Annotated[str | None, Field(description="Only this schedule")] = None,
    at: Annotated[str | None, Field(description="ISO 8601 time; default now")] = None,
) -> dict[str, Any]:
    """Who is on call now (or at a time), per schedule."""
    return dict(await api().get_all("/oncall/who", schedule=schedule, at=at))


@tool(scope="responder", title="Page someone")
async def page(
    target: Annotated[
        str,
        Field(description="person:NAME, team:NAME, schedule:NAME or manager:TEAM", max_length=200),
    ],
    message: Annotated[str, Field(min_length=1, max_length=4000)],
    severity: Annotated[str | None, Field(description="A severity id or alias")] = None,
) -> dict[str, Any]:
    """Page a person, a team or whoever is on call for a schedule."""
    body = {"target": target, "message": message, "severity": severity}
    return dict(await api().post("/oncall/pages", body))


@tool(scope="viewer", title="Suspected changes")
async def suspected_changes(incident: IncidentRef) -> dict[str, Any]:
    """Recent deploys, config, flag and infra changes correlated with the incident, most
    suspect first, with the reasons."""
    return dict(await api().get(f"/incidents/{incident}/changes"))


@tool(scope="viewer", title="Suggest mitigations")
async def suggest_mitigations(
    incident: IncidentRef,
    signals: Annotated[
        list[str] | None,
        Field(
            description=(
                "What you observe: recent_deploy, stuck, zone_failure, capacity, attack, "
                "feature_broken"
            )
        ),
    ] = None,
) -> dict[str, Any]:
    """Mitigation suggestions from the policy's decision tree (rollback commands included)."""
    path = f"/incidents/{incident}/mitigations/suggestions"
    return dict(await api().get(path, signal=signals or []))


@tool(scope="responder", title="Run a runbook step")
async def run_runbook_step(
    incident: IncidentRef,
    runbook: RunbookRef,
    step: Annotated[
        str | None, Field(description="Step number or id; omit for the automatic steps")
    ] = None,
    note: Annotated[str | None, Field(max_length=4000)] = None,
) -> dict[str, Any]:
    """Run one runbook step (a dangerous step waits for a second responder's approval), or
    the runbook's automatic steps."""
    body = {"step": step, "note": note}
    return dict(await api().post(f"/incidents/{incident}/runbooks/{runbook}/run", body))


@tool(scope="responder", title="Approve a runbook step")
async def approve_runbook_step(
    incident: IncidentRef,
    runbook: RunbookRef,
    step: StepRef,
    note: Annotated[str | None, Field(max_length=4000)] = None,
) -> dict[str, Any]:
    """Approve a step someone else requested. Refused for your own request, and for agents
    unless the policy grants agents.may_approve."""
    body = {"step": step, "note": note}
    return dict(await api().post(f"/incidents/{incident}/runbooks/{runbook}/approve", body))


# ---- communications, post-mortems, learning -------------------------------------------------


def _update(
    status: str,
    impact: str,
    action: str,
    next: str | None,
    cause: str | None,
    public: bool | None,
    note: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "impact": impact, "action": action, "note": note}
    for key, value in (("next", next), ("cause", cause), ("public", public)):
        if value is not None:
            body[key] = value
    return body


UpdateStatusArg = Annotated[
    Literal["investigating", "identified", "mitigating", "monitoring", "resolved"],
    Field(description="The status the update announces"),
]
Impact = Annotated[str, Field(min_length=1, max_length=2000, description="Impact on users")]
Action = Annotated[str, Field(min_length=1, max_length=2000, description="What is being done")]
Next = Annotated[str | None, Field(description="Next update in (30m) or at (ISO)")]
Cause = Annotated[str | None, Field(max_length=2000, description="Known cause, if any")]
Public = Annotated[
    bool | None,
    Field(description="Post to the public status page (default: the severity's policy)"),
]
Note = Annotated[str, Field(max_length=10000, description="Internal only, never public")]


@tool(scope="responder", title="Draft a status update")
async def draft_status_update(
    incident: IncidentRef,
    status: UpdateStatusArg,
    impact: Impact,
    action: Action,
    next: Next = None,
    cause: Cause = None,
    public: Public = None,
    note: Note = "",
) -> dict[str, Any]:
    """Render a status update (internal, public and brief texts, audiences) without sending
    anything. Show it to a person, or publish it with `publish_status_update`."""
    body = _update(status, impact, action, next, cause, public, note)
    return dict(await api().post(f"/incidents/{incident}/updates/preview", body))


@tool(scope="responder", title="Publish a status update")
async def publish_status_update(
    incident: IncidentRef,
    status: UpdateStatusArg,
    impact: Impact,
    action: Action,
    next: Next = None,
    cause: Cause = None,
    public: Public = None,
    note: Note = "",
) -> dict[str, Any]:
    """Publish a status update to its audiences. An update that reaches the public status page
    is refused unless the policy grants agents.may_publish_public; set public=false for an
    internal-only update."""
    body = _update(status, impact, action, next, cause, public, note)
    return dict(await api().post(f"/incidents/{incident}/updates", body))


@tool(scope="responder", title="Draft the post-mortem")
async def draft_postmortem(incident: IncidentRef) -> dict[str, Any]:
    """The incident's post-mortem, drafted from its timeline when it does not exist yet:
    status, owner, due date and the Markdown draft to complete."""
    return dict(await api().post(f"/incidents/{incident}/postmortem"))


@tool(scope="viewer", title="Similar past incidents")
async def similar_incidents(
    incident: IncidentRef, limit: Annotated[int, Field(ge=1, le=50)] = 5
) -> dict[str, Any]:
    """Past incidents like this one, with the reasons they match and what fixed them."""
    return dict(await api().get(f"/incidents/{incident}/similar", limit=limit))


@tool(scope="viewer", title="Incident metrics")
async def metrics(
    since: Annotated[str | None, Field(description="e.g. 30d or an ISO date")] = None,
    until: Annotated[str | None, Field(description="an ISO date; default now")] = None,
    by: Annotated[
        Literal["severity", "service", "team", "type", "week", "month"],
        Field(description="Group by"),
    ] = "severity",
) -> dict[str, Any]:
    """MTTA, MTTR and the other incident metrics, SLA attainment and trends."""
    return dict(await api().get("/metrics", since=since, until=until, by=by))


# Tools that wait for a capability still being built (see docs/agents.md). None now.
PENDING: dict[str, str] = {}
