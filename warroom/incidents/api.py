"""REST endpoints for incidents under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import DEFAULT_LIMIT, CursorToken, Keyset, Limit, set_next_link
from warroom.core.vocab import Status
from warroom.incidents import schemas
from warroom.incidents.model import IncidentState
from warroom.incidents.responses import Incident, IncidentList, Timeline, TriageProposal
from warroom.incidents.views import event_view, incident_view

router = APIRouter(prefix="/api/v1", tags=["incidents"], route_class=ApiRoute)
INCIDENTS = Keyset("incidents", ("int",), descending=True)


def _view(runtime: Any, state: IncidentState) -> dict[str, Any]:
    return incident_view(state, runtime.policy, runtime.clock.now())


@router.get("/incidents", response_model=IncidentList, summary="List incidents (newest first)")
def list_incidents(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: Annotated[list[Status] | None, Query()] = None,
    severity: Annotated[list[str] | None, Query()] = None,
    service: str | None = None,
    open: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
    *,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    principal.require("viewer")
    start = INCIDENTS.decode(cursor)
    flt = schemas.ListFilter(
        status=status or [],
        severity=severity or [],
        service=service,
        open=open,
        q=q,
        limit=limit,
        before_id=int(start[0]) if start else None,
    )
    page = runtime.incidents.search(flt)
    set_next_link(request, response, None if page.next_cursor is None else str(page.next_cursor))
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/incidents", response_model=Incident, status_code=201, summary="Declare an incident")
def declare(
    runtime: RuntimeDep, principal: PrincipalDep, body: schemas.DeclareIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.declare(principal, body))


@router.get(
    "/incidents/{incident_id}", response_model=Incident, summary="One incident with its policy view"
)
def get_incident(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return _view(runtime, runtime.incidents.get(incident_id))


@router.get(
    "/incidents/{incident_id}/timeline", response_model=Timeline, summary="The incident's events"
)
def timeline(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    order: Annotated[str, Query(pattern="^(occurred|recorded)$")] = "occurred",
) -> dict[str, Any]:
    principal.require("viewer")
    events = runtime.incidents.timeline(incident_id, order=order)
    return {"id": incident_id.upper(), "events": [event_view(e) for e in events]}


@router.patch(
    "/incidents/{incident_id}",
    response_model=Incident,
    summary="Update title, summary, services, labels, impact",
)
def update_details(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.DetailsIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.update_details(principal, incident_id, body))


@router.post("/incidents/{incident_id}/acknowledge", response_model=Incident, summary="Acknowledge")
def acknowledge(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.acknowledge(principal, incident_id))


@router.post(
    "/incidents/{incident_id}/status", response_model=Incident, summary="Move to a working status"
)
def move(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.StatusIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.move(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/severity", response_model=Incident, summary="Change severity"
)
def severity(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.SeverityIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.change_severity(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/type", response_model=Incident, summary="Change incident type"
)
def change_type(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.TypeIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.change_type(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/roles", response_model=Incident, summary="Assign (or clear) a role"
)
def assign_role(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.RoleIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.assign_role(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/notes", response_model=Incident, status_code=201, summary="Add a note"
)
def add_note(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.NoteIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.add_note(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/resolve",
    response_model=Incident,
    summary="Resolve with summary and checklist",
)
def resolve(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.ResolveIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.resolve(principal, incident_id, body))


@router.post("/incidents/{incident_id}/close", response_model=Incident, summary="Close")
def close(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.close(principal, incident_id))


@router.post(
    "/incidents/{incident_id}/reopen", response_model=Incident, summary="Reopen with a reason"
)
def reopen(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.ReasonIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.reopen(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/postmortem/schedule",
    response_model=Incident,
    summary="Schedule the post-mortem",
)
def schedule_postmortem(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    body: schemas.PostmortemScheduleIn,
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.schedule_postmortem(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/triage",
    response_model=Incident,
    summary="Record a triage (confirm or override)",
)
def record_triage(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.TriageRecordIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.record_triage(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/milestones",
    response_model=Incident,
    summary="Correct a milestone (backdate)",
)
def correct_milestone(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.MilestoneIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.correct_milestone(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/flags", response_model=Incident, summary="Set a condition flag"
)
def set_flag(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.FlagIn
) -> dict[str, Any]:
    return _view(runtime, runtime.incidents.set_flag(principal, incident_id, body))


@router.post(
    "/incidents/{incident_id}/stops/{rule}/acknowledge",
    response_model=Incident,
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


@router.post(
    "/triage",
    response_model=TriageProposal,
    summary="Propose severity and type from the assessment answers",
)
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
