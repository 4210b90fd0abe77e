"""REST endpoints for incidents under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from warroom.api.deps import Cursor, PrincipalDep, RuntimeDep
from warroom.core.vocab import Status
from warroom.incidents import schemas
from warroom.incidents.model import IncidentState
from warroom.incidents.views import event_view, incident_view

router = APIRouter(prefix="/api/v1", tags=["incidents"])


def _view(runtime: Any, state: IncidentState) -> dict[str, Any]:
    return incident_view(state, runtime.policy, runtime.clock.now())


@router.get("/incidents", summary="List incidents (newest first)")
def list_incidents(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: Annotated[list[Status] | None, Query()] = None,
    severity: Annotated[list[str] | None, Query()] = None,
    service: str | None = None,
    open: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    principal.require("viewer")
    flt = schemas.ListFilter(
        status=status or [],
        severity=severity or [],
        service=service,
        open=open,
        q=q,
        limit=limit,
        before_id=cursor,
    )
    page = runtime.incidents.search(flt)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/incidents", status_code=201, summary="Declare an incident")
def declare(
    runtime: RuntimeDep, principal: PrincipalDep, body: schemas.DeclareIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.declare(principal, body))


@router.get("/incidents/{incident_id}", summary="One incident with its policy view")
def get_incident(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return _view(runtime, runtime.incidents.get(incident_id))


@router.get("/incidents/{incident_id}/timeline", summary="The incident's events")
def timeline(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    order: Annotated[str, Query(pattern="^(occurred|recorded)$")] = "occurred",
) -> dict[str, Any]:
    principal.require("viewer")
    events = runtime.incidents.timeline(incident_id, order=order)
    return {"id": incident_id.upper(), "events": [event_view(e) for e in events]}


@router.patch("/incidents/{incident_id}", summary="Update title, summary, services, labels, impact")
def update_details(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.DetailsIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.update_details(principal, incident_id, body))


@router.post("/incidents/{incident_id}/acknowledge", summary="Acknowledge")
def acknowledge(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.acknowledge(principal, incident_id))


@router.post("/incidents/{incident_id}/status", summary="Move to a working status")
def move(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.StatusIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.move(principal, incident_id, body))


@router.post("/incidents/{incident_id}/severity", summary="Change severity")
def severity(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.SeverityIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.change_severity(principal, incident_id, body))


@router.post("/incidents/{incident_id}/type", summary="Change incident type")
def change_type(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.TypeIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.change_type(principal, incident_id, body))


@router.post("/incidents/{incident_id}/roles", summary="Assign (or clear) a role")
def assign_role(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.RoleIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.assign_role(principal, incident_id, body))


@router.post("/incidents/{incident_id}/notes", status_code=201, summary="Add a note")
def add_note(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.NoteIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.add_note(principal, incident_id, body))


@router.post("/incidents/{incident_id}/resolve", summary="Resolve with summary and checklist")
def resolve(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.ResolveIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.resolve(principal, incident_id, body))


@router.post("/incidents/{incident_id}/close", summary="Close")
def close(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.close(principal, incident_id))


@router.post("/incidents/{incident_id}/reopen", summary="Reopen with a reason")
def reopen(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.ReasonIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.reopen(principal, incident_id, body))


@router.post("/incidents/{incident_id}/postmortem/schedule", summary="Schedule the post-mortem")
def schedule_postmortem(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    body: schemas.PostmortemScheduleIn,
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.schedule_postmortem(principal, incident_id, body))


@router.post("/incidents/{incident_id}/triage", summary="Record a triage (confirm or override)")
def record_triage(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.TriageRecordIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.record_triage(principal, incident_id, body))


@router.post("/incidents/{incident_id}/milestones", summary="Correct a milestone (backdate)")
def correct_milestone(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.MilestoneIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.correct_milestone(principal, incident_id, body))


@router.post("/incidents/{incident_id}/flags", summary="Set a condition flag")
def set_flag(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.FlagIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.set_flag(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/stops/{rule}/acknowledge",
    summary="Acknowledge a raised MUST STOP with the decision taken",
)
def acknowledge_stop(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    rule: str,
    body: schemas.StopAckIn,
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.acknowledge_stop(principal, incident_id, rule, body))


@router.post("/triage", summary="Propose severity and type from the assessment answers")
def propose_triage(
    runtime: RuntimeDep, principal: PrincipalDep, body: schemas.TriageIn
) -> dict[str, Any]:
    principal.require("viewer")
    proposal = runtime.incidents.propose_triage(body)
    return {
        "severity": proposal.severity,
        "type": proposal.type.value,
        "severity_rule": proposal.severity_rule,
        "type_rule": proposal.type_rule,
        "reasons": proposal.reasons,
    }
