"""Authenticated REST endpoints: status updates, reports, and status page administration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.comms import report as reports
from warroom.comms.statuspage import (
    ComponentIn,
    ComponentPatch,
    MaintenanceIn,
    PublicIncidentIn,
    PublicUpdateIn,
    StatusPage,
    SubscribeIn,
)
from warroom.comms.updates import UpdateIn
from warroom.core.auth import Principal
from warroom.core.guardrails import require_agent_permission
from warroom.core.runtime import Runtime
from warroom.notify.delivery import channel_of

router = APIRouter(prefix="/api/v1", tags=["communications"])


def _comms(runtime: Runtime) -> Any:
    return runtime.comms


def _public(principal: Principal, runtime: Runtime, action: str) -> None:
    """The public status page: an agent writes to it only if the policy grants it."""
    require_agent_permission(principal, runtime.policy, "may_publish_public", action)


def _page(runtime: Runtime) -> StatusPage:
    page: StatusPage = runtime.comms.statuspage
    return page


@router.post("/incidents/{incident_id}/updates", status_code=201, summary="Publish a status update")
def publish_update(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: UpdateIn
) -> dict[str, Any]:
    result: dict[str, Any] = _comms(runtime).service.publish(principal, incident_id, body)
    return result


@router.post("/incidents/{incident_id}/updates/preview", summary="Render an update, send nothing")
def preview_update(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: UpdateIn
) -> dict[str, Any]:
    principal.require("viewer")
    result: dict[str, Any] = _comms(runtime).service.preview(incident_id, body)
    return result


@router.get(
    "/incidents/{incident_id}/updates/initial",
    summary="The drafted initial 'Investigating' update (nothing is sent)",
)
def initial_update_draft(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    principal.require("viewer")
    result: dict[str, Any] = _comms(runtime).service.draft_initial(incident_id)
    return result


@router.post(
    "/incidents/{incident_id}/updates/initial",
    status_code=201,
    summary="Publish the drafted initial 'Investigating' update",
)
def publish_initial_update(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    service = _comms(runtime).service
    result: dict[str, Any] = service.publish(
        principal, incident_id, service.initial_update(incident_id)
    )
    return result


@router.get("/incidents/{incident_id}/updates", summary="The incident's published updates")
def list_updates(runtime: RuntimeDep, principal: PrincipalDep, incident_id: str) -> dict[str, Any]:
    principal.require("viewer")
    return {"id": incident_id.upper(), "items": _comms(runtime).service.updates(incident_id)}


@router.post(
    "/incidents/{incident_id}/report", status_code=201, summary="Write the incident report"
)
def write_report(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    format: Annotated[str, Query(pattern="^(md|html)$")] = "md",
) -> dict[str, Any]:
    principal.require("responder")
    state = runtime.incidents.get(incident_id)
    events = runtime.incidents.timeline(incident_id)
    now = runtime.clock.now()
    data = reports.build(state, events, runtime.policy, now)
    text = reports.to_markdown(data) if format == "md" else reports.to_html(data)
    if runtime.settings.database_url is None:
        runtime.settings.ensure_data_dir()
    path = reports.save(runtime.settings.data_dir, data, text, format, now)
    return {"id": state.public_id, "format": format, "path": str(path.resolve()), "content": text}


@router.get("/comms/stakeholders", summary="Stakeholder groups (channels only, never URLs)")
def stakeholders(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    groups = _comms(runtime).config.stakeholders
    return {
        "items": [
            {
                "name": g.name,
                "channels": [channel_of(u) for u in g.urls],
                "severities": list(g.severities),
                "services": list(g.services),
                "format": g.format,
                "updates": g.updates,
                "resolution": g.resolution,
            }
            for g in groups
        ]
    }


# ---- status page administration --------------------------------------------------------


@router.get("/statuspage/components", tags=["status page"], summary="Components")
def list_components(
    runtime: RuntimeDep, principal: PrincipalDep, archived: bool = False
) -> dict[str, Any]:
    principal.require("viewer")
    return {"items": _page(runtime).list_components(archived=archived)}


@router.post("/statuspage/components", status_code=201, tags=["status page"])
def create_component(
    runtime: RuntimeDep, principal: PrincipalDep, body: ComponentIn
) -> dict[str, Any]:
    _public(principal, runtime, "change the public status page")
    return _page(runtime).create_component(principal, body)


@router.patch("/statuspage/components/{slug}", tags=["status page"])
def update_component(
    runtime: RuntimeDep, principal: PrincipalDep, slug: str, body: ComponentPatch
) -> dict[str, Any]:
    _public(principal, runtime, "change the public status page")
    return _page(runtime).update_component(principal, slug, body)


@router.post(
    "/statuspage/components/sync",
    tags=["status page"],
    summary="Add missing catalog services as draft components (admin)",
)
def sync_components(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    page = _page(runtime)
    added = page.sync(principal)
    return {"added": added, "items": page.list_components()}


@router.post(
    "/statuspage/components/{slug}/publish",
    tags=["status page"],
    summary="Publish a draft component: it appears on the public page (admin)",
)
def publish_component(runtime: RuntimeDep, principal: PrincipalDep, slug: str) -> dict[str, Any]:
    _public(principal, runtime, "change the public status page")
    return _page(runtime).publish_component(principal, slug)


@router.post(
    "/statuspage/components/{slug}/unpublish",
    tags=["status page"],
    summary="Take a component back to draft: off every public page (admin)",
)
def unpublish_component(runtime: RuntimeDep, principal: PrincipalDep, slug: str) -> dict[str, Any]:
    _public(principal, runtime, "change the public status page")
    return _page(runtime).publish_component(principal, slug, published=False)


@router.get("/statuspage/incidents", tags=["status page"], summary="Public incidents")
def list_public_incidents(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    from warroom.comms import views

    snapshot = _page(runtime).snapshot()
    return {"items": [views.incident_json(snapshot, i) for i in snapshot.incidents]}


@router.post("/statuspage/incidents", status_code=201, tags=["status page"])
def create_public_incident(
    runtime: RuntimeDep, principal: PrincipalDep, body: PublicIncidentIn
) -> dict[str, Any]:
    _public(principal, runtime, "publish a public incident")
    return _page(runtime).create_incident(principal, body)


@router.post("/statuspage/incidents/{code}/updates", status_code=201, tags=["status page"])
def add_public_update(
    runtime: RuntimeDep, principal: PrincipalDep, code: str, body: PublicUpdateIn
) -> dict[str, Any]:
    _public(principal, runtime, "publish a public update")
    return _page(runtime).add_incident_update(principal, code, body)


@router.get("/statuspage/maintenances", tags=["status page"])
def list_maintenances(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    from warroom.comms import views

    snapshot = _page(runtime).snapshot()
    return {"items": [views.maintenance_json(snapshot, m) for m in snapshot.maintenances]}


@router.post("/statuspage/maintenances", status_code=201, tags=["status page"])
def schedule_maintenance(
    runtime: RuntimeDep, principal: PrincipalDep, body: MaintenanceIn
) -> dict[str, Any]:
    _public(principal, runtime, "publish a maintenance")
    return _page(runtime).schedule_maintenance(principal, body)


@router.delete("/statuspage/maintenances/{code}", tags=["status page"])
def cancel_maintenance(runtime: RuntimeDep, principal: PrincipalDep, code: str) -> dict[str, Any]:
    _public(principal, runtime, "change the public status page")
    _page(runtime).cancel_maintenance(principal, code)
    return {"id": code, "cancelled": True}


@router.get("/statuspage/subscribers", tags=["status page"])
def list_subscribers(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"items": _page(runtime).list_subscribers(principal)}


@router.post("/statuspage/subscribers", status_code=202, tags=["status page"])
def add_subscriber(
    runtime: RuntimeDep, principal: PrincipalDep, body: SubscribeIn
) -> dict[str, Any]:
    """Add a subscriber; they still confirm through the link they receive."""
    principal.require("admin")
    return _page(runtime).subscribe(body)


@router.delete("/statuspage/subscribers/{subscriber_id}", tags=["status page"])
def remove_subscriber(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    subscriber_id: Annotated[int, Path(ge=1, le=2**62)],
) -> dict[str, Any]:
    _page(runtime).remove_subscriber(principal, subscriber_id)
    return {"id": subscriber_id, "unsubscribed": True}
