"""REST endpoints of the workbench under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.core.inputs import Moment
from warroom.core.runtime import Runtime
from warroom.workbench import schemas
from warroom.workbench.service import Workbench

router = APIRouter(prefix="/api/v1", tags=["workbench"])


def _wb(runtime: Runtime) -> Workbench:
    workbench: Workbench = runtime.workbench
    return workbench


@router.get("/runbooks", summary="Runbooks (built-in and from the config directory)")
def list_runbooks(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    wb = _wb(runtime)
    return {"items": wb.list_runbooks(), "problems": [p.to_dict() for p in wb.problems]}


@router.get("/runbooks/{runbook_id}", summary="One runbook with its steps")
def show_runbook(runtime: RuntimeDep, principal: PrincipalDep, runbook_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).show(runbook_id)


@router.get("/incidents/{incident_id}/runbooks", summary="Runbooks that match the incident")
def matching_runbooks(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    principal.require("viewer")
    wb = _wb(runtime)
    state = runtime.incidents.get(incident_id)
    return {
        "incident": state.public_id,
        "items": [wb.show(r.runbook.id) for r in wb.matching(state)],
    }


@router.post(
    "/incidents/{incident_id}/runbooks/{runbook_id}/run",
    summary="Run one step, or the runbook's automatic steps",
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
)
def approve_step(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    runbook_id: str,
    body: schemas.ApproveIn,
) -> dict[str, Any]:
    return _wb(runtime).approve(principal, incident_id, runbook_id, body)


@router.post("/changes", status_code=201, summary="Record a deploy/config/flag/infra change")
def record_change(
    runtime: RuntimeDep, principal: PrincipalDep, body: schemas.ChangeIn
) -> dict[str, Any]:
    return _wb(runtime).record_change(principal, body)


@router.get("/changes", summary="Recorded changes, newest first")
def list_changes(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    service: str | None = None,
    since: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    principal.require("viewer")
    return {"items": _wb(runtime).list_changes(service=service, since=since, limit=limit)}


@router.get("/incidents/{incident_id}/changes", summary="Changes correlated with the incident")
def incident_changes(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).incident_changes(incident_id)


@router.get(
    "/incidents/{incident_id}/mitigations/suggestions",
    summary="Mitigation suggestions from the decision tree",
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
    "/incidents/{incident_id}/mitigations", status_code=201, summary="Record a mitigation tried"
)
def record_mitigation(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.MitigationIn
) -> dict[str, Any]:
    return _wb(runtime).record_mitigation(principal, incident_id, body)


@router.get("/incidents/{incident_id}/hotfixes", summary="Hotfixes and their gates")
def list_hotfixes(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return {"items": _wb(runtime).list_hotfixes(incident_id)}


@router.post(
    "/incidents/{incident_id}/hotfixes", status_code=201, summary="Record a hotfix and its gates"
)
def record_hotfix(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.HotfixIn
) -> dict[str, Any]:
    return _wb(runtime).record_hotfix(principal, incident_id, body)


@router.post("/incidents/{incident_id}/hotfixes/{name}/gates", summary="Answer hotfix gates")
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
)
def hotfix_rollout(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    name: str,
    body: schemas.RolloutIn,
) -> dict[str, Any]:
    return _wb(runtime).hotfixes.rollout(principal, incident_id, name, body)


@router.post("/incidents/{incident_id}/hotfixes/{name}/deploy", summary="Deploy a hotfix")
def deploy_hotfix(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, name: str
) -> dict[str, Any]:
    return _wb(runtime).deploy_hotfix(principal, incident_id, name)


@router.get("/incidents/{incident_id}/verification", summary="Verification windows and outcome")
def verification(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return _wb(runtime).verification_status(incident_id)


@router.post("/incidents/{incident_id}/verification/confirm", summary="Confirm stability by hand")
def confirm_verification(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: schemas.ConfirmIn
) -> dict[str, Any]:
    return _wb(runtime).confirm_verification(principal, incident_id, body)
