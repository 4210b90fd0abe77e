"""REST endpoints of the workbench under /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import (
    DEFAULT_LIMIT,
    CursorToken,
    Keyset,
    Limit,
    close_page,
    page_in_order,
)
from warroom.core.inputs import Moment
from warroom.core.runtime import Runtime
from warroom.workbench import responses as out
from warroom.workbench import schemas
from warroom.workbench.service import Workbench

router = APIRouter(prefix="/api/v1", tags=["workbench"], route_class=ApiRoute)
RUNBOOKS = Keyset("runbooks", ("int", "str"))
MATCHING = Keyset("matching-runbooks", ("int", "str"))
CHANGES = Keyset("changes", ("str", "int"), descending=True)
HOTFIXES = Keyset("hotfixes", ("int", "str"))


def _wb(runtime: Runtime) -> Workbench:
    workbench: Workbench = runtime.workbench
    return workbench


@router.get(
    "/runbooks",
    summary="Runbooks (built-in and from the config directory)",
    response_model=out.RunbookList,
)
def list_runbooks(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    wb = _wb(runtime)
    page = page_in_order(
        wb.list_runbooks(),
        RUNBOOKS,
        lambda r: str(r["id"]),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page, "problems": [p.to_dict() for p in wb.problems]}


@router.get(
    "/runbooks/{runbook_id}", summary="One runbook with its steps", response_model=out.Runbook
)
def show_runbook(runtime: RuntimeDep, principal: PrincipalDep, runbook_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).show(runbook_id)


@router.get(
    "/incidents/{incident_id}/runbooks",
    summary="Runbooks that match the incident",
    response_model=out.MatchingRunbooks,
)
def matching_runbooks(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    wb = _wb(runtime)
    state = runtime.incidents.get(incident_id)
    page = page_in_order(
        [r.runbook.id for r in wb.matching(state)],
        MATCHING,
        str,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"incident": state.public_id, "items": [wb.show(runbook_id) for runbook_id in page]}


@router.post(
    "/incidents/{incident_id}/runbooks/{runbook_id}/run",
    summary="Run one step, or the runbook's automatic steps",
    response_model=out.RunbookRun,
)
def run_runbook(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    runbook_id: str,
    body: schemas.RunIn,
) -> dict[str, Any]:
    return _wb(runtime).run(principal, incident_id, runbook_id, body)


@router.post(
    "/incidents/{incident_id}/runbooks/{runbook_id}/approve",
    summary="Approve a step (a responder other than the requester)",
    response_model=out.StepApproval,
)
def approve_step(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    runbook_id: str,
    body: schemas.ApproveIn,
) -> dict[str, Any]:
    return _wb(runtime).approve(principal, incident_id, runbook_id, body)


@router.post(
    "/changes",
    status_code=201,
    summary="Record a deploy/config/flag/infra change",
    response_model=out.Change,
)
def record_change(
    runtime: RuntimeDep, principal: PrincipalDep, body: schemas.ChangeIn
) -> dict[str, Any]:
    return _wb(runtime).record_change(principal, body)


@router.get("/changes", summary="Recorded changes, newest first", response_model=out.ChangeList)
def list_changes(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    service: str | None = None,
    since: Moment | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    start = CHANGES.decode(cursor)
    before = None
    if start is not None:
        try:
            before = (datetime.fromisoformat(str(start[0])), int(start[1]))
        except ValueError:
            raise CHANGES.refuse(cursor) from None
    rows = _wb(runtime).list_changes(service=service, since=since, limit=limit + 1, before=before)
    page, _ = close_page(
        rows,
        CHANGES,
        lambda c: (str(c["at"]), int(c["id"])),
        limit=limit,
        request=request,
        response=response,
    )
    return {"items": page}


@router.get(
    "/incidents/{incident_id}/changes",
    summary="Changes correlated with the incident",
    response_model=out.IncidentChanges,
)
def incident_changes(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).incident_changes(incident_id)


@router.get(
    "/incidents/{incident_id}/mitigations/suggestions",
    summary="Mitigation suggestions from the decision tree",
    response_model=out.MitigationSuggestions,
)
def mitigation_suggestions(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    signal: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).suggestions(incident_id, signal or [])


@router.post(
    "/incidents/{incident_id}/mitigations",
    status_code=201,
    summary="Record a mitigation tried",
    response_model=out.MitigationRecorded,
)
def record_mitigation(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.MitigationIn
) -> dict[str, Any]:
    return _wb(runtime).record_mitigation(principal, incident_id, body)


@router.get(
    "/incidents/{incident_id}/hotfixes",
    summary="Hotfixes and their gates",
    response_model=out.HotfixList,
)
def list_hotfixes(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    page = page_in_order(
        _wb(runtime).list_hotfixes(incident_id),
        HOTFIXES,
        lambda h: str(h["hotfix"]),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


@router.post(
    "/incidents/{incident_id}/hotfixes",
    status_code=201,
    summary="Record a hotfix and its gates",
    response_model=out.Hotfix,
)
def record_hotfix(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.HotfixIn
) -> dict[str, Any]:
    return _wb(runtime).record_hotfix(principal, incident_id, body)


@router.post(
    "/incidents/{incident_id}/hotfixes/{name}/gates",
    summary="Answer hotfix gates",
    response_model=out.Hotfix,
)
def update_gates(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    name: str,
    body: schemas.GateIn,
) -> dict[str, Any]:
    return _wb(runtime).update_gates(principal, incident_id, name, body)


@router.post(
    "/incidents/{incident_id}/hotfixes/{name}/review",
    summary="Review a hotfix, as the reviewer (never its author)",
    response_model=out.Hotfix,
)
def review_hotfix(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    name: str,
    body: schemas.ReviewIn,
) -> dict[str, Any]:
    return _wb(runtime).hotfixes.review(principal, incident_id, name, body)


@router.post(
    "/incidents/{incident_id}/hotfixes/{name}/pr",
    status_code=202,
    summary="Open the hotfix's emergency pull request on GitHub (by the worker)",
    response_model=out.Hotfix,
)
def open_hotfix_pr(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    name: str,
    body: schemas.PullRequestIn,
) -> dict[str, Any]:
    return _wb(runtime).hotfixes.request_pr(principal, incident_id, name, body)


@router.post(
    "/incidents/{incident_id}/hotfixes/{name}/rollout",
    summary="Promote a hotfix's canary to the full rollout, or halt it",
    response_model=out.Hotfix,
)
def hotfix_rollout(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    name: str,
    body: schemas.RolloutIn,
) -> dict[str, Any]:
    return _wb(runtime).hotfixes.rollout(principal, incident_id, name, body)


@router.post(
    "/incidents/{incident_id}/hotfixes/{name}/deploy",
    summary="Deploy a hotfix",
    response_model=out.Hotfix,
)
def deploy_hotfix(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, name: str
) -> dict[str, Any]:
    return _wb(runtime).deploy_hotfix(principal, incident_id, name)


@router.get(
    "/incidents/{incident_id}/verification",
    summary="Verification windows and outcome",
    response_model=out.Verification,
)
def verification(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).verification_status(incident_id)


@router.post(
    "/incidents/{incident_id}/verification/confirm",
    summary="Confirm stability by hand",
    response_model=out.VerificationConfirmed,
)
def confirm_verification(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.ConfirmIn
) -> dict[str, Any]:
    return _wb(runtime).confirm_verification(principal, incident_id, body)
