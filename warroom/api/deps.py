"""Request dependencies: the runtime and the authenticated principal."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warroom.core.auth import Principal, authenticate, record_use
from warroom.core.errors import Forbidden, RateLimited, Unauthorized
from warroom.core.inputs import MAX_ID
from warroom.core.runtime import Runtime

Authenticator = Callable[[Request, Runtime], Principal | None]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Declares bearer authentication in the OpenAPI document (Swagger's "Authorize"); the token
# itself is read by `_authenticate`, which also accepts web sessions.
_bearer = HTTPBearer(auto_error=False, description="an API token: warroom token create NAME")


def get_principal(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    """The authenticated principal; read-only principals are refused every write up front."""
    principal = _authenticate(request, runtime)
    if request.method not in READ_METHODS and principal.effective_scopes <= {"viewer"}:
        # Default-deny: checked before the body is even validated, so a viewer gets 403 on
        # every write whatever it sends; handlers still check the exact scope they need.
        raise Forbidden(
            f"this action needs the 'responder' scope; {principal.name} has read-only access"
        )
    return principal


def _authenticate(request: Request, runtime: Runtime) -> Principal:
    """A bearer token, else another registered authenticator (web session), else the local CLI."""
    token = bearer_token(request)
    if token is not None:
        now = runtime.clock.now()
        with runtime.db.read() as conn:
            principal: Principal = authenticate(conn, token, now)
        record_use(runtime.db, principal, now)
        wait = request.app.state.token_limiter.take(principal.token_id)
        if wait > 0:
            raise RateLimited(
                f"too many requests for this token; retry in {math.ceil(wait)}s",
                retry_after=math.ceil(wait),
            )
        return principal
    for authenticator in request.app.state.authenticators:
        principal = authenticator(request, runtime)
        if principal is not None:
            return principal
    local: Principal | None = request.app.state.local_principal
    if local is not None:
        return local
    raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]

# Ids and cursors: 64-bit database keys (larger numbers are bad input, not a server error).
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the page before")]
