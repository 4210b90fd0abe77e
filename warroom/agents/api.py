"""`GET /api/v1/agents/me`: who the caller is, as an agent sees itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from warroom.api.deps import PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["agents"])


@router.get("/agents/me", summary="Who the caller is: name on the timeline, kind, scopes")
def whoami(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "name": principal.actor,
        "kind": principal.kind,
        "scopes": sorted(principal.scopes),
        "effective_scopes": sorted(principal.effective_scopes),
    }
