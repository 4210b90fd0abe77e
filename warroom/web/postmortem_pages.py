"""Post-mortem pages: the list, and one incident's post-mortem to read, edit and review.

Every read and write goes through the post-mortems services (`PostmortemService`,
`ActionItemService`) and, for the post-mortem's owner and due date, the incident service, with
the logged-in principal, as the REST API does: the services check the role (a viewer's forged
post gets 403), the review workflow (draft → in review → published) and the document's version
(an edit based on a stale version is refused with 409 instead of overwriting). Forms are read
into the API's own request models; a refused form re-renders the page with the reason and what
was typed (`typed(form_id, name)`, each form carrying a hidden `form_id`), and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
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
# Form field → the request model's field, and how a refusal names it.
FIELD_NAMES = {"due": "due_at"}
LABELS = {"due_at": "due date", "root_cause_category": "root-cause category"}


def _services(runtime: Runtime) -> tuple[Any, Any]:
    return runtime.postmortems, runtime.action_items


def invalid(exc: ValidationError) -> InvalidInput:
    """The first validation problem, said with the form's own words."""
    errors = exc.errors()
    if not errors:
        return InvalidInput("invalid input")
    first = errors[0]
    where = " ".join(LABELS.get(str(p), str(p)) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return InvalidInput(f"{where}: {message}" if where else message)


M = TypeVar("M", bound=BaseModel)


def from_form(model: type[M], form: Any, *, clears: frozenset[str] = frozenset()) -> M:
    """The API's request model from a form, with the model's fields the form carries.

    A blank optional field is left out (its default), except the fields in `clears`, where
    blank means "none" (an owner or a due date taken away). A blank required field is given
    as typed, so the model's own message says what is missing."""
    data: dict[str, Any] = {}
    for key in form.keys() if hasattr(form, "keys") else ():
        field = FIELD_NAMES.get(key, key)
        if field not in model.model_fields:
            continue
        value = str(form.get(key) or "").replace("\r\n", "\n")
        if not value.strip() and not model.model_fields[field].is_required():
            if field in clears:
                data[field] = None
            continue
        data[field] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from exc


CLEARABLE = frozenset({"owner", "due_at", "description", "title"})


def slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") or "section"


# ---- the list ---------------------------------------------------------------------------


def _attention(pm: Mapping[str, Any]) -> tuple[int, str]:
    """Overdue first, then due soon, then the other open ones by due date; published last."""
    if pm["status"] == "published":
        return (3, "~" + str(pm.get("published_at") or ""))
    bucket = 0 if pm.get("overdue") else 1 if pm.get("due_soon") else 2
    return (bucket, str(pm.get("due_at") or "~"))


def list_context(runtime: Runtime, status: str) -> dict[str, Any]:
    from warroom.postmortems.schemas import ListActions

    postmortems, items = _services(runtime)
    wanted = status if status in PM_STATUSES else ""
    found = sorted(postmortems.list(wanted or None), key=_attention)
    published = [pm for pm in found if pm["status"] == "published"]
    published.sort(key=lambda pm: str(pm.get("published_at") or ""), reverse=True)
    found = [pm for pm in found if pm["status"] != "published"] + published
    open_items = items.list(ListActions(status=["open", "in_progress"], limit=500))
    open_items.sort(key=_attention_item)
    per_incident: dict[str, dict[str, int]] = {}
    for item in open_items:
        counts = per_incident.setdefault(item["incident"], {"open": 0, "overdue": 0})
        counts["open"] += 1
        counts["overdue"] += int(bool(item["overdue"]))
    return {
        "postmortems": found,
        "status": wanted,
        "statuses": PM_STATUSES,
        "open_items": open_items,
        "item_counts": per_incident,
        "people": postmortems.display_names(),
        "overdue_count": sum(1 for pm in found if pm["overdue"]),
    }


def _attention_item(item: Mapping[str, Any]) -> tuple[int, str, int]:
    bucket = 0 if item.get("overdue") else 1 if item.get("due_soon") else 2
    return (bucket, str(item.get("due_at") or "~"), int(item["priority"]))


@router.get("/postmortems")
def postmortems_page(
    request: Request, runtime: PageRuntime, session: PageSession, status: str = ""
) -> HTMLResponse:
    context = list_context(runtime, status[:20])
    return render(request, "postmortems.html", context, session=session)


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
    sections: list[dict[str, Any]] = []
    if pm:
        generated = {h.lower() for h in pm["generated_sections"]}
        problems = {p["section"].lower(): p["problem"] for p in pm["incomplete"]}
        for heading, text in draft.sections(pm["body"]):
            sections.append(
                {
                    "heading": heading,
                    "text": text,
                    "slug": slug(heading),
                    "generated": heading.lower() in generated,
                    "problem": problems.get(heading.lower()),
                    "to_write": text.strip() == draft.prompt_of(heading).strip(),
                }
            )
    return {
        "state": state,
        "pm": pm,
        "missing": missing,
        "preamble": draft.preamble(pm["body"]) if pm else "",
        "sections": sections,
        "meeting": meeting,
        "incomplete": [{**p, "slug": slug(p["section"])} for p in pm["incomplete"]] if pm else [],
        "editable": bool(pm and pm["status"] != "published"),
        "items": items.list(ListActions(incident=state.public_id)),
        "people": postmortems.display_names(),
        "categories": postmortems.config.root_cause_categories,
        "item_statuses": ITEM_STATUSES,
        "item_types": ITEM_TYPES,
        "nav_current": "/postmortems",
    }


@router.get("/incidents/{public_id}/postmortem")
def postmortem_page(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> HTMLResponse:
    context = postmortem_context(runtime, public_id[:64])
    return render(request, "postmortem.html", context, session=session)


Action = Callable[[Principal, Any], object]


async def _act(
    request: Request,
    runtime: Runtime,
    session: Any,
    public_id: str,
    action: Action,
    *,
    anchor: Callable[[Any], str] = lambda _form: "",
) -> Response:
    """Run one post-mortem action from a form; on refusal re-render the page with the reason
    and what was typed."""
    form = await request.form()
    public_id = public_id.strip().upper()[:64]

    def run() -> None:
        principal = pages.form_principal(session, form)
        try:
            action(principal, form)
        except ValidationError as exc:
            raise invalid(exc) from exc

    try:
        await run_in_threadpool(run)
    except WarroomError as exc:
        context = await run_in_threadpool(postmortem_context, runtime, public_id)
        context.update(error=exc.message, form=form)
        return render(
            request, "postmortem.html", context, status_code=exc.status_code, session=session
        )
    target = anchor(form)
    return RedirectResponse(
        f"/incidents/{public_id}/postmortem" + (f"#{target}" if target else ""), status_code=303
    )


class _Version(BaseModel):
    version: int | None = None


def _version(form: Any) -> int | None:
    return from_form(_Version, form).version


@router.post("/incidents/{public_id}/postmortem/create")
async def postmortem_create(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        return _services(runtime)[0].ensure(p, public_id, on_demand=True)

    return await _act(request, runtime, session, public_id, action)


class _SectionForm(BaseModel):
    section: str
    text: str = ""
    version: int | None = None


@router.post("/incidents/{public_id}/postmortem/sections")
async def postmortem_section(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    def action(p: Principal, f: Any) -> object:
        body = from_form(_SectionForm, f)
        return _services(runtime)[0].edit_section(
            p, public_id, body.section, body.text, version=body.version
        )

    def anchor(f: Any) -> str:
        return "sec-" + slug(str(f.get("section") or ""))

    return await _act(request, runtime, session, public_id, action, anchor=anchor)


@router.post("/incidents/{public_id}/postmortem/body")
async def postmortem_body(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    from warroom.postmortems.schemas import PostmortemEditIn

    def action(p: Principal, f: Any) -> object:
        body = from_form(PostmortemEditIn, f)
        return _services(runtime)[0].edit(p, public_id, body=body.body or "", version=body.version)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/category")
async def postmortem_category(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    from warroom.postmortems.schemas import PostmortemEditIn

    def action(p: Principal, f: Any) -> object:
        body = from_form(PostmortemEditIn, f)
        if not body.root_cause_category:
            raise InvalidInput("choose a root-cause category")
        return _services(runtime)[0].edit(
            p,
            public_id,
            body=None,
            version=body.version,
            root_cause_category=body.root_cause_category,
        )

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/postmortem/schedule")
async def postmortem_schedule(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    """The post-mortem's owner and due date (moving the date needs a reason)."""
    from warroom.incidents.schemas import PostmortemScheduleIn

    def action(p: Principal, f: Any) -> object:
        return runtime.incidents.schedule_postmortem(
            p, public_id, from_form(PostmortemScheduleIn, f)
        )

    return await _act(request, runtime, session, public_id, action)


# ---- action items -----------------------------------------------------------------------


@router.post("/incidents/{public_id}/postmortem/actions")
async def action_add(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    from warroom.postmortems.schemas import ActionItemIn

    def action(p: Principal, f: Any) -> object:
        return _services(runtime)[1].create(p, public_id, from_form(ActionItemIn, f))

    return await _act(
        request, runtime, session, public_id, action, anchor=lambda _f: "action-items"
    )


def _item_of(runtime: Runtime, public_id: str, item_id: int) -> dict[str, Any]:
    item: dict[str, Any] = _services(runtime)[1].get(item_id)
    if item["incident"] != public_id.strip().upper():
        raise NotFound(f"no action item {item_id} on {public_id}")
    return item


@router.post("/incidents/{public_id}/postmortem/actions/{item_id}")
async def action_edit(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, item_id: int
) -> Response:
    """Change an action item: the fields the form carries (a blank owner or due date clears
    it; the quick form beside each item carries owner, due date and status)."""
    from warroom.postmortems.schemas import ActionItemPatch

    def action(p: Principal, f: Any) -> object:
        _item_of(runtime, public_id, item_id)
        patch = from_form(ActionItemPatch, f, clears=CLEARABLE)
        if "title" in patch.model_fields_set and not (patch.title or "").strip():
            raise InvalidInput("an action item needs a title")
        return _services(runtime)[1].update(p, item_id, patch)

    return await _act(
        request, runtime, session, public_id, action, anchor=lambda _f: f"item-{item_id}"
    )


@router.post("/incidents/{public_id}/postmortem/actions/{item_id}/delete")
async def action_delete(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, item_id: int
) -> Response:
    def action(p: Principal, f: Any) -> object:
        _item_of(runtime, public_id, item_id)
        _services(runtime)[1].delete(p, item_id)
        return None

    return await _act(
        request, runtime, session, public_id, action, anchor=lambda _f: "action-items"
    )


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


@router.post("/incidents/{public_id}/postmortem/meeting")
async def postmortem_meeting(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Response:
    """Schedule the review meeting (its .ics invite is linked on the page)."""
    from warroom.postmortems.schemas import MeetingIn

    def action(p: Principal, f: Any) -> object:
        fields = {
            key: str(f.get(key) or "").strip()
            for key in ("starts_at", "duration", "facilitator", "location")
        }
        data: dict[str, Any] = {k: v for k, v in fields.items() if v}
        data["attendees"] = _names(str(f.get("attendees") or ""))
        try:
            body = MeetingIn.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from exc
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
            body = SubmitIn(reviewers=_names(str(f.get("reviewers") or "")))
            return postmortems.submit(p, public_id, body.reviewers)
        if step == "return":
            reason = from_form(ReasonIn, f)
            return postmortems.return_to_draft(p, public_id, reason.reason)
        return postmortems.publish(p, public_id)

    return await _act(request, runtime, session, public_id, action)
