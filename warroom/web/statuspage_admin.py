"""The status page admin page: what is down now and what the public page says, components
(drafts marked, with their publish button) and their states, public incidents and their
updates, maintenance windows and subscribers, over the comms package's `StatusPage` service.

Writes call the same service methods as `/api/v1/statuspage/...` with the logged-in principal:
the service checks the role (a component's state needs a responder, the rest of a component
an admin, subscribers an admin), and an agent needs the policy's `may_publish_public`. Forms go
through the web's shared form helpers: `pages.form_principal` (CSRF), the API's own body model
(`model_validate`, its first problem said by `oncall_pages.invalid`), and a hidden `form_id`
so a refused form is shown again with what was typed (`typed()` in the template). The public
page itself is `/status`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from warroom.core.auth import Principal
from warroom.core.errors import InvalidInput, NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.web import pages
from warroom.web.oncall_pages import invalid
from warroom.web.pages import PageRuntime, PageSession, render

router = APIRouter(include_in_schema=False)

pages.register_nav("Status page", "/admin/statuspage", order=60)

BASE = "/admin/statuspage"
Model = TypeVar("Model", bound=BaseModel)
# Form fields read as lists (checkbox groups) and as yes/no checkboxes.
_LISTS = {"components"}
_CHECKBOXES = {"showcase", "only_show_if_degraded", "archived", "draft"}
_WHEN = {"scheduled_for": "the start", "scheduled_until": "the end"}


def _page(runtime: Runtime) -> Any:
    comms = runtime.comms
    return comms.statuspage


def _public(principal: Principal, runtime: Runtime, action: str) -> None:
    from warroom.core.guardrails import require_agent_permission

    require_agent_permission(principal, runtime.policy, "may_publish_public", action)


def _body(model: type[Model], form: Any, names: Iterable[str], **fixed: Any) -> Model:
    """The API body `model` from the form's fields `names` (empty text left out, so the
    model's defaults apply), checked exactly as the API checks it."""
    data: dict[str, Any] = {}
    for name in names:
        if name in _LISTS:
            data[name] = [v for v in form.getlist(name) if isinstance(v, str) and v]
        elif name in _CHECKBOXES:
            data[name] = form.get(name) == "yes"
        elif (value := str(form.get(name) or "").strip()) != "":
            data[name] = value
    data.update(fixed)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else ""
        if where in _WHEN and errors[0]["type"].startswith("datetime"):
            raise InvalidInput(
                f"{_WHEN[where]} must be a date and time (YYYY-MM-DDTHH:MM, UTC)"
            ) from None
        raise invalid(exc) from None


def _reasons(snapshot: Any, slug: str, status: str, now: Any) -> list[str]:
    """Why a component is shown as it is: its state set by hand, open public incidents and
    maintenance in progress."""
    found = [f"set by hand to {status.replace('_', ' ')}"] if status != "operational" else []
    found += [
        f"public incident “{i.name}”"
        for i in snapshot.incidents
        if i.unresolved and slug in i.components
    ]
    found += [
        f"maintenance “{m.name}”"
        for m in snapshot.maintenances
        if m.status(now) == "in_progress" and slug in m.components
    ]
    return found


