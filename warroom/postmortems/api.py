"""REST endpoints: post-mortems, action items, exports, similar incidents, patterns, runbooks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from warroom.api.deps import PrincipalDep, RowId, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import (
    DEFAULT_LIMIT,
    CursorToken,
    Keyset,
    Limit,
    close_page,
    page_in_order,
)
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime
from warroom.incidents.model import IncidentState
from warroom.postmortems import beads, exports, patterns, runbook_draft
from warroom.postmortems import responses as out
from warroom.postmortems.schemas import (
    ActionItemIn,
    ActionItemPatch,
    ListActions,
    MeetingIn,
    PostmortemEditIn,
    ReasonIn,
    SubmitIn,
)
from warroom.postmortems.service import (
    ActionItemService,
    PostmortemService,
    _incident_row,
    load_events,
)
from warroom.postmortems.similarity import Features, SimilarityService

router = APIRouter(prefix="/api/v1", tags=["post-mortems"], route_class=ApiRoute)
POSTMORTEMS = Keyset("postmortems", ("int", "str"))
ACTIONS = Keyset("actions", ("int",))


def _pm(runtime: Runtime) -> PostmortemService:
    service: PostmortemService = runtime.postmortems
    return service


def _items(runtime: Runtime) -> ActionItemService:
    service: ActionItemService = runtime.action_items
    return service


# ---- post-mortems ----------------------------------------------------------------------


@router.post(
    "/incidents/{incident_id}/postmortem",
    status_code=201,
    summary="Create the post-mortem now (drafted from the timeline)",
    response_model=out.Postmortem,
)
def create_postmortem(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    result = _pm(runtime).ensure(principal, incident_id, on_demand=True)
    assert result is not None
    return result


@router.get(
    "/incidents/{incident_id}/postmortem",
    summary="The post-mortem (JSON, md or html)",
    response_model=out.Postmortem,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
def get_postmortem(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    format: Annotated[str, Query(pattern="^(json|markdown|html)$")] = "json",
) -> Any:
    principal.require("viewer")
    data = _pm(runtime).get(incident_id)
    if format == "markdown":
        return PlainTextResponse(data["body"], media_type="text/markdown; charset=utf-8")
    if format == "html":
        return HTMLResponse(exports.to_html(data["body"], f"{data['incident']}: {data['title']}"))
    return data


@router.put(
    "/incidents/{incident_id}/postmortem",
    summary="Edit the Markdown source",
    response_model=out.Postmortem,
)
def edit_postmortem(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: PostmortemEditIn
) -> dict[str, Any]:
    return _pm(runtime).edit(
        principal,
        incident_id,
        body=body.body,
        version=body.version,
        root_cause_category=body.root_cause_category,
    )


@router.post(
    "/incidents/{incident_id}/postmortem/regenerate",
    summary="Store the document as it reads now (facts are rendered on every read anyway)",
    response_model=out.Postmortem,
)
def regenerate_postmortem(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    return _pm(runtime).regenerate(principal, incident_id)


@router.post(
    "/incidents/{incident_id}/postmortem/submit",
    summary="Draft → in review",
    response_model=out.Postmortem,
)
def submit_postmortem(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: SubmitIn | None = None
) -> dict[str, Any]:
    return _pm(runtime).submit(principal, incident_id, (body or SubmitIn()).reviewers)


@router.post(
    "/incidents/{incident_id}/postmortem/return",
    summary="In review → draft",
    response_model=out.Postmortem,
)
def return_postmortem(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: ReasonIn
) -> dict[str, Any]:
    return _pm(runtime).return_to_draft(principal, incident_id, body.reason)


@router.post(
    "/incidents/{incident_id}/postmortem/publish",
    summary="In review → published",
    response_model=out.Postmortem,
)
def publish_postmortem(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str
) -> dict[str, Any]:
    return _pm(runtime).publish(principal, incident_id)


@router.post(
    "/incidents/{incident_id}/postmortem/meeting",
    status_code=201,
    summary="Schedule the review meeting (facilitator, attendees) and get its .ics invite",
    response_model=out.ReviewMeeting,
)
def schedule_review_meeting(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: MeetingIn
) -> dict[str, Any]:
    return _pm(runtime).schedule_meeting(principal, incident_id, body)


@router.get(
    "/incidents/{incident_id}/postmortem/meeting",
    summary="The scheduled review meeting (JSON, or the invite with ?format=ics)",
    response_model=out.ReviewMeeting,
    responses={200: {"content": {"text/calendar": {}}}},
)
def review_meeting(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    format: Annotated[str, Query(pattern="^(json|ics)$")] = "json",
) -> dict[str, Any] | Response:
    principal.require("viewer")
    meeting = _pm(runtime).meeting(incident_id)
    if format == "ics":
        return Response(
            meeting["ics"],
            media_type="text/calendar; charset=utf-8",
            headers={
                "Content-Disposition": (f'attachment; filename="review-{meeting["incident"]}.ics"')
            },
        )
    return meeting


@router.get(
    "/postmortems", summary="Post-mortems (optionally by status)", response_model=out.PostmortemList
)
def list_postmortems(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    status: Annotated[str | None, Query(pattern="^(draft|in_review|published)$")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = page_in_order(
        _pm(runtime).list(status),
        POSTMORTEMS,
        lambda p: str(p["incident"]),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    for item in items:
        item.pop("body", None)
    return {"items": items}


@router.get(
    "/postmortems/export",
    summary="Every published post-mortem as files (Markdown and HTML) with an index",
    response_model=out.PostmortemExport,
)
def export_postmortems(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    published = _pm(runtime).list("published", with_body=True)
    files = []
    entries = []
    for pm in published:
        stem = exports.file_stem(pm["incident"])
        title = f"{pm['incident']}: {pm['title']}"
        files.append(
            {
                "incident": pm["incident"],
                "markdown_name": f"{stem}.md",
                "html_name": f"{stem}.html",
                "markdown": pm["body"],
                "html": exports.to_html(pm["body"], title),
            }
        )
        entries.append((pm["incident"], pm["title"], (pm["published_at"] or "")[:10]))
    index = exports.index_markdown(entries)
    return {
        "files": files,
        "index": {
            "markdown_name": "index.md",
            "markdown": index,
            "html_name": "index.html",
            "html": exports.to_html(index.replace(".md)", ".html)"), "Post-mortems"),
        },
    }


# ---- action items ----------------------------------------------------------------------


@router.post(
    "/incidents/{incident_id}/actions",
    status_code=201,
    summary="Add an action item",
    response_model=out.ActionItem,
)
def create_action(
    runtime: RuntimeDep, principal: PrincipalDep, incident_id: str, body: ActionItemIn
) -> dict[str, Any]:
    return _items(runtime).create(principal, incident_id, body)


@router.get(
    "/incidents/{incident_id}/actions",
    summary="The incident's action items",
    response_model=out.ActionItemList,
)
def incident_actions(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    with runtime.db.read() as conn:
        _incident_row(conn, incident_id)
    return _action_page(
        runtime, ListActions(incident=incident_id), limit, cursor, request, response
    )


def _action_page(
    runtime: Runtime,
    flt: ListActions,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    start = ACTIONS.decode(cursor)
    rows = _items(runtime).list(
        flt.model_copy(update={"limit": limit + 1, "after_id": int(start[0]) if start else None})
    )
    items, _ = close_page(
        rows, ACTIONS, lambda a: (int(a["id"]),), limit=limit, request=request, response=response
    )
    return {"items": items}


@router.get("/actions", summary="Action items across incidents", response_model=out.ActionItemList)
def list_actions(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    owner: str | None = None,
    overdue: bool = False,
    status: Annotated[list[str] | None, Query()] = None,
    incident: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
    *,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    principal.require("viewer")
    bad = [s for s in status or [] if s not in ("open", "in_progress", "done", "wont_do")]
    if bad:
        raise InvalidInput(f"unknown status {', '.join(bad)}; use open, in_progress, done, wont_do")
    flt = ListActions(owner=owner, overdue=overdue, status=status or [], incident=incident)
    return _action_page(runtime, flt, limit, cursor, request, response)


@router.get("/actions/{item_id}", summary="One action item", response_model=out.ActionItem)
def get_action(runtime: RuntimeDep, principal: PrincipalDep, item_id: RowId) -> dict[str, Any]:
    principal.require("viewer")
    return _items(runtime).get(item_id)


@router.patch("/actions/{item_id}", summary="Change an action item", response_model=out.ActionItem)
def update_action(
    runtime: RuntimeDep, principal: PrincipalDep, item_id: RowId, body: ActionItemPatch
) -> dict[str, Any]:
    return _items(runtime).update(principal, item_id, body)


@router.delete("/actions/{item_id}", status_code=204, summary="Delete an action item")
def delete_action(runtime: RuntimeDep, principal: PrincipalDep, item_id: RowId) -> Response:
    _items(runtime).delete(principal, item_id)
    return Response(status_code=204)


@router.post(
    "/actions/{item_id}/sync",
    summary="Sync to the configured trackers now",
    response_model=out.ActionItemSync,
)
def sync_action(runtime: RuntimeDep, principal: PrincipalDep, item_id: RowId) -> dict[str, Any]:
    from warroom.postmortems.trackers import sync_item

    principal.require("responder")
    items = _items(runtime)
    items.get(item_id)
    trackers = items.trackers()
    if not trackers:
        raise InvalidInput(
            "no tracker is configured: add postmortems.github and/or postmortems.jira to the "
            "config file"
        )
    results = {}
    for tracker in trackers:
        result = sync_item(runtime, item_id, tracker)
        results[tracker] = {
            "ok": result.ok,
            "message": result.message,
            "retryable": result.retryable,
            "ref": result.ref,
            "url": result.url,
        }
    return {"item": items.get(item_id), "results": results}


# ---- beads -----------------------------------------------------------------------------


@router.get(
    "/exports/beads",
    summary="Incidents and action items as beads issue records",
    response_model=out.BeadsExport,
)
def export_beads(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    from warroom.core import tables
    from warroom.postmortems.plugin import _config
    from warroom.postmortems.tables import action_items

    principal.require("viewer")
    prefix = _config(runtime).beads_prefix
    from sqlalchemy import select

    i = tables.incidents
    query = select(i.c.id, i.c.state).order_by(i.c.id)
    if incident:
        query = query.where(i.c.public_id.in_([x.strip().upper() for x in incident]))
    else:
        with_items = select(action_items.c.incident_id)
        query = query.where(i.c.id.in_(with_items) | (i.c.severity_rank <= 2))
    with runtime.db.read() as conn:
        rows = conn.execute(query).all()
    issues: list[dict[str, Any]] = []
    items = _items(runtime)
    for row in rows:
        state = IncidentState.from_dict(row.state)
        rank = runtime.policy.rank(state.severity)
        bug = beads.incident_issue(state, rank=rank, prefix=prefix)
        issues.append(bug)
        for item in items.list(ListActions(incident=state.public_id)):
            issues.append(beads.action_issue(item, incident_bead=bug["id"], prefix=prefix))
    return {"path": ".beads/issues.jsonl", "issues": issues}


# ---- learning --------------------------------------------------------------------------


@router.get(
    "/incidents/{incident_id}/similar",
    summary="Similar past incidents, with reasons",
    response_model=out.SimilarToIncident,
)
def similar_incidents(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    principal.require("viewer")
    service: SimilarityService = runtime.similarity
    return {"incident": incident_id.upper(), "matches": service.similar(incident_id, limit=limit)}


class SimilarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=500)
    summary: str = Field(default="", max_length=10_000)
    services: list[str] = Field(default_factory=list, max_length=50)
    labels: dict[str, str] = Field(default_factory=dict)
    fingerprints: list[str] = Field(default_factory=list, max_length=100)
    change_kinds: list[str] = Field(default_factory=list, max_length=20)
    limit: int = Field(default=5, ge=1, le=50)


@router.post(
    "/similar",
    summary="Past incidents like a description (before declaring)",
    response_model=out.SimilarMatches,
)
def similar_to(runtime: RuntimeDep, principal: PrincipalDep, body: SimilarQuery) -> dict[str, Any]:
    principal.require("viewer")
    service: SimilarityService = runtime.similarity
    features = Features.of(
        services=body.services,
        fingerprints=body.fingerprints,
        labels=body.labels,
        change_kinds=body.change_kinds,
        title=body.title,
        summary=body.summary,
    )
    return {"matches": service.similar_to(features, limit=body.limit)}


@router.get(
    "/patterns",
    summary="Recurring patterns and the critical-patterns document",
    response_model=out.Patterns,
    responses={200: {"content": {"text/markdown": {}}}},
)
def get_patterns(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    format: Annotated[str, Query(pattern="^(json|markdown)$")] = "json",
) -> Any:
    principal.require("viewer")
    data = patterns.report(runtime)
    if format == "markdown":
        return PlainTextResponse(data["document"], media_type="text/markdown; charset=utf-8")
    return data


class RunbookDraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extend: dict[str, Any] | None = None


@router.post(
    "/incidents/{incident_id}/runbook-draft",
    summary="Turn the steps taken into a runbook draft (or extend a given runbook)",
    response_model=out.RunbookDraft,
)
def runbook_from_incident(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident_id: str,
    body: RunbookDraftIn | None = None,
) -> dict[str, Any]:
    principal.require("viewer")
    with runtime.db.read() as conn:
        row = _incident_row(conn, incident_id)
        events = load_events(conn, int(row.id))
    state = IncidentState.from_dict(row.state)
    extend = body.extend if body else None
    if extend is not None and not isinstance(extend.get("steps", []), list):
        raise InvalidInput("the runbook to extend must have a list of steps")
    runbook = runbook_draft.draft(state, events, extend=extend)
    return {"runbook": runbook, "yaml": runbook_draft.to_yaml(runbook)}
