"""The outbox's admin API under /api/v1/outbox: effects not yet done, and retrying one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import and_, or_, select

from warroom.api import responses as out
from warroom.api.deps import PrincipalDep, RowId, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import DEFAULT_LIMIT, CursorToken, Keyset, Limit, close_page
from warroom.core import outbox, tables
from warroom.core.errors import Conflict

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"], route_class=ApiRoute)


def _effect_view(row: Any) -> dict[str, Any]:
    payload = dict(row.payload)
    if "urls" in payload:  # secrets: channels only
        from warroom.notify.delivery import channel_of

        payload["urls"] = [channel_of(u) for u in payload["urls"]]
    if "body" in payload:
        payload["body"] = "(hidden: may hold an acknowledgement link)"
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "due_at": row.due_at.isoformat(),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "dedup_key": row.dedup_key,
        "incident_id": row.incident_id,
        "payload": payload,
    }


@router.get("", response_model=out.OutboxList)
def list_outbox(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    wanted = status or [outbox.PENDING, outbox.RUNNING, outbox.FAILED, outbox.DEAD]
    t = tables.outbox
    query = select(t).where(t.c.status.in_(wanted))
    start = OUTBOX.decode(cursor)
    if start is not None:
        try:
            due_at = datetime.fromisoformat(str(start[0]))
        except ValueError:
            raise OUTBOX.refuse(cursor) from None
        query = query.where(or_(t.c.due_at > due_at, and_(t.c.due_at == due_at, t.c.id > start[1])))
    with runtime.db.read() as conn:
        rows = conn.execute(query.order_by(t.c.due_at, t.c.id).limit(limit + 1)).all()
        depth = outbox.depth(conn)
    page, _ = close_page(
        rows,
        OUTBOX,
        lambda r: (r.due_at.isoformat(), r.id),
        limit=limit,
        request=request,
        response=response,
    )
    return {"items": [_effect_view(r) for r in page], "depth": depth}


# Ordered by due time, then id: a retried effect moves to its new due time.
OUTBOX = Keyset("outbox", ("str", "int"))


@router.post("/{effect_id}/retry", response_model=out.Effect)
def retry_effect(runtime: RuntimeDep, principal: PrincipalDep, effect_id: RowId) -> Any:
    principal.require("admin")
    with runtime.db.write() as conn:
        if not outbox.retry(conn, effect_id, runtime.clock.now()):
            raise Conflict(
                f"effect {effect_id} does not exist or is not failed/dead", code="not_retryable"
            )
        row = conn.execute(select(tables.outbox).where(tables.outbox.c.id == effect_id)).one()
    return _effect_view(row)
