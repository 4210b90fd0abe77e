"""Health, readiness, tokens and policy endpoints."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from warroom import __version__
from warroom.api import responses as out
from warroom.api.deps import PrincipalDep, RowId, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import (
    DEFAULT_LIMIT,
    CursorToken,
    Keyset,
    Limit,
    close_page,
    page_list,
)
from warroom.core import audit, auth, migrate
from warroom.core.clock import ensure_utc
from warroom.core.inputs import Moment
from warroom.policy.loader import PRESET_NAMES, load_preset, policy_to_data

router = APIRouter(tags=["system"], route_class=ApiRoute)


@router.get("/healthz", summary="Liveness", response_model=out.Health)
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrations current",
    response_model=out.Readiness,
)
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with runtime.db.read() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current = migrate.current_revision(runtime.db)
        head = migrate.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
    except Exception as exc:  # readiness reports any failure as not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1)
    expires_at: Moment | None = None
    kind: Literal["token", "agent"] = Field(
        default="token", description="'agent' for an AI assistant (shown as agent:<name>)"
    )


@router.get(
    "/api/v1/tokens",
    tags=["tokens"],
    summary="List tokens (never their values)",
    response_model=out.TokenList,
)
def list_tokens(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.read() as conn:
        items = auth.list_tokens(conn)
    page = page_list(
        items,
        TOKENS,
        lambda t: (t["id"],),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


TOKENS = Keyset("tokens", ("int",))
AUDIT = Keyset("audit", ("int",), descending=True)
PRESETS = Keyset("presets", ("int", "str"))


@router.post(
    "/api/v1/tokens",
    status_code=201,
    tags=["tokens"],
    summary="Create a token",
    response_model=out.TokenCreated,
)
def create_token(runtime: RuntimeDep, principal: PrincipalDep, body: TokenIn) -> dict[str, Any]:
    principal.require("admin")
    now = runtime.clock.now()
    with runtime.db.write() as conn:
        token_id, token = auth.create_token(
            conn,
            name=body.name,
            scopes=body.scopes,
            created_by=principal.actor,
            now=now,
            expires_at=ensure_utc(body.expires_at) if body.expires_at else None,
            kind=body.kind,
        )
        audit.record(
            conn,
            actor=principal.actor,
            action="token.create",
            target=f"token:{token_id}",
            now=now,
            details={"name": body.name, "scopes": sorted(set(body.scopes)), "kind": body.kind},
        )
    return {
        "id": token_id,
        "name": body.name,
        "scopes": sorted(set(body.scopes)),
        "kind": body.kind,
        "token": token,
    }


@router.delete(
    "/api/v1/tokens/{token_id}",
    tags=["tokens"],
    summary="Revoke a token",
    response_model=out.TokenRevoked,
)
def revoke_token(runtime: RuntimeDep, principal: PrincipalDep, token_id: RowId) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.write() as conn:
        auth.revoke_token(conn, token_id, runtime.clock.now())
        audit.record(
            conn,
            actor=principal.actor,
            action="token.revoke",
            target=f"token:{token_id}",
            now=runtime.clock.now(),
        )
    return {"id": token_id, "revoked": True}


@router.get(
    "/api/v1/audit",
    tags=["audit"],
    summary="The audit log of admin actions (admin)",
    response_model=out.AuditLog,
)
def audit_log(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
    action: str | None = None,
) -> dict[str, Any]:
    principal.require("admin")
    start = AUDIT.decode(cursor)
    with runtime.db.read() as conn:
        rows = audit.entries(
            conn, limit=limit + 1, before_id=int(start[0]) if start else None, action=action
        )
    items, token = close_page(
        rows, AUDIT, lambda e: (e["id"],), limit=limit, request=request, response=response
    )
    return {"items": items, "next_cursor": int(token) if token else None}


@router.get(
    "/api/v1/policy",
    tags=["policy"],
    summary="The policy in force",
    response_model=out.PolicyDocument,
)
def get_policy(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    return policy_to_data(runtime.policy)


@router.get(
    "/api/v1/policy/presets",
    tags=["policy"],
    summary="Names of the built-in presets",
    response_model=out.PresetList,
)
def list_presets(
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = [
        (n, {"name": name, "description": load_preset(name).description})
        for n, name in enumerate(PRESET_NAMES)
    ]
    page = page_list(
        items,
        PRESETS,
        lambda i: (i[0], i[1]["name"]),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": [item for _, item in page]}


@router.get(
    "/api/v1/policy/presets/{name}",
    tags=["policy"],
    summary="One built-in preset",
    response_model=out.PolicyDocument,
)
def get_preset(principal: PrincipalDep, name: str) -> dict[str, Any]:
    principal.require("viewer")
    return policy_to_data(load_preset(name))
