"""The pages: login, dashboard, incident list, declare, the war room and tokens.

Every action calls the same service as the REST API (no second write path); the service
checks the role, so a viewer's forged post is refused with 403 like an API call would be.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from warroom.core import auth
from warroom.core.auth import Principal
from warroom.core.errors import (
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    WarroomError,
)
from warroom.core.ratelimit import LoginThrottle
from warroom.core.runtime import Runtime
from warroom.core.vocab import Status
from warroom.incidents import schemas
from warroom.web import live, pages, users, views
from warroom.web.pages import PageRuntime, PageSession, render
from warroom.web.security import check_csrf

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "warroom_login_csrf"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return InvalidInput(f"{where}: {first.get('msg')}" if where else str(first.get("msg")))


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---- login ----------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, runtime: PageRuntime, next: str = "/") -> Response:
    if pages.current_session(request, runtime) is not None:
        return _redirect(_safe_next(next))
    token = secrets.token_urlsafe(24)
    with runtime.db.read() as conn:
        first_run = not users.list_users(conn)
    context = {"next": _safe_next(next), "login_csrf": token, "first_run": first_run}
    context.update(_login_options(runtime))
    response = render(request, "login.html", context)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def _login_options(runtime: Runtime) -> dict[str, Any]:
    """Single sign-on button and password form, as the identity package says (if installed)."""
    identity = getattr(runtime, "identity", None)  # absent without warroom.identity
    if identity is None:
        return {"sso_name": None, "password_login": True}
    options = identity.login_options()
    return {"sso_name": options.sso_name, "password_login": options.password_login}


@router.post("/login")
async def login_submit(request: Request, runtime: PageRuntime) -> Response:
    form = await request.form()
    next_url = _safe_next(str(form.get("next") or "/"))
    options = _login_options(runtime)
    if not options["password_login"]:
        ctx = {"next": next_url, "login_csrf": "", **options,
               "error": "Password login is disabled here; sign in with "
                        f"{options['sso_name']}."}  # fmt: skip
        return render(request, "login.html", ctx, status_code=403)
    try:
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get("csrf_token") or ""))
    except WarroomError:
        return _redirect(pages.login_url(next_url))

    name = str(form.get("name") or "").strip().lower()
    client = request.client.host if request.client else "?"
    keys = [f"user:{name}", f"addr:{client}"]
    throttle: LoginThrottle = request.app.state.login_throttle

    def attempt() -> tuple[str, users.Session]:
        with runtime.db.write() as conn:
            return users.login(
                conn, str(form.get("name") or ""), str(form.get("password") or ""),
                runtime.clock.now(),
            )  # fmt: skip

    try:
        throttle.check(keys)
        session_id, _ = await run_in_threadpool(attempt)
        throttle.succeeded(keys)
    except (Unauthorized, RateLimited) as exc:
        if isinstance(exc, Unauthorized):
            throttle.failed(keys)
        token = str(form.get("csrf_token"))
        ctx = {"next": next_url, "login_csrf": token, "error": exc.message,
               "name": str(form.get("name") or ""), **options}  # fmt: skip
        page = render(request, "login.html", ctx, status_code=exc.status_code)
        if isinstance(exc, RateLimited) and exc.retry_after:
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = _redirect(next_url)
    response.set_cookie(
        pages.SESSION_COOKIE,
        session_id,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    form = await request.form()
    pages.form_principal(session, form)
    session_id = request.cookies.get(pages.SESSION_COOKIE, "")

    def end() -> str | None:
        with runtime.db.write() as conn:
            users.logout(conn, session_id)
        identity = getattr(runtime, "identity", None)
        # Signed in through the identity provider: end the session there too (RP-initiated).
        return identity.logout_url(session.user_id) if identity is not None else None

    provider_logout = await run_in_threadpool(end)
    if provider_logout:
        # A link, not a redirect: the CSP's form-action keeps form posts on this site.
        options = _login_options(runtime)
        context = {"provider_logout": provider_logout, "sso_name": options["sso_name"]}
        request.state.web_session = None  # the page is drawn logged out
        response: Response = render(request, "signed_out.html", context)
    else:
        response = _redirect("/login")
    response.delete_cookie(pages.SESSION_COOKIE, path="/")
    return response


# ---- dashboard ------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "dashboard.html", views.dashboard(runtime), session=session)


@router.get("/live/dashboard")
def dashboard_live(
    request: Request, runtime: PageRuntime, session: PageSession
) -> StreamingResponse:
    def fragment() -> tuple[str, str | None]:
        body = render(request, "_dashboard_panels.html", views.dashboard(runtime), session=session)
        return bytes(body.body).decode(), None

    return _stream(live.stream(request, request.app.state.live_hub, None, fragment))


def _stream(source: Any) -> StreamingResponse:
    return StreamingResponse(
        source,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# ---- incident list --------------------------------------------------------------------


def _list_filter(request: Request, runtime: Runtime) -> tuple[schemas.ListFilter, dict[str, Any]]:
    params = request.query_params
    state = params.get("state", "open")
    raw: dict[str, Any] = {
        "status": [s for s in params.getlist("status") if s],
        "severity": [s for s in params.getlist("severity") if s],
        "service": params.get("service") or None,
        "q": (params.get("q") or "").strip() or None,
        "open": {"open": True, "closed": False}.get(state),
        "limit": 50,
    }
    if params.get("before"):
        raw["before_id"] = params.get("before")
    try:
        flt = schemas.ListFilter(**raw)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    for severity in flt.severity:
        runtime.policy.severity(severity)
    form = {
        "state": state,
        "status": flt.status[0].value if flt.status else "",
        "severity": flt.severity[0] if flt.severity else "",
        "service": flt.service or "",
        "q": flt.q or "",
    }
    return flt, form


def _list_context(request: Request, runtime: Runtime) -> dict[str, Any]:
    flt, form = _list_filter(request, runtime)
    page = runtime.incidents.search(flt)
    query = {k: v for k, v in form.items() if v}
    more = None
    if page.next_cursor is not None:
        more = "/incidents?" + urlencode({**query, "before": page.next_cursor})
    # Most severe first, newest first within a severity (the page's incidents).
    items = sorted(
        page.items,
        key=lambda i: (views.severity_rank(runtime, i["severity"]), -i["declared_at"].timestamp()),
    )
    return {
        "items": items,
        "form": form,
        "more": more,
        "live_query": urlencode(query),
        "statuses": [s.value for s in Status],
        "services": [s.name for s in runtime.config.services],
    }


@router.get("/incidents")
def incident_list(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    context = _list_context(request, runtime)
    headers = request.headers
    fragment = headers.get("hx-request") == "true" and not headers.get("hx-history-restore-request")
    response = render(
        request, "_incident_rows.html" if fragment else "incidents.html", context, session=session
    )
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/incidents/live")
def incident_list_live(
    request: Request, runtime: PageRuntime, session: PageSession
) -> StreamingResponse:
    def fragment() -> tuple[str, str | None]:
        context = _list_context(request, runtime)
        body = render(request, "_incident_rows.html", context, session=session)
        return bytes(body.body).decode(), None

    return _stream(live.stream(request, request.app.state.live_hub, None, fragment))


# ---- declare --------------------------------------------------------------------------


def _yes_no(value: Any) -> bool | None:
    return {"yes": True, "no": False}.get(str(value or ""))


def _triage_from(form: Any) -> schemas.TriageIn | None:
    """The triage answers of a form, or None when every question is left unknown (then no
    severity is proposed: an all-unknown triage is not evidence of a small incident)."""
    answers: dict[str, Any] = {name: _yes_no(form.get(name)) for name, _ in views.TRIAGE_QUESTIONS}
    pct = str(form.get("users_affected_pct") or "").strip()
    if pct:
        try:
            answers["users_affected_pct"] = float(pct)
        except ValueError as exc:
            raise InvalidInput("users affected must be a percentage (0-100)") from exc
    if all(value is None for value in answers.values()):
        return None
    try:
        return schemas.TriageIn(**answers)
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _declare_context(runtime: Runtime, form: Any) -> dict[str, Any]:
    proposal = None
    try:
        answers = _triage_from(form)
        proposal = runtime.incidents.propose_triage(answers) if answers else None
    except InvalidInput:
        proposal = None
    return {
        "form": form,
        "questions": views.TRIAGE_QUESTIONS,
        "proposal": proposal,
        "severities": runtime.policy.severities,
        "types": views.TYPE_CHOICES,
        "services": [s.name for s in runtime.config.services],
        "selected_services": form.getlist("services") if hasattr(form, "getlist") else [],
    }


@router.get("/incidents/new")
def declare_form(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(
        request, "declare.html", _declare_context(runtime, request.query_params), session=session
    )


@router.get("/incidents/new/proposal")
def declare_proposal(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    context = _declare_context(runtime, request.query_params)
    return render(request, "_proposal.html", context, session=session)


@router.post("/incidents/new")
async def declare_submit(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    form = await request.form()

    def declare() -> str:
        principal = pages.form_principal(session, form)
        services = [s for s in form.getlist("services") if isinstance(s, str) and s]
        extra = str(form.get("services_text") or "")
        services += [s.strip() for s in extra.split(",") if s.strip()]
        commander = str(form.get("commander") or "").strip()
        body: dict[str, Any] = {
            "title": str(form.get("title") or ""),
            "summary": str(form.get("summary") or ""),
            "services": services,
            "triage": _triage_from(form),
            "severity": str(form.get("severity") or "") or None,
            "type": str(form.get("type") or "") or None,
            "override_reason": str(form.get("override_reason") or "") or None,
            "roles": {"commander": commander} if commander else {},
        }
        try:
            request_model = schemas.DeclareIn(**body)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        return runtime.incidents.declare(principal, request_model).public_id

    try:
        public_id = await run_in_threadpool(declare)
    except WarroomError as exc:
        context = {**_declare_context(runtime, form), "error": exc.message}
        return render(
            request, "declare.html", context, status_code=exc.status_code, session=session
        )
    return _redirect(f"/incidents/{public_id}")


# ---- the war room ---------------------------------------------------------------------


@router.get("/incidents/{public_id}")
def incident_page(
    request: Request,
    runtime: PageRuntime,
    session: PageSession,
    public_id: str,
    all: bool = False,
) -> HTMLResponse:
    context = views.incident_page(runtime, public_id, show_all=all)
    return render(request, "incident.html", context, session=session)


@router.get("/incidents/{public_id}/live")
def incident_live(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, after: int = 0
) -> StreamingResponse:
    key = live.incident_key(runtime, public_id.strip().upper())
    if key is None:
        raise NotFound(f"no incident {public_id}")
    last_id = request.headers.get("last-event-id", "")
    sent = {"seq": int(last_id) if last_id.isdigit() else after}

    def update() -> tuple[str, str | None]:
        context = views.incident_page(runtime, public_id, after_seq=sent["seq"])
        context["new_events"] = context["events"]
        sent["seq"] = max(sent["seq"], int(context["last_seq"]))
        body = render(request, "_incident_update.html", context, session=session)
        return bytes(body.body).decode(), str(sent["seq"])

    # The first update catches up on anything that happened between the page and the stream.
    return _stream(live.stream(request, request.app.state.live_hub, key, update, send_first=True))


Action = Callable[[Principal, Any], object]


async def _act(
    request: Request, runtime: Runtime, session: users.Session, public_id: str, action: Action
) -> Response:
    """Run one incident action from a form; re-render the war room with the error on failure."""
    form = await request.form()

    def run() -> None:
        principal = pages.form_principal(session, form)
        try:
            action(principal, form)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    try:
        await run_in_threadpool(run)
    except WarroomError as exc:

        def page() -> dict[str, Any]:
            return views.incident_page(runtime, public_id)

        context = {**(await run_in_threadpool(page)), "error": exc.message, "form": form}
        return render(
            request, "incident.html", context, status_code=exc.status_code, session=session
        )
    return _redirect(f"/incidents/{public_id}")


@router.post("/incidents/{public_id}/ack")
async def ack(request: Request, runtime: PageRuntime, session: PageSession, public_id: str) -> Any:
    return await _act(
        request, runtime, session, public_id,
        lambda p, f: runtime.incidents.acknowledge(p, public_id),
    )  # fmt: skip


@router.post("/incidents/{public_id}/status")
async def move(request: Request, runtime: PageRuntime, session: PageSession, public_id: str) -> Any:
    def action(p: Principal, f: Any) -> object:
        body = schemas.StatusIn(
            status=str(f.get("status") or ""), reason=str(f.get("reason") or "") or None
        )
        return runtime.incidents.move(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/severity")
async def severity(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        body = schemas.SeverityIn(
            severity=str(f.get("severity") or ""), reason=str(f.get("reason") or "") or None
        )
        return runtime.incidents.change_severity(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/roles")
async def assign(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        person = str(f.get("person") or "").strip() or None
        body = schemas.RoleIn(role=str(f.get("role") or ""), person=person)
        return runtime.incidents.assign_role(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/notes")
async def note(request: Request, runtime: PageRuntime, session: PageSession, public_id: str) -> Any:
    def action(p: Principal, f: Any) -> object:
        body = schemas.NoteIn(text=str(f.get("text") or ""))
        return runtime.incidents.add_note(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/resolve")
async def resolve(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        checklist: dict[str, schemas.ChecklistAnswer] = {}
        for item in runtime.policy.resolution_checklist:
            confirmed = f.get(f"confirm_{item.id}") == "yes"
            waived = str(f.get(f"waive_{item.id}") or "").strip()
            if confirmed or waived:
                checklist[item.id] = schemas.ChecklistAnswer(
                    confirmed=confirmed, waived=None if confirmed else waived
                )
        body = schemas.ResolveIn(
            summary=str(f.get("summary") or ""),
            root_cause=str(f.get("root_cause") or ""),
            permanent_fix=str(f.get("permanent_fix") or ""),
            checklist=checklist,
        )
        return runtime.incidents.resolve(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/close")
async def close(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    return await _act(
        request, runtime, session, public_id, lambda p, f: runtime.incidents.close(p, public_id)
    )


@router.post("/incidents/{public_id}/reopen")
async def reopen(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(p: Principal, f: Any) -> object:
        body = schemas.ReasonIn(reason=str(f.get("reason") or ""))
        return runtime.incidents.reopen(p, public_id, body)

    return await _act(request, runtime, session, public_id, action)


# ---- war room panels: status updates and runbooks ------------------------------------


async def _panel_act(
    request: Request,
    runtime: Runtime,
    session: users.Session,
    public_id: str,
    action: Callable[[Principal, Any], dict[str, Any] | None],
) -> Response:
    """Like `_act`, but an action may return extra context to show on the page (a notice)."""
    form = await request.form()

    def run() -> dict[str, Any] | None:
        principal = pages.form_principal(session, form)
        try:
            return action(principal, form)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    extra: dict[str, Any] | None
    status = 200
    try:
        extra = await run_in_threadpool(run)
    except WarroomError as exc:
        extra, status = {"error": exc.message, "form": form}, exc.status_code
    if extra is None:
        return _redirect(f"/incidents/{public_id}")
    extra.setdefault("form", form)
    context = {**(await run_in_threadpool(views.incident_page, runtime, public_id)), **extra}
    return render(request, "incident.html", context, status_code=status, session=session)


def _update_in(form: Any) -> Any:
    from warroom.comms.updates import UpdateIn

    return UpdateIn(
        status=str(form.get("status") or ""),
        impact=str(form.get("impact") or ""),
        action=str(form.get("action") or ""),
        next=str(form.get("next") or "").strip() or None,
        note=str(form.get("note") or ""),
    )


@router.post("/incidents/{public_id}/updates")
async def status_update(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str
) -> Any:
    def action(p: Principal, f: Any) -> dict[str, Any] | None:
        comms = runtime.comms.service
        p.require("responder")
        body = _update_in(f)
        if f.get("mode") == "preview":
            return {"update_preview": comms.preview(public_id, body)}
        comms.publish(p, public_id, body)
        return None

    return await _panel_act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/runbooks/{runbook_id}/run")
async def runbook_run(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, runbook_id: str
) -> Any:
    def action(p: Principal, f: Any) -> dict[str, Any] | None:
        from warroom.workbench.schemas import RunIn

        body = RunIn(step=str(f.get("step") or "") or None)
        result = runtime.workbench.run(p, public_id, runbook_id, body)
        return {"step_notice": result.get("results", [])}

    return await _panel_act(request, runtime, session, public_id, action)


@router.post("/incidents/{public_id}/runbooks/{runbook_id}/approve")
async def runbook_approve(
    request: Request, runtime: PageRuntime, session: PageSession, public_id: str, runbook_id: str
) -> Any:
    def action(p: Principal, f: Any) -> dict[str, Any] | None:
        from warroom.workbench.schemas import ApproveIn

        body = ApproveIn(step=str(f.get("step") or ""))
        result = runtime.workbench.approve(p, public_id, runbook_id, body)
        return {
            "step_notice": [
                {"step": body.step, "status": "approved" if result.get("approved") else "recorded"}
            ]
        }

    return await _panel_act(request, runtime, session, public_id, action)


# ---- admin: tokens and users ----------------------------------------------------------


def _tokens_context(runtime: Runtime) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return {"tokens": auth.list_tokens(conn), "scopes": auth.SCOPES, "kinds": auth.TOKEN_KINDS}


@router.get("/admin/tokens")
def tokens_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    pages.require_scope(session, "admin")
    return render(request, "tokens.html", _tokens_context(runtime), session=session)


@router.post("/admin/tokens")
async def token_create(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    form = await request.form()

    def create() -> dict[str, Any]:
        principal = pages.form_principal(session, form)
        principal.require("admin")
        name = str(form.get("name") or "").strip()
        kind = str(form.get("kind") or "token")
        scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
        if not name:
            raise pages.field_invalid("name", "a token needs a name (who or what uses it)")
        if not scopes:
            raise pages.field_invalid("scopes", "tick at least one scope")
        try:
            with runtime.db.write() as conn:
                token_id, token = auth.create_token(
                    conn,
                    name=name,
                    scopes=scopes,
                    created_by=principal.actor,
                    now=runtime.clock.now(),
                    kind=kind,
                )
        except InvalidInput as exc:
            field = "kind" if kind == "agent" else "scopes"
            raise pages.field_invalid(field, exc.message, code=exc.code) from None
        return {"id": token_id, "token": token, "name": name, "kind": kind}

    context: dict[str, Any]
    try:
        created = await run_in_threadpool(create)
        context, status = {"created": created}, 201
    except WarroomError as exc:
        context, status = pages.refused(exc, form), exc.status_code
    context.update(await run_in_threadpool(_tokens_context, runtime))
    return render(request, "tokens.html", context, status_code=status, session=session)


@router.post("/admin/tokens/{token_id}/revoke")
async def token_revoke(
    request: Request, runtime: PageRuntime, session: PageSession, token_id: int
) -> Response:
    form = await request.form()

    def revoke() -> None:
        principal = pages.form_principal(session, form)
        principal.require("admin")
        with runtime.db.write() as conn:
            auth.revoke_token(conn, token_id, runtime.clock.now())

    await run_in_threadpool(revoke)
    return _redirect("/admin/tokens")
