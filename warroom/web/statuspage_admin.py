"""The status page admin page: components and their states, public incidents and their
updates, maintenance windows and subscribers, over the comms package's `StatusPage` service.

Writes call the same service methods as `/api/v1/statuspage/...` with the logged-in principal:
the service checks the role (a component's state needs a responder, the rest of a component
an admin, subscribers an admin), and an agent needs the policy's `may_publish_public`. The
public page itself is `/status`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from warroom.core.auth import Principal
from warroom.core.errors import InvalidInput, NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.web import pages
from warroom.web.pages import PageRuntime, PageSession, render
from warroom.web.postmortem_pages import _invalid

router = APIRouter(include_in_schema=False)

pages.register_nav("Status page", "/admin/statuspage", order=60)

BASE = "/admin/statuspage"


def _page(runtime: Runtime) -> Any:
    comms = runtime.comms
    return comms.statuspage


def _public(principal: Principal, runtime: Runtime, action: str) -> None:
    from warroom.core.guardrails import require_agent_permission

    require_agent_permission(principal, runtime.policy, "may_publish_public", action)


def admin_context(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    from warroom.comms.updates import COMPONENT_STATUSES, IMPACTS, STATUS_LABELS

    page = _page(runtime)
    snapshot = page.snapshot()
    now = runtime.clock.now()
    components = page.list_components(archived=True)
    names = {c["id"]: c["name"] for c in components}
    return {
        "components": components,
        "active_components": [c for c in components if not c["archived"]],
        "component_names": names,
        "effective": dict(snapshot.effective),
        "incidents": list(snapshot.incidents),
        "maintenances": [
            {"window": m, "status": m.status(now)} for m in reversed(snapshot.maintenances)
        ],
        "subscribers": page.list_subscribers(principal) if principal.has("admin") else None,
        "component_statuses": COMPONENT_STATUSES,
        "update_statuses": tuple(STATUS_LABELS),
        "impacts": IMPACTS,
        "page_name": page.page().name,
        "settings": page.config.statuspage,
    }


@router.get(BASE)
def statuspage_admin(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    context = admin_context(runtime, session.principal())
    return render(request, "statuspage_admin.html", context, session=session)


Action = Callable[[Principal, Any], object]


async def _act(request: Request, runtime: Runtime, session: Any, action: Action) -> Response:
    form = await request.form()

    def run() -> None:
        principal = pages.form_principal(session, form)
        try:
            action(principal, form)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    try:
        await run_in_threadpool(run)
    except WarroomError as exc:
        context = await run_in_threadpool(admin_context, runtime, session.principal())
        context.update(error=exc.message, form=form)
        return render(
            request,
            "statuspage_admin.html",
            context,
            status_code=exc.status_code,
            session=session,
        )
    return RedirectResponse(BASE, status_code=303)


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "")


def _slugs(form: Any) -> list[str]:
    return [s for s in form.getlist("components") if isinstance(s, str) and s]


def _moment(raw: str, label: str) -> datetime:
    """A `datetime-local` value (or ISO 8601), read as UTC when it carries no offset."""
    raw = raw.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{label} must be a date and time (YYYY-MM-DDTHH:MM, UTC)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---- components -------------------------------------------------------------------------


@router.post(f"{BASE}/components")
async def component_create(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import ComponentIn

        _public(p, runtime, "change the public status page")
        position = _text(f, "position").strip() or "0"
        if not position.isdigit():
            raise InvalidInput("position must be a whole number")
        body = ComponentIn(
            slug=_text(f, "slug").strip(),
            name=_text(f, "name").strip(),
            description=_text(f, "description").strip(),
            group=_text(f, "group").strip() or None,
            position=int(position),
            status=_text(f, "status") or "operational",
        )
        return _page(runtime).create_component(p, body)

    return await _act(request, runtime, session, action)


@router.post(f"{BASE}/components/sync")
async def component_sync(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        p.require("admin")
        page = _page(runtime)
        with runtime.db.write() as conn:
            return page.sync_components(conn, runtime.clock.now())

    return await _act(request, runtime, session, action)


@router.post(f"{BASE}/components/{{slug}}")
async def component_update(
    request: Request, runtime: PageRuntime, session: PageSession, slug: str
) -> Any:
    """A state change (responder) or, with `full`, the whole component (admin)."""

    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import ComponentPatch

        _public(p, runtime, "change the public status page")
        fields: dict[str, Any] = {}
        if f.get("status"):
            fields["status"] = _text(f, "status")
        if f.get("full"):
            position = _text(f, "position").strip() or "0"
            if not position.isdigit():
                raise InvalidInput("position must be a whole number")
            fields.update(
                name=_text(f, "name").strip(),
                description=_text(f, "description").strip(),
                group=_text(f, "group").strip() or None,
                position=int(position),
                showcase=f.get("showcase") == "yes",
                only_show_if_degraded=f.get("only_show_if_degraded") == "yes",
                archived=f.get("archived") == "yes",
            )
        return _page(runtime).update_component(p, slug[:60], ComponentPatch(**fields))

    return await _act(request, runtime, session, action)


# ---- public incidents -------------------------------------------------------------------


@router.post(f"{BASE}/incidents")
async def public_incident_create(
    request: Request, runtime: PageRuntime, session: PageSession
) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import PublicIncidentIn

        _public(p, runtime, "publish a public incident")
        body = PublicIncidentIn(
            name=_text(f, "name").strip(),
            status=_text(f, "status") or "investigating",
            body=_text(f, "body").strip(),
            impact=_text(f, "impact") or "minor",
            components=_slugs(f),
            component_status=_text(f, "component_status") or None,
        )
        return _page(runtime).create_incident(p, body)

    return await _act(request, runtime, session, action)


@router.post(f"{BASE}/incidents/{{code}}/updates")
async def public_update_add(
    request: Request, runtime: PageRuntime, session: PageSession, code: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import PublicUpdateIn

        _public(p, runtime, "publish a public update")
        body = PublicUpdateIn(
            status=_text(f, "status"),
            body=_text(f, "body").strip(),
            component_status=_text(f, "component_status") or None,
        )
        return _page(runtime).add_incident_update(p, code[:40], body)

    return await _act(request, runtime, session, action)


# ---- maintenance ------------------------------------------------------------------------


@router.post(f"{BASE}/maintenances")
async def maintenance_schedule(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import MaintenanceIn

        _public(p, runtime, "publish a maintenance")
        body = MaintenanceIn(
            name=_text(f, "name").strip(),
            body=_text(f, "body").strip(),
            components=_slugs(f),
            scheduled_for=_moment(_text(f, "starts"), "the start"),
            scheduled_until=_moment(_text(f, "ends"), "the end"),
        )
        return _page(runtime).schedule_maintenance(p, body)

    return await _act(request, runtime, session, action)


@router.post(f"{BASE}/maintenances/{{code}}/cancel")
async def maintenance_cancel(
    request: Request, runtime: PageRuntime, session: PageSession, code: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        _public(p, runtime, "change the public status page")
        _page(runtime).cancel_maintenance(p, code[:40])
        return None

    return await _act(request, runtime, session, action)


# ---- subscribers ------------------------------------------------------------------------


@router.post(f"{BASE}/subscribers")
async def subscriber_add(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import SubscribeIn

        p.require("admin")
        target = _text(f, "target").strip()
        kind = "webhook" if target.startswith(("http://", "https://")) else "email"
        body = SubscribeIn(**{kind: target or None}, components=_slugs(f))
        return _page(runtime).subscribe(body)

    return await _act(request, runtime, session, action)


@router.post(f"{BASE}/subscribers/{{subscriber_id}}/remove")
async def subscriber_remove(
    request: Request, runtime: PageRuntime, session: PageSession, subscriber_id: int
) -> Any:
    def action(p: Principal, f: Any) -> object:
        if not 1 <= subscriber_id <= 2**62:
            raise NotFound(f"no active subscriber {subscriber_id}")
        _page(runtime).remove_subscriber(p, subscriber_id)
        return None

    return await _act(request, runtime, session, action)
