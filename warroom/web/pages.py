"""The page framework other packages plug into: navigation, templates, sessions, rendering.

A capability package adds its pages with, in its plugin module:

    from warroom.web import pages
    pages.register_nav("On call", "/oncall", order=30)
    pages.add_templates("warroom.oncall")            # its templates/ folder
    routers = [api_router, page_router]              # page routes use pages.render(...)

Page routes take `PageSession` (redirects to the login page when there is none) and render
`pages.render(request, "oncall.html", {...})` on top of `base.html`. Forms include
`{{ csrf_field() }}` and handlers call `pages.form_principal(request, session, form)`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from warroom.api.deps import bearer_token, get_principal, get_runtime
from warroom.core.actors import actor_name
from warroom.core.auth import Principal
from warroom.core.errors import Forbidden, InvalidInput, WarroomError
from warroom.core.markdown import render_markdown
from warroom.core.runtime import Runtime
from warroom.web import users
from warroom.web.security import check_csrf

SESSION_COOKIE = "warroom_session"


@dataclass(frozen=True)
class NavEntry:
    label: str
    href: str
    order: int = 50
    scope: str = "viewer"


_NAV: dict[str, NavEntry] = {}


def register_nav(label: str, href: str, *, order: int = 50, scope: str = "viewer") -> None:
    """Add (or replace) a navigation entry; shown to principals holding `scope`."""
    _NAV[href] = NavEntry(label, href, order, scope)


def nav_entries(principal: Principal) -> list[NavEntry]:
    return sorted(
        (e for e in _NAV.values() if principal.has(e.scope)), key=lambda e: (e.order, e.label)
    )


_loaders: list[BaseLoader] = [PackageLoader("warroom.web", "templates")]
_loader = ChoiceLoader(_loaders)
# Templates ship inside the package: no need to stat them on every render.
env = Environment(
    loader=_loader,
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    auto_reload=False,
)


def add_templates(package: str, folder: str = "templates") -> None:
    """Let a package's templates extend `base.html` and be rendered by name."""
    _loaders.append(PackageLoader(package, folder))


# ---- formatting helpers available in every template ------------------------------------


