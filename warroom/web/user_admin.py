"""People and access: web users' lifecycle (create, reset or change a password, disable,
enable, change role, delete), the account page and the audit log page, over the API and the
web. The CLI's `warroom user ...` goes through the API routes here.

Every change runs one function of `warroom.web.users` in one transaction with its audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.api.models import ApiRoute
from warroom.api.pagination import DEFAULT_LIMIT, CursorToken, Keyset, Limit, page_list
from warroom.core import audit
from warroom.core.auth import Principal
from warroom.core.errors import Forbidden, InvalidInput, Unauthorized, WarroomError
from warroom.core.runtime import Runtime
from warroom.web import pages, users
from warroom.web import responses as out
from warroom.web.pages import PageRuntime, PageSession, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["users"], route_class=ApiRoute)

# The audit log is linked from the Users page (the top bar stays on one line).


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    role: str = "viewer"


class PasswordIn(BaseModel):
    """A new password; `current_password` is needed unless an admin resets someone's."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=1000)
    current_password: str | None = Field(default=None, max_length=1000)


class RoleChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str


def create_user(runtime: Runtime, principal: Principal, body: UserIn) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.write() as conn:
        return users.create_user(
            conn,
            name=body.name,
            password=body.password,
            role=body.role,
            created_by=principal.actor,
            now=runtime.clock.now(),
        )


def set_password(
    runtime: Runtime,
    principal: Principal,
    name: str,
    body: PasswordIn,
    *,
    keep_session: str | None = None,
) -> dict[str, Any]:
    """An admin resets anyone's password (no current one needed); a user changes their own,
    proving the current one."""
    now = runtime.clock.now()
    yourself = principal.actor == f"user:{name.strip().lower()}"
    if not yourself and not principal.has("admin"):
        raise Forbidden("you may change only your own password; an admin resets others'")
    with runtime.db.write() as conn:
        if body.current_password is not None:
            return users.change_own_password(
                conn, name, body.current_password, body.password, now=now, keep_session=keep_session
            )
        if not principal.has("admin"):
            raise InvalidInput("give your current password to change it")
        return users.reset_password(conn, name, body.password, actor=principal.actor, now=now)


def _admin_change(
    runtime: Runtime, principal: Principal, change: Callable[[Connection, str], dict[str, Any]]
) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.write() as conn:
        return change(conn, principal.actor)


def disable(runtime: Runtime, principal: Principal, name: str) -> dict[str, Any]:
    now = runtime.clock.now()
    return _admin_change(
        runtime, principal, lambda c, actor: users.disable_user(c, name, actor=actor, now=now)
    )


def enable(runtime: Runtime, principal: Principal, name: str) -> dict[str, Any]:
    now = runtime.clock.now()
    return _admin_change(
        runtime, principal, lambda c, actor: users.enable_user(c, name, actor=actor, now=now)
    )


def change_role(runtime: Runtime, principal: Principal, name: str, role: str) -> dict[str, Any]:
    now = runtime.clock.now()
    return _admin_change(
        runtime, principal, lambda c, actor: users.change_role(c, name, role, actor=actor, now=now)
    )


def delete(runtime: Runtime, principal: Principal, name: str) -> dict[str, Any]:
    now = runtime.clock.now()
    return _admin_change(
        runtime, principal, lambda c, actor: users.delete_user(c, name, actor=actor, now=now)
    )


# ---- API (the CLI's `warroom user` goes through it) ------------------------------------


@api_router.post(
    "/users", status_code=201, summary="Create a web user (admin)", response_model=out.UserCreated
)
def api_create_user(runtime: RuntimeDep, principal: PrincipalDep, body: UserIn) -> dict[str, Any]:
    return create_user(runtime, principal, body)


