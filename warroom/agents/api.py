"""`GET /api/v1/agents/me`: who the caller is, as an agent sees itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from warroom.api.deps import PrincipalDep
from warroom.api.models import ApiModel, ApiRoute

router = APIRouter(prefix="/api/v1", tags=["agents"], route_class=ApiRoute)


class Me(ApiModel):
    name: str = Field(description="the name on the timeline, e.g. agent:triage-bot")
    kind: str = Field(examples=["token", "agent", "session", "local"])
    scopes: list[str]
    effective_scopes: list[str] = Field(description="what the scopes allow, expanded")


@router.get(
    "/agents/me",
    summary="Who the caller is: name on the timeline, kind, scopes",
    response_model=Me,
)
def whoami(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "name": principal.actor,
        "kind": principal.kind,
        "scopes": sorted(principal.scopes),
        "effective_scopes": sorted(principal.effective_scopes),
    }