def _parse(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def span(seconds: float) -> str:
    """A compact duration: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def iso(value: Any) -> str:
    moment = _parse(value)
    return moment.astimezone(UTC).isoformat() if moment else ""


def clock_html(value: Any, now: datetime, *, mode: str = "since", window: int = 0) -> Markup:
    """A <time> the browser keeps ticking (static/app.js); correct without script too.

    Modes: "since" (12m ago), "until" (in 5m, overdue by 3m), "progress" (12 of 30 min since
    `value`, for a window of `window` seconds).
    """
    moment = _parse(value)
    if moment is None:
        return Markup("<span>-</span>")
    delta = (now - moment).total_seconds()
    if mode == "progress":
        text = f"{max(0, int(delta // 60))} of {round(window / 60)} min"
    elif mode == "since":
        text = span(delta) + " ago"
    elif delta > 0:
        text = "overdue by " + span(delta)
    else:
        text = "in " + span(delta)
    cls = "overdue" if mode == "until" and delta > 0 else ""
    return Markup(
        '<time datetime="{iso}" data-clock="{mode}" data-window="{window}" class="{cls}" '
        'title="{title}">{text}</time>'
    ).format(
        iso=iso(moment),
        mode=mode,
        window=window,
        cls=cls,
        title=moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        text=text,
    )


def utc(value: Any) -> str:
    moment = _parse(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def hm(value: Any) -> str:
    """A short UTC time with its day: `06 Dec 21:08`."""
    moment = _parse(value)
    if moment is None:
        return "-"
    moment = moment.astimezone(UTC)
    return moment.strftime("%d %b %H:%M")


env.filters["utc"] = utc
env.filters["hm"] = hm
env.filters["iso"] = iso
env.filters["markdown"] = render_markdown
env.filters["span"] = span
env.globals["clock"] = clock_html
env.globals["actor_name"] = actor_name


# ---- sessions and the acting principal ----------------------------------------------------


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def current_session(request: Request, runtime: Runtime) -> users.Session | None:
    """The request's valid session, looked up once per request."""
    if hasattr(request.state, "web_session"):
        cached: users.Session | None = request.state.web_session
        return cached
    session = None
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        with runtime.db.read() as conn:
            session = users.lookup(conn, session_id, runtime.clock.now())
    request.state.web_session = session
    return session


def session_authenticator(request: Request, runtime: Runtime) -> Principal | None:
    """Lets a logged-in browser call the API; unsafe methods need the X-CSRF-Token header."""
    session = current_session(request, runtime)
    if session is None:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(given, session.csrf_token):
            return None
    return session.principal()


def require_session(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> users.Session:
    session = current_session(request, runtime)
    if session is None:
        if bearer_token(request) is not None:
            # A token is checked like on the API (401 if bad, 403 for a viewer's write), but
            # pages act only for logged-in people: their forms carry a session's CSRF token.
            principal = get_principal(request, runtime)
            raise Forbidden(
                f"{principal.name}: the web pages need a login session; tokens use /api/v1"
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


PageSession = Annotated[users.Session, Depends(require_session)]
PageRuntime = Annotated[Runtime, Depends(get_runtime)]


def form_principal(session: users.Session, form: Any) -> Principal:
    """The principal for a form post, after checking the form's CSRF token."""
    check_csrf(session.csrf_token, str(form.get("csrf_token") or ""))
    return session.principal()


def require_scope(session: users.Session, scope: str) -> Principal:
    principal = session.principal()
    if not principal.has(scope):
        raise Forbidden(f"this page needs the '{scope}' role; you are {session.role}")
    return principal


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def _rank(runtime: Runtime) -> Any:
    def rank(severity: str) -> int:
        try:
            return runtime.policy.rank(severity)
        except WarroomError:
            return 0

    return rank


# ---- the one form helper ----------------------------------------------------------------
#
# Every form carries `{{ form_id("NAME") }}` (a hidden `form_id` field). When the server refuses
# it, the handler renders the page again with `refused(exc, form)` in the context: the reason
# (shown at the top), the form as posted, and the field the reason is about. In the template,
# `typed("NAME", "field", default)` gives back what was typed in that form (the default for
# every other form) and `field_error("NAME", "field")` shows the reason beside the field.


def field_invalid(field: str, message: str, **kwargs: Any) -> InvalidInput:
    """A refusal about one form field (`details.field`), shown beside it on the page."""
    return InvalidInput(message, details={"field": field}, **kwargs)


def error_field(exc: WarroomError) -> str | None:
    details = exc.details
    if isinstance(details, dict) and isinstance(details.get("field"), str):
        return str(details["field"])
    return None


def refused(exc: WarroomError, form: Any) -> dict[str, Any]:
    """The context of a page shown again after the server refused `form`."""
    return {"error": exc.message, "error_field": error_field(exc), "form": form}


def _posted(form: Any, form_id: str) -> bool:
    return form is not None and hasattr(form, "get") and str(form.get("form_id") or "") == form_id


def typed_helper(form: Any) -> Any:
    """`typed(form_id, name)` in templates: what was typed in a refused form, so it is shown
    again; `default` for every other form (each form carries a hidden `form_id`)."""

    def typed(form_id: str, name: str, default: Any = "") -> Any:
        if not _posted(form, form_id):
            return default
        value = form.get(name)
        return default if value is None else str(value)

    return typed


def typed_all_helper(form: Any) -> Any:
    """`typed_all(form_id, name, default)`: the values of a multi-valued field (checkboxes)."""

    def typed_all(form_id: str, name: str, default: Any = ()) -> list[str]:
        if not _posted(form, form_id) or not hasattr(form, "getlist"):
            return list(default)
        return [str(v) for v in form.getlist(name)]

    return typed_all


def field_error_helper(form: Any, error: str | None, field: str | None) -> Any:
    """`field_error(form_id, name)`: the refusal's reason beside the field it is about."""

    def field_error(form_id: str, name: str) -> Markup:
        if not error or field != name or not _posted(form, form_id):
            return Markup("")
        return Markup('<p class="field-error" id="{}-{}-error">{}</p>').format(form_id, name, error)

    return field_error


def form_id_field(form_id: str) -> Markup:
    return Markup('<input type="hidden" name="form_id" value="{}">').format(form_id)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    session: users.Session | None = None,
) -> HTMLResponse:
    """Render a page (or fragment) with the common context: user, nav, csrf, policy, now."""
    runtime: Runtime = request.app.state.runtime
    if session is None:
        session = getattr(request.state, "web_session", None)
    principal = session.principal() if session else None
    csrf = session.csrf_token if session else ""

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(csrf))

    nav = nav_entries(principal) if principal else []
    path = request.url.path
    matches = [e.href for e in nav if path == e.href or (e.href != "/" and path.startswith(e.href))]
    base: dict[str, Any] = {
        "request": request,
        "session": session,
        "principal": principal,
        "can_respond": bool(principal and principal.has("responder")),
        "is_admin": bool(principal and principal.has("admin")),
        "nav": nav,
        "nav_current": max(matches, key=len, default=None),
        "sev_rank": _rank(runtime),
        "csrf_token": csrf,
        "csrf_field": csrf_field,
        "policy": runtime.policy,
        "now": runtime.clock.now(),
        "path": path,
    }
    context = context or {}
    base["typed"] = typed_helper(context.get("form"))
    base["typed_all"] = typed_all_helper(context.get("form"))
    base["field_error"] = field_error_helper(
        context.get("form"), context.get("error"), context.get("error_field")
    )
    base["form_id"] = form_id_field
    html = env.get_template(template).render({**base, **context})
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
