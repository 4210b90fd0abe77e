"""Health, readiness, tokens and policy endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from warroom import __version__
from warroom.api.deps import Cursor, PrincipalDep, RowId, RuntimeDep
from warroom.core import audit, auth, migrate
from warroom.core.clock import ensure_utc
from warroom.core.inputs import Moment
from warroom.policy.loader import PRESET_NAMES, load_preset, policy_to_data

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="Readiness: database reachable and migrations current")
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


@router.get("/api/v1/tokens", tags=["tokens"], summary="List tokens (never their values)")
def list_tokens(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.read() as conn:
        return {"items": auth.list_tokens(conn)}


@router.post("/api/v1/tokens", status_code=201, tags=["tokens"], summary="Create a token")
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


@router.delete("/api/v1/tokens/{token_id}", tags=["tokens"], summary="Revoke a token")
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


@router.get("/api/v1/audit", tags=["audit"], summary="The audit log of admin actions (admin)")
def audit_log(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Cursor = None,
    action: str | None = None,
) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.read() as conn:
        items = audit.entries(conn, limit=limit + 1, before_id=cursor, action=action)
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": items[-1]["id"] if more and items else None}


@router.get("/api/v1/policy", tags=["policy"], summary="The policy in force")
def get_policy(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    return policy_to_data(runtime.policy)


@router.get("/api/v1/policy/presets", tags=["policy"], summary="Names of the built-in presets")
def list_presets(principal: PrincipalDep) -> dict[str, Any]:
    principal.require("viewer")
    return {"items": [{"name": n, "description": load_preset(n).description} for n in PRESET_NAMES]}


@router.get("/api/v1/policy/presets/{name}", tags=["policy"], summary="One built-in preset")
def get_preset(principal: PrincipalDep, name: str) -> dict[str, Any]:
    principal.require("viewer")
    return policy_to_data(load_preset(name))
