"""Sign-in with the identity provider: `/login/oidc` starts it, the callback finishes it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from warroom.identity.oidc import SignInError
from warroom.identity.service import IdentityService
from warroom.web import pages, users
from warroom.web.pages import PageRuntime, render

log = logging.getLogger("warroom.identity")
router = APIRouter(include_in_schema=False)

STATE_COOKIE = "warroom_oidc_state"
_STATUS = {"denied": 403, "disabled": 403, "no_role": 403, "no_account": 403}


def _service(request: Request) -> IdentityService:
    service: IdentityService = request.app.state.runtime.identity
    return service


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never send a sign-in to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _failed(request: Request, exc: SignInError) -> Response:
    # The person gets the explanation; the log gets the details (never a token).
    log.warning("OIDC sign-in refused (%s): %s", exc.reason, exc.detail)
    service = _service(request)
    options = service.login_options()
    context = {
        "next": "/",
        "login_csrf": "",
        "error": exc.message,
        "sso_name": options.sso_name,
        "password_login": False,
        "sso_retry": True,
    }
    status = _STATUS.get(exc.reason, 400 if exc.reason != "provider_unreachable" else 502)
    response = render(request, "login.html", context, status_code=status)
    response.delete_cookie(STATE_COOKIE, path="/login/oidc")
    return response


@router.get("/login/oidc")
async def sign_in_start(request: Request, runtime: PageRuntime, next: str = "/") -> Response:
    try:
        url, state = await run_in_threadpool(_service(request).begin, _safe_next(next))
    except SignInError as exc:
        return _failed(request, exc)
    response = RedirectResponse(url, status_code=303)
    # SameSite=Lax: the provider sends the browser back with a top-level GET.
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/login/oidc",
    )
    return response


@router.get("/login/oidc/callback")
async def sign_in_callback(request: Request, runtime: PageRuntime) -> Response:
    params = request.query_params
    try:
        session_id, _, next_url = await run_in_threadpool(
            lambda: _service(request).finish(
                state=params.get("state", ""),
                cookie_state=request.cookies.get(STATE_COOKIE),
                code=params.get("code"),
                error=params.get("error"),
                error_description=params.get("error_description"),
            )
        )
    except SignInError as exc:
        return _failed(request, exc)
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    response.set_cookie(
        pages.SESSION_COOKIE,
        session_id,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(STATE_COOKIE, path="/login/oidc")
    return response
