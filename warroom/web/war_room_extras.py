"""War-room parts outside the live update: the lazily loaded panels (suspected changes,
similar incidents) and the verification panel's action.

The lazy panels are fragments the page fetches once after it loads (htmx `hx-trigger="load"`)
and on the panel's Refresh button; live updates never re-run them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from warroom.core.auth import Principal
from warroom.core.errors import InvalidInput, NotFound
from warroom.web import panels
from warroom.web.pages import PageRuntime, PageSession, render
from warroom.web.routes import _panel_act

router = APIRouter(include_in_schema=False)


@router.get("/incidents/{public_id}/panels/{name}")
async def lazy_panel(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, name: str
) -> HTMLResponse:
    if name not in panels.LAZY_PANELS:
        raise NotFound(f"no panel {name}")
    public_id = public_id.strip().upper()[:64]

    def load() -> dict[str, Any]:
        runtime.incidents.get(public_id)  # an unknown incident is a 404, not a panel error
        return panels.lazy_panel(runtime, public_id, name)

    context = await run_in_threadpool(load)
    return render(
        request, f"_panel_{name}.html", {**context, "public_id": public_id}, session=session
    )


@router.post("/incidents/{public_id}/verification/confirm")
async def verification_confirm(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(principal: Principal, form: Any) -> dict[str, Any] | None:
        from warroom.workbench.schemas import ConfirmIn

        workbench = runtime.workbench
        # A blank note is refused by the schema (422 on the page, nothing recorded).
        body = ConfirmIn(note=str(form.get("note") or "").strip())
        workbench.confirm_verification(principal, public_id, body)
        return None

    return await _panel_act(request, runtime, session, public_id, action)


# ---- condition flags and MUST STOP acknowledgements -----------------------------------


@router.post("/incidents/{public_id}/flags")
async def set_flag(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(principal: Principal, form: Any) -> dict[str, Any] | None:
        from warroom.incidents.schemas import FlagIn

        reason = str(form.get("reason") or "").strip()
        if not reason:
            raise InvalidInput("say why the flag changes (the reason is on the timeline)")
        body = FlagIn(
            flag=str(form.get("flag") or "").strip(),
            value=str(form.get("value") or "on") != "off",
            reason=reason,
        )
        runtime.incidents.set_flag(principal, public_id, body)
        return None

    return await _panel_act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/stops/{rule}/acknowledge")
async def acknowledge_stop(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, rule: str
) -> Any:
    def action(principal: Principal, form: Any) -> dict[str, Any] | None:
        from warroom.incidents.schemas import StopAckIn

        body = StopAckIn(decision=str(form.get("decision") or ""))
        runtime.incidents.acknowledge_stop(principal, public_id, rule, body)
        return None

    return await _panel_act(request, runtime, session, public_id, action)
