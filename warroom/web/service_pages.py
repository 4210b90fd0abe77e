"""The service catalog in the browser: every service with its owner team, escalation policy,
who is on call for it now, its open incidents, recent changes and alerts (reads only).

Services come from the config file's catalog; a service that recent incidents, changes or alerts
name but the catalog does not is listed too, marked as not in the catalog, so nothing is hidden.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from warroom.core.errors import InvalidInput, NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.web import pages, views
from warroom.web.pages import PageRuntime, PageSession, render

router = APIRouter(include_in_schema=False)

pages.register_nav("Services", "/services", order=25)

RECENT_CHANGES = 200
RECENT_INCIDENTS = 200


def _on_call(runtime: Runtime, policy_name: str | None, now: datetime) -> dict[str, Any]:
    """The policy (database or config) and who its first level reaches right now."""
    oncall = runtime.oncall
    if not policy_name:
        return {"policy": None, "people": [], "targets": []}
    with runtime.db.read() as conn:
        policy = oncall.policy(conn, policy_name)
        if policy is None:
            return {"policy": None, "missing": policy_name, "people": [], "targets": []}
        targets = list(policy["levels"][0]["targets"]) if policy["levels"] else []
        people: list[str] = []
        for target in targets:
            people += [p for p in oncall.resolve(conn, target, now) if p not in people]
    return {"policy": policy, "people": people, "targets": targets}


def _policy_name(runtime: Runtime, name: str) -> tuple[str | None, bool]:
    """A service's escalation policy (mapped through the API, else the config file's), and
    whether it is the config's default."""
    try:
        mapped = runtime.oncall.escalation.service_policy(name)
    except InvalidInput:  # a name from an alert that is not a catalog slug
        default = runtime.oncall.section.default_escalation_policy
        return default, default is not None
    return mapped["escalation_policy"], mapped["source"] == "default"


def services_context(runtime: Runtime) -> dict[str, Any]:
    now = runtime.clock.now()
    open_by_service: dict[str, list[Any]] = {}
    for state in views.open_states(runtime):
        for name in state.services:
            open_by_service.setdefault(name, []).append(state)
    workbench = runtime.workbench
    changes = workbench.list_changes(limit=RECENT_CHANGES)
    last_change: dict[str, dict[str, Any]] = {}
    change_count: dict[str, int] = {}
    for change in changes:  # newest first
        last_change.setdefault(change["service"], change)
        change_count[change["service"]] = change_count.get(change["service"], 0) + 1
    alerts = runtime.alerts
    alert_counts = alerts.counts_by_service()

    catalog = {s.name: s for s in runtime.config.services}
    recent = runtime.incidents.search(schemas.ListFilter(limit=RECENT_INCIDENTS)).items
    mentioned = {name for item in recent for name in item["services"]}
    seen = mentioned | set(open_by_service) | set(last_change) | set(alert_counts)
    rows = []
    reached: dict[str | None, list[str]] = {}  # services often share a policy
    for name in [*catalog, *sorted(seen - set(catalog))]:
        entry = catalog.get(name)
        policy_name, is_default = _policy_name(runtime, name)
        if policy_name not in reached:
            reached[policy_name] = _on_call(runtime, policy_name, now)["people"]
        rows.append(
            {
                "name": name,
                "in_catalog": entry is not None,
                "description": entry.description if entry else "",
                "owner_team": entry.owner_team if entry else None,
                "tier": entry.tier if entry else None,
                "policy_name": policy_name,
                "policy_is_default": is_default,
                "on_call": reached[policy_name],
                "open_incidents": [
                    {"id": s.public_id, "severity": s.severity, "title": s.title}
                    for s in open_by_service.get(name, [])
                ],
                "last_change": last_change.get(name),
                "changes": change_count.get(name, 0),
                "alerts": alert_counts.get(name, {"open": 0, "attached": 0}),
            }
        )
    return {"services": rows}


@router.get("/services")
def services_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "services.html", services_context(runtime), session=session)


def service_context(runtime: Runtime, name: str) -> dict[str, Any]:
    now = runtime.clock.now()
    entry = runtime.config.service(name)
    workbench = runtime.workbench
    alerts = runtime.alerts
    changes = workbench.list_changes(service=name, limit=20)
    alert_counts = alerts.counts_by_service().get(name)
    flt = schemas.ListFilter(service=name, limit=20)
    incidents = runtime.incidents.search(flt).items
    if entry is None and not changes and not alert_counts and not incidents:
        raise NotFound(f"no service {name!r} in the catalog, and nothing mentions it")
    policy_name, is_default = _policy_name(runtime, name)
    oncall = runtime.oncall
    team = None
    if entry is not None and entry.owner_team:
        try:
            team = oncall.show("team", entry.owner_team)
        except NotFound:
            team = None
    open_alerts: list[dict[str, Any]] = []
    recent, _ = alerts.list_alerts(status="open", limit=200)
    open_alerts = [a for a in recent if a.get("service") == name][:20]
    return {
        "name": name,
        "service": entry,
        "team": team,
        "policy_name": policy_name,
        "policy_is_default": is_default,
        "on_call": _on_call(runtime, policy_name, now),
        "escalation_policies": [p["name"] for p in runtime.oncall.list_policies()],
        # A mapping is only taken for the catalog's services (or any, without a catalog).
        "can_map_policy": entry is not None or not runtime.config.services,
        "incidents": incidents,
        "open_incidents": [i for i in incidents if i.get("status") not in ("resolved", "closed")],
        "changes": changes,
        "alert_counts": alert_counts or {"open": 0, "attached": 0},
        "open_alerts": open_alerts,
        "dependents": [s.name for s in runtime.config.services if name in s.dependencies],
    }


@router.get("/services/{name}")
def service_page(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> HTMLResponse:
    context = service_context(runtime, name.strip()[:120])
    return render(request, "service.html", context, session=session)


@router.post("/services/{name}/escalation-policy")
async def service_policy_update(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    """Which escalation policy pages for the service (the on-call service writes it)."""
    form = await request.form()
    service = name.strip()[:120]

    def run() -> None:
        principal = pages.form_principal(session, form)
        policy = str(form.get("escalation_policy") or "").strip()[:80]
        runtime.oncall.escalation.set_service_policy(principal, service, policy)

    try:
        await run_in_threadpool(run)
    except WarroomError as exc:
        context = {**service_context(runtime, service), "error": exc.message}
        return render(
            request, "service.html", context, status_code=exc.status_code, session=session
        )
    return RedirectResponse(f"/services/{service}", status_code=303)