@api_router.get("/users", summary="List web users (admin)", response_model=out.UserList)
def api_list_users(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("admin")
    with runtime.db.read() as conn:
        items = users.list_users(conn)
    return {
        "items": page_list(
            items,
            USERS,
            lambda u: (str(u["name"]),),
            limit=limit,
            cursor=cursor,
            request=request,
            response=response,
        )
    }


USERS = Keyset("users", ("str",))


@api_router.post(
    "/users/{name}/password",
    summary="Reset (admin) or change a user's password",
    response_model=out.UserChanged,
)
def api_set_password(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: PasswordIn
) -> dict[str, Any]:
    return set_password(runtime, principal, name, body)


@api_router.post(
    "/users/{name}/disable",
    summary="Disable a user: sessions and tokens stop (admin)",
    response_model=out.UserChanged,
)
def api_disable(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
    return disable(runtime, principal, name)


@api_router.post(
    "/users/{name}/enable", summary="Enable a disabled user (admin)", response_model=out.UserChanged
)
def api_enable(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
    return enable(runtime, principal, name)


@api_router.patch(
    "/users/{name}", summary="Change a user's role (admin)", response_model=out.UserChanged
)
def api_change_role(
    runtime: RuntimeDep, principal: PrincipalDep, name: str, body: RoleChangeIn
) -> dict[str, Any]:
    return change_role(runtime, principal, name, body.role)


@api_router.delete("/users/{name}", summary="Delete a user (admin)", response_model=out.UserChanged)
def api_delete(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
    return delete(runtime, principal, name)


# ---- pages ---------------------------------------------------------------------------


def _users_context(runtime: Runtime) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return {"users": users.list_users(conn), "roles": users.ROLES}


@router.get("/admin/users")
def users_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    pages.require_scope(session, "admin")
    return render(request, "users.html", _users_context(runtime), session=session)


async def _users_action(
    request: Request,
    runtime: Runtime,
    session: users.Session,
    action: Callable[[Principal, Any], dict[str, Any]],
    done: Callable[[dict[str, Any]], str],
    *,
    created: int = 200,
) -> Response:
    """Run one admin action from the Users page; re-render it with the outcome or the reason."""
    form = await request.form()

    def run() -> dict[str, Any]:
        return action(pages.form_principal(session, form), form)

    context: dict[str, Any]
    try:
        result = await run_in_threadpool(run)
        context, status = {"notice": done(result)}, created
    except WarroomError as exc:
        context, status = pages.refused(exc, form), exc.status_code
    context.update(await run_in_threadpool(_users_context, runtime))
    return render(request, "users.html", context, status_code=status, session=session)


@router.post("/admin/users")
async def user_create_page(
    request: Request, runtime: PageRuntime, session: PageSession
) -> Response:
    def action(principal: Principal, form: Any) -> dict[str, Any]:
        body = UserIn(
            name=str(form.get("name") or ""),
            password=str(form.get("password") or ""),
            role=str(form.get("role") or "viewer"),
        )
        return create_user(runtime, principal, body)

    return await _users_action(
        request, runtime, session, action,
        lambda r: f"User {r['name']} ({r['role']}) created.", created=201,
    )  # fmt: skip


@router.post("/admin/users/{name}/{what}")
async def user_change_page(
    request: Request, runtime: PageRuntime, session: PageSession, name: str, what: str
) -> Response:
    def action(principal: Principal, form: Any) -> dict[str, Any]:
        match what:
            case "password":
                body = PasswordIn(password=str(form.get("password") or ""))
                return set_password(runtime, principal, name, body)
            case "disable":
                return disable(runtime, principal, name)
            case "enable":
                return enable(runtime, principal, name)
            case "role":
                return change_role(runtime, principal, name, str(form.get("role") or ""))
            case "delete":
                if form.get("confirm") != "yes":
                    raise InvalidInput(f"tick 'Yes, delete {name}' to delete the user")
                return delete(runtime, principal, name)
        raise InvalidInput(f"unknown user action {what!r}")

    def done(result: dict[str, Any]) -> str:
        who = result["name"]
        return {
            "password": f"Password of {who} reset; their sessions ended.",
            "disable": f"{who} is disabled: logged out everywhere, "
            f"{result.get('tokens_revoked', 0)} API token(s) revoked.",
            "enable": f"{who} can log in again.",
            "role": f"{who} is now {result.get('role')}.",
            "delete": f"{who} is deleted.",
        }.get(what, "Done.")

    return await _users_action(request, runtime, session, action, done)


def _account_context(runtime: Runtime, session: users.Session) -> dict[str, Any]:
    """Your on-call shifts beside your password (None: you are no on-call person yet)."""
    from warroom.web.oncall_pages import my_shifts

    return {"mine": my_shifts(runtime, session.name, runtime.clock.now())}


@router.get("/account")
def account_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "account.html", _account_context(runtime, session), session=session)


@router.post("/account/password")
async def account_password(
    request: Request, runtime: PageRuntime, session: PageSession
) -> Response:
    form = await request.form()

    def change() -> dict[str, Any]:
        principal = pages.form_principal(session, form)
        if not form.get("current_password"):
            raise pages.field_invalid("current_password", "give your current password")
        if form.get("password") != form.get("password_again"):
            raise pages.field_invalid("password_again", "the two new passwords differ")
        body = PasswordIn(
            password=str(form.get("password") or ""),
            current_password=str(form.get("current_password") or ""),
        )
        keep = request.cookies.get(pages.SESSION_COOKIE)
        try:
            return set_password(runtime, principal, session.name, body, keep_session=keep)
        except Unauthorized as exc:  # the current password is wrong
            raise Unauthorized(exc.message, details={"field": "current_password"}) from None
        except InvalidInput as exc:  # the new one is too weak
            raise pages.field_invalid("password", exc.message) from None

    try:
        result = await run_in_threadpool(change)
    except WarroomError as exc:
        # Passwords are never echoed back; the reason is said beside the field.
        context = pages.refused(exc, {"form_id": form.get("form_id")})
        context.update(await run_in_threadpool(_account_context, runtime, session))
        return render(request, "account.html", context, status_code=exc.status_code,
                      session=session)  # fmt: skip
    ended = result["sessions_ended"]
    notice = "Password changed." + (f" {ended} other session(s) logged out." if ended else "")
    context = {"notice": notice, **await run_in_threadpool(_account_context, runtime, session)}
    return render(request, "account.html", context, session=session)


@router.get("/admin/audit")
def audit_page(
    request: Request,
    runtime: PageRuntime,
    session: PageSession,
    action: str = "",
    before: int | None = None,
) -> HTMLResponse:
    pages.require_scope(session, "admin")
    limit = 100
    with runtime.db.read() as conn:
        items = audit.entries(conn, limit=limit + 1, before_id=before, action=action or None)
        actions = sorted({e["action"] for e in audit.entries(conn, limit=1000)})
    more = items[limit - 1]["id"] if len(items) > limit else None
    context = {"items": items[:limit], "action": action, "actions": actions, "more": more}
    return render(request, "audit.html", context, session=session)
