"""The delivery log over the API: one row per channel tried for each notification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.notify.tables import deliveries

# Served under the on-call API, where the log was first published.
router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"])


@router.get("/deliveries")
def list_deliveries(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    incident: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    principal.require("viewer")
    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
    if incident:
        query = query.where(deliveries.c.incident == incident.upper())
    with runtime.db.read() as conn:
        rows = conn.execute(query).all()
    items = []
    for row in rows:
        item = dict(row._mapping)
        item["attempted_at"] = row.attempted_at.isoformat()
        items.append(item)
    return {"items": items}
