"""The delivery log over the API: one row per channel tried for each notification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import DEFAULT_LIMIT, CursorToken, Keyset, Limit, close_page
from warroom.notify import responses as out
from warroom.notify.tables import deliveries

# Served under the on-call API, where the log was first published.
router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"], route_class=ApiRoute)


@router.get("/deliveries", response_model=out.DeliveryList)
def list_deliveries(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    incident: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit + 1)
    start = DELIVERIES.decode(cursor)
    if start is not None:
        query = query.where(deliveries.c.id < start[0])
    if incident:
        query = query.where(deliveries.c.incident == incident.upper())
    with runtime.db.read() as conn:
        rows = conn.execute(query).all()
    items = []
    for row in rows:
        item = dict(row._mapping)
        item["attempted_at"] = row.attempted_at.isoformat()
        items.append(item)
    page, _ = close_page(
        items,
        DELIVERIES,
        lambda d: (int(d["id"]),),
        limit=limit,
        request=request,
        response=response,
    )
    return {"items": page}


DELIVERIES = Keyset("deliveries", ("int",), descending=True)
