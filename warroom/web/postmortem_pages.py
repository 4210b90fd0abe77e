"""Post-mortem pages: the list, and one incident's post-mortem to read, edit and review.

Every write calls the post-mortems services (`PostmortemService`, `ActionItemService`) with the
logged-in principal, as the REST API does: the services check the role (a viewer's forged post
gets 403), the review workflow (draft → in review → published) and the document's version (an
edit based on a stale version is refused with 409 instead of overwriting). A refused action
re-renders the page with the reason and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
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

router = APIRouter(include_in_schema=False)

pages.register_nav("Post-mortems", "/postmortems", order=45)

PM_STATUSES = ("draft", "in_review", "published")
ITEM_STATUSES = ("open", "in_progress", "done", "wont_do")
ITEM_TYPES = ("prevent", "mitigate", "detect", "process")


def _services(runtime: Runtime) -> tuple[Any, Any]:
    postmortems = runtime.postmortems
    items = runtime.action_items
    return postmortems, items


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return InvalidInput(f"{where}: {message}" if where else message)


# ---- the list ---------------------------------------------------------------------------


def list_context(runtime: Runtime, status: str) -> dict[str, Any]:
    from warroom.postmortems.schemas import ListActions

    postmortems, items = _services(runtime)
    wanted = status if status in PM_STATUSES else ""
    found = postmortems.list(wanted or None)
    open_items = items.list(ListActions(status=["open", "in_progress"], limit=200))
    return {
        "postmortems": list(reversed(found)),
        "status": wanted,
        "statuses": PM_STATUSES,
        "open_items": open_items,
    }


@router.get("/postmortems")
def postmortems_page(
    request: Request, runtime: PageRuntime, session: PageSession, status: str = ""
) -> HTMLResponse:
    return render(request, "postmortems.html", list_context(runtime, status[:20]), session=session)


# ---- one post-mortem --------------------------------------------------------------------


def postmortem_context(runtime: Runtime, public_id: str) -> dict[str, Any]:
    """What the post-mortem page shows (reads only)."""
    from warroom.postmortems import draft
    from warroom.postmortems.schemas import ListActions

    postmortems, items = _services(runtime)
    state = runtime.incidents.get(public_id)
    pm: dict[str, Any] | None = None
    missing = None
    meeting = None
    try:
        pm = postmortems.get(state.public_id)
        meeting = postmortems.meeting(state.public_id)
    except NotFound as exc:
        missing = None if pm else exc.message
    return {
        "state": state,
        "pm": pm,
        "missing": missing,
        "sections": draft.sections(pm["body"]) if pm else [],
        "prompts": {title: draft.prompt_of(title) for title, _ in draft.sections(pm["body"])}
        if pm
        else {},
        "meeting": meeting,
        # The sections the policy's template still needs before submit / publish.
        "incomplete": draft.unfilled(pm["body"], runtime.policy.postmortem_template.required)
        if pm and pm["status"] != "published"
        else [],
        "editable": bool(pm and pm["status"] != "published"),
        "items": items.list(ListActions(incident=state.public_id)),
        "categories": postmortems.config.root_cause_categories,
        "item_statuses": ITEM_STATUSES,
        "item_types": ITEM_TYPES,
    }


@router.get("/incidents/{public_id}/postmortem")
def postmortem_page(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> HTMLResponse:
    context = postmortem_context(runtime, public_id[:64])
    return render(request, "postmortem.html", context, session=session)


Action = Callable[[Principal, Any], object]


async def _act(
    request: Request, runtime: Runtime, session: Any, public_id: str, action: Action
) -> Response:
    """Run one post-mortem action from a form; on refusal re-render the page with the reason."""
    form = await request.form()
    public_id = public_id.strip().upper()[:64]

    def run() -> None:
        principal = pages.form_principal(session, form)
        try:
            action(principal, form)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    try:
        await run_in_threadpool(run)
    except WarroomError as exc:
        context = await run_in_threadpool(postmortem_context, runtime, public_id)
        context.update(error=exc.message, form=form)
        return render(
            request, "postmortem.html", context, status_code=exc.status_code, session=session
        )
    return RedirectResponse(f"/incidents/{public_id}/postmortem", status_code=303)


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "")


def _version(form: Any) -> int | None:
    raw = _text(form, "version").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput("version must be a number")
    return int(raw)


def _due(raw: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw[:10]) if len(raw) >= 10 else date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("the due date must be a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _priority(raw: str) -> int:
    raw = raw.strip() or "2"
    if raw.upper().startswith("P"):
        raw = raw[1:]
    if not raw.isdigit() or not 1 <= int(raw) <= 4:
        raise InvalidInput("priority must be 1 to 4")
    return int(raw)


@router.post("/incidents/{public_id}/postmortem/create")
async def postmortem_create(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        return _services(runtime)[0].ensure(p, public_id, on_demand=True)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/sections")
async def postmortem_section(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        from warroom.postmortems import draft

        postmortems = _services(runtime)[0]
        p.require("responder")
        heading = _text(f, "section").strip()
        text = _text(f, "text")
        if len(text) > 100_000:
            raise InvalidInput("a section is at most 100,000 characters")
        current = postmortems.get(public_id)
        try:
            body = draft.replace_section(current["body"], heading, text)
        except KeyError:
            raise InvalidInput(f"the post-mortem has no section {heading!r}") from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return postmortems.edit(p, public_id, body=body, version=_version(f))

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/body")
async def postmortem_body(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        body = _text(f, "body").replace("\r\n", "\n")
        return _services(runtime)[0].edit(p, public_id, body=body, version=_version(f))

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/category")
async def postmortem_category(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        category = _text(f, "root_cause_category").strip()
        if not category:
            raise InvalidInput("choose a root-cause category")
        return _services(runtime)[0].edit(
            p, public_id, body=None, version=_version(f), root_cause_category=category
        )

    return await _act(request, runtime, session, public_id, action)


# ---- action items -----------------------------------------------------------------------


@router.post("/incidents/{public_id}/postmortem/actions")
async def action_add(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        from warroom.postmortems.schemas import ActionItemIn

        body = ActionItemIn(
            title=_text(f, "title"),
            description=_text(f, "description"),
            owner=_text(f, "owner").strip() or None,
            due_at=_due(_text(f, "due")),
            priority=_priority(_text(f, "priority")),
            type=_text(f, "type") or "prevent",
        )
        return _services(runtime)[1].create(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


def _item_of(runtime: Runtime, public_id: str, item_id: int) -> dict[str, Any]:
    item: dict[str, Any] = _services(runtime)[1].get(item_id)
    if item["incident"] != public_id.strip().upper():
        raise NotFound(f"no action item {item_id} on {public_id}")
    return item


@router.post("/incidents/{public_id}/postmortem/actions/{item_id}")
async def action_edit(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, item_id: int
) -> Response:
    def action(p: Principal, f: Any) -> object:
        from warroom.postmortems.schemas import ActionItemPatch

        _item_of(runtime, public_id, item_id)
        fields: dict[str, Any] = {}
        if f.get("title") is not None:
            fields["title"] = _text(f, "title").strip()
        if f.get("description") is not None:
            fields["description"] = _text(f, "description")
        if f.get("owner") is not None:
            fields["owner"] = _text(f, "owner").strip() or None
        if f.get("due") is not None:
            fields["due_at"] = _due(_text(f, "due"))
        if f.get("priority") is not None:
            fields["priority"] = _priority(_text(f, "priority"))
        for name in ("type", "status"):
            if f.get(name):
                fields[name] = _text(f, name)
        return _services(runtime)[1].update(p, item_id, ActionItemPatch(**fields))

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/actions/{item_id}/delete")
async def action_delete(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, item_id: int
) -> Response:
    def action(p: Principal, f: Any) -> object:
        _item_of(runtime, public_id, item_id)
        _services(runtime)[1].delete(p, item_id)
        return None

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/meeting")
async def postmortem_meeting(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    """Schedule the review meeting (its .ics invite is linked on the page)."""

    def action(p: Principal, f: Any) -> object:
        from warroom.postmortems.schemas import MeetingIn

        body = MeetingIn.model_validate(
            {
                "starts_at": _text(f, "starts_at").strip(),
                "duration": _text(f, "duration").strip() or "1h",
                "facilitator": _text(f, "facilitator"),
                "attendees": [n.strip() for n in _text(f, "attendees").split(",") if n.strip()],
                "location": _text(f, "location").strip() or None,
            }
        )
        return _services(runtime)[0].schedule_meeting(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


# Last: its path parameter would shadow the fixed paths above.
@router.post("/incidents/{public_id}/postmortem/{step}")
async def postmortem_review(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, step: str
) -> Response:
    """The review workflow: regenerate, submit (draft → in review), return, publish."""
    if step not in ("regenerate", "submit", "return", "publish"):
        raise NotFound(f"no post-mortem action {step}")

    def action(p: Principal, f: Any) -> object:
        from warroom.postmortems.schemas import ReasonIn, SubmitIn

        postmortems = _services(runtime)[0]
        if step == "regenerate":
            return postmortems.regenerate(p, public_id)
        if step == "submit":
            names = [n.strip() for n in _text(f, "reviewers").split(",") if n.strip()]
            body = SubmitIn(reviewers=names)
            return postmortems.submit(p, public_id, body.reviewers)
        if step == "return":
            reason = ReasonIn(reason=_text(f, "reason").strip())
            return postmortems.return_to_draft(p, public_id, reason.reason)
        return postmortems.publish(p, public_id)

    return await _act(request, runtime, session, public_id, action)