def admin_context(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    from warroom.comms import views
    from warroom.comms.updates import COMPONENT_STATUSES, IMPACTS, STATUS_LABELS

    page = _page(runtime)
    snapshot = page.snapshot(drafts=True)
    now = snapshot.now
    public = views.build_snapshot(
        snapshot.page,
        [c for c in snapshot.components if c.published],
        snapshot.incidents,
        snapshot.maintenances,
        now,
    )
    components = page.list_components(archived=True)
    rank = views.STATUS_RANK
    for c in components:
        c["shown_as"] = snapshot.effective.get(c["id"], c["status"])
        c["reasons"] = _reasons(snapshot, c["id"], c["status"], now)
    active = [c for c in components if not c["archived"]]
    down = sorted(
        (c for c in active if c["shown_as"] != "operational"),
        key=lambda c: -rank.get(c["shown_as"], 0),
    )
    return {
        "components": components,
        "active_components": active,
        "archived_components": [c for c in components if c["archived"]],
        "drafts": [c for c in active if not c["published"]],
        "down": down,
        "public_status": views.status_json(public),
        "component_names": {c["id"]: c["name"] for c in components},
        "incidents": list(snapshot.incidents),
        "open_incidents": [i for i in snapshot.incidents if i.unresolved],
        "maintenances": [
            {"window": m, "status": m.status(now)} for m in reversed(snapshot.maintenances)
        ],
        "subscribers": page.list_subscribers(principal) if principal.has("admin") else None,
        "component_statuses": COMPONENT_STATUSES,
        "update_statuses": tuple(STATUS_LABELS),
        "impacts": IMPACTS,
        "page_name": page.page().name,
        "settings": page.config.statuspage,
        "catalog_size": len(page.services),
    }


@router.get(BASE)
def statuspage_admin(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    context = admin_context(runtime, session.principal())
    return render(request, "statuspage_admin.html", context, session=session)


Action = Callable[[Principal, Any], object]


async def _act(
    request: Request, runtime: Runtime, session: Any, action: Action, anchor: str = ""
) -> Response:
    """Run one form's action; on refusal re-render the page with the reason and the form as
    typed (its `form_id` says which), else back to the page (at `anchor`)."""
    form = await request.form()

    def run() -> None:
        action(pages.form_principal(session, form), form)

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
    return RedirectResponse(BASE + (f"#{anchor}" if anchor else ""), status_code=303)


# ---- components -------------------------------------------------------------------------


@router.post(f"{BASE}/components")
async def component_create(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import ComponentIn

        _public(p, runtime, "change the public status page")
        names = ("slug", "name", "description", "group", "position", "status")
        body = _body(ComponentIn, f, names, published=f.get("draft") != "yes")
        return _page(runtime).create_component(p, body)

    return await _act(request, runtime, session, action, "components")


@router.post(f"{BASE}/components/sync")
async def component_sync(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        _public(p, runtime, "change the public status page")
        return _page(runtime).sync(p)

    return await _act(request, runtime, session, action, "components")


@router.post(f"{BASE}/components/{{slug}}")
async def component_update(
    request: Request, runtime: PageRuntime, session: PageSession, slug: str
) -> Any:
    """A state change (responder) or, with `full`, the whole component (admin)."""

    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import ComponentPatch

        _public(p, runtime, "change the public status page")
        if f.get("full"):
            names: tuple[str, ...] = (
                "position", "showcase", "only_show_if_degraded", "archived",
            )  # fmt: skip
            # Emptied fields are changes too: a cleared description or group is removed,
            # an emptied name is refused.
            text: dict[str, str | None] = {
                k: str(f.get(k) or "").strip() for k in ("name", "description", "group")
            }
            text["group"] = text["group"] or None
            body = _body(ComponentPatch, f, names, **text)
        else:
            body = _body(ComponentPatch, f, ("status",))
        return _page(runtime).update_component(p, slug[:60], body)

    return await _act(request, runtime, session, action, f"comp-{slug[:60]}")


@router.post(f"{BASE}/components/{{slug}}/{{what}}")
async def component_publish(
    request: Request, runtime: PageRuntime, session: PageSession, slug: str, what: str
) -> Any:
    """Publish a draft (`publish`) or take a component back to draft (`unpublish`)."""

    def action(p: Principal, f: Any) -> object:
        if what not in ("publish", "unpublish"):
            raise NotFound(f"no component action {what[:40]}")
        _public(p, runtime, "change the public status page")
        return _page(runtime).publish_component(p, slug[:60], published=what == "publish")

    return await _act(request, runtime, session, action, f"comp-{slug[:60]}")


# ---- public incidents -------------------------------------------------------------------


@router.post(f"{BASE}/incidents")
async def public_incident_create(
    request: Request, runtime: PageRuntime, session: PageSession
) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import PublicIncidentIn

        _public(p, runtime, "publish a public incident")
        names = ("name", "status", "body", "impact", "components", "component_status")
        return _page(runtime).create_incident(p, _body(PublicIncidentIn, f, names))

    return await _act(request, runtime, session, action, "public-incidents")


@router.post(f"{BASE}/incidents/{{code}}/updates")
async def public_update_add(
    request: Request, runtime: PageRuntime, session: PageSession, code: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import PublicUpdateIn

        _public(p, runtime, "publish a public update")
        body = _body(PublicUpdateIn, f, ("status", "body", "component_status"))
        return _page(runtime).add_incident_update(p, code[:40], body)

    return await _act(request, runtime, session, action, f"public-{code[:40]}")


# ---- maintenance ------------------------------------------------------------------------


@router.post(f"{BASE}/maintenances")
async def maintenance_schedule(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import MaintenanceIn

        _public(p, runtime, "publish a maintenance")
        names = ("name", "body", "components", "scheduled_for", "scheduled_until")
        return _page(runtime).schedule_maintenance(p, _body(MaintenanceIn, f, names))

    return await _act(request, runtime, session, action, "maintenance")


@router.post(f"{BASE}/maintenances/{{code}}/cancel")
async def maintenance_cancel(
    request: Request, runtime: PageRuntime, session: PageSession, code: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        _public(p, runtime, "change the public status page")
        _page(runtime).cancel_maintenance(p, code[:40])
        return None

    return await _act(request, runtime, session, action, "maintenance")


# ---- subscribers ------------------------------------------------------------------------


@router.post(f"{BASE}/subscribers")
async def subscriber_add(request: Request, runtime: PageRuntime, session: PageSession) -> Any:
    def action(p: Principal, f: Any) -> object:
        from warroom.comms.statuspage import SubscribeIn

        p.require("admin")
        target = str(f.get("target") or "").strip()
        kind = "webhook" if target.startswith(("http://", "https://")) else "email"
        body = _body(SubscribeIn, f, ("components",), **{kind: target or None})
        return _page(runtime).subscribe(body)

    return await _act(request, runtime, session, action, "subscribers")


@router.post(f"{BASE}/subscribers/{{subscriber_id}}/remove")
async def subscriber_remove(
    request: Request, runtime: PageRuntime, session: PageSession, subscriber_id: int
) -> Any:
    def action(p: Principal, f: Any) -> object:
        if not 1 <= subscriber_id <= 2**62:
            raise NotFound(f"no active subscriber {subscriber_id}")
        _page(runtime).remove_subscriber(p, subscriber_id)
        return None

    return await _act(request, runtime, session, action, "subscribers")
