"""The outbox's admin API under /api/v1/outbox: effects not yet done, and retrying one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from warroom.api.deps import PrincipalDep, RowId, RuntimeDep
from warroom.core import outbox, tables
from warroom.core.errors import Conflict

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])


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


@router.get("")
def list_outbox(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    principal.require("viewer")
    wanted = status or [outbox.PENDING, outbox.RUNNING, outbox.FAILED, outbox.DEAD]
    t = tables.outbox
    with runtime.db.read() as conn:
        rows = conn.execute(
            select(t).where(t.c.status.in_(wanted)).order_by(t.c.due_at, t.c.id).limit(limit)
        ).all()
        depth = outbox.depth(conn)
    return {"items": [_effect_view(r) for r in rows], "depth": depth}


@router.post("/{effect_id}/retry")
def retry_effect(runtime: RuntimeDep, principal: PrincipalDep, effect_id: RowId) -> Any:
    principal.require("admin")
    with runtime.db.write() as conn:
        if not outbox.retry(conn, effect_id, runtime.clock.now()):
            raise Conflict(
                f"effect {effect_id} does not exist or is not failed/dead", code="not_retryable"
            )
        row = conn.execute(select(tables.outbox).where(tables.outbox.c.id == effect_id)).one()
    return _effect_view(row)
