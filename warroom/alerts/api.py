"""Alert intake endpoints (integration keys) and the alerts/integrations/silences API (tokens).

Intake replies 202 once the request's alerts are committed to the intake log (its `Location`,
`/api/v1/alerts/requests/ID`, tells what processing did); 4xx for what a retry cannot fix (bad
payload 400/422, bad key 401, too large 413, over the rate 429 with Retry-After); 503 with
Retry-After only when storing failed and a retry should succeed (Alertmanager retries 5xx).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from warroom.alerts import domain
from warroom.alerts import responses as out
from warroom.alerts.service import AlertService, Integration, new_dedup_key
from warroom.api.deps import PrincipalDep, RowId, RuntimeDep, bearer_token
from warroom.api.guards import Refused, follow_config_file, read_body
from warroom.api.headers import security_headers
from warroom.api.models import ApiRoute
from warroom.api.pagination import (
    DEFAULT_LIMIT,
    CursorToken,
    Keyset,
    Limit,
    page_in_order,
    page_list,
    set_next_link,
)
from warroom.core import fastjson
from warroom.core.clock import ensure_utc, json_default
from warroom.core.durations import parse_duration
from warroom.core.errors import (
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    WarroomError,
    error_body,
)
from warroom.core.inputs import Moment
from warroom.core.runtime import Runtime

log = logging.getLogger("warroom.alerts")

intake = APIRouter(tags=["alert intake"], route_class=ApiRoute)
_PARSE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError)
router = APIRouter(prefix="/api/v1", tags=["alerts"], route_class=ApiRoute)
# The webhook endpoints under /api/v1, apart so the app can match them before its other routes
# (an intake request would otherwise be tried against every page and API route first).
webhooks = APIRouter(prefix="/api/v1", tags=["alerts"], route_class=ApiRoute)

_NO_NUL = r"^[^\x00]*$"

ALERTS = Keyset("alerts", ("int",), descending=True)
HEARTBEATS = Keyset("heartbeats", ("str",))
# Integrations from the config file come first, then those made through the API; by name.
INTEGRATIONS = Keyset("integrations", ("int", "str"))
# Routes in the order intake tries them.
ROUTES = Keyset("routes", ("int", "str"))
SILENCES = Keyset("silences", ("int",), descending=True)


def service(runtime: Runtime) -> AlertService:
    svc: AlertService = runtime.alerts
    return svc


@dataclass(frozen=True)
class _Answer:
    """A webhook's answer: sent as is by the fast path, or as a JSONResponse by its route."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers or None)

    def render(self) -> bytes:
        """The body as JSONResponse renders it."""
        return fastjson.dumps(self.body).encode("utf-8")


def _failed(status: int, code: str, message: str, details: Any = None, **headers: str) -> _Answer:
    return _Answer(status, error_body(code, message, details), headers)


def _error(status: int, code: str, message: str, details: Any = None, **headers: str) -> Any:
    return _failed(status, code, message, details, **headers).response()


def _not_stored(exc: BaseException) -> _Answer:
    log.warning("intake could not store alerts: %s: %s", type(exc).__name__, exc)
    return _failed(
        503,
        "unavailable",
        "the alert could not be stored right now; retry later",
        **{"Retry-After": "5"},
    )


def _unavailable(exc: BaseException) -> JSONResponse:
    return _not_stored(exc).response()


def parse_json(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity); any failure is InvalidInput."""

    try:
        return fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("the request body is not valid JSON", code="malformed_json") from None


@dataclass(frozen=True)
class _Sent:
    """What a webhook request brings: its body, bearer token and `?integration=`."""

    body: bytes
    bearer: str | None
    integration: str | None

    @classmethod
    async def of(cls, request: Request) -> _Sent:
        body = await request.body()
        return cls(body, bearer_token(request), request.query_params.get("integration"))


async def _authenticate(
    svc: AlertService, key: str | None, kind: str, tokens: bool = False, name: str | None = None
) -> Integration:
    """From the key cache without a thread hop, else a database read in the thread pool.

    With `tokens`, an API token with the `ingest` scope is accepted too, for the integration
    `name` (`?integration=NAME`) or the only one of this kind."""
    try:
        return svc.authenticate_cached(key, kind)
    except LookupError:
        pass
    if tokens and key and svc.integrations.looks_like_token(key):
        return await run_in_threadpool(svc.integrations.for_ingest_token, key, kind, name)
    return await run_in_threadpool(svc.authenticate, key, kind)


async def _accept(svc: AlertService, integration: Integration, alerts: list[domain.AlertIn]) -> int:
    """Append to the intake log and wait for its (group) commit without holding a thread."""
    return await svc.intake.accept_async(integration, alerts)


def _status_monitor(request_id: int) -> dict[str, str]:
    """RFC 9110 202: where the client can see what became of its request."""
    return {"Location": f"/api/v1/alerts/requests/{request_id}"}


_Parse = Callable[[Any, Integration], list[domain.AlertIn]]


async def _run_intake(
    runtime: Runtime, kind: str, path_key: str | None, parse: _Parse, sent: _Sent
) -> _Answer:
    svc = service(runtime)
    try:
        integration = await _authenticate(
            svc, path_key or sent.bearer, kind, tokens=True, name=sent.integration
        )
        svc.check_rate(integration)
        try:
            alerts = parse(parse_json(sent.body), integration)
        except _PARSE_ERRORS as exc:  # a parser bug must still be the sender's 4xx
            log.warning("unparseable %s payload: %s: %s", kind, type(exc).__name__, exc)
            raise InvalidInput("the payload could not be read") from None
        request_id = await _accept(svc, integration, alerts)
    except RateLimited as exc:
        return _failed(
            429, exc.code, exc.message, exc.details, **{"Retry-After": str(exc.retry_after)}
        )
    except WarroomError as exc:
        status = 400 if exc.code == "malformed_json" else exc.status_code
        return _failed(status, exc.code, exc.message, exc.details)
    except (SQLAlchemyError, OSError, TimeoutError, RuntimeError) as exc:
        return _not_stored(exc)
    return _Answer(
        202,
        {
            "status": "accepted",
            "integration": integration.name,
            "received": len(alerts),
            "request": request_id,
        },
        _status_monitor(request_id),
    )


async def _intake_route(
    request: Request, kind: str, key: str | None, parse: _Parse
) -> JSONResponse:
    sent = await _Sent.of(request)
    return (await _run_intake(request.app.state.runtime, kind, key, parse, sent)).response()


def _alertmanager(body: Any, _: Integration) -> list[domain.AlertIn]:
    return domain.parse_alertmanager(body)


def _grafana(body: Any, _: Integration) -> list[domain.AlertIn]:
    return domain.parse_alertmanager(body, grafana=True)


def _generic(body: Any, integration: Integration) -> list[domain.AlertIn]:
    mapping = integration.options.mapping or domain.GenericMapping()
    if isinstance(body, list):
        if len(body) > 1000:
            raise InvalidInput("too many alerts in one request")
        return [domain.parse_generic(item, mapping) for item in body]
    return [domain.parse_generic(body, mapping)]


# The routes below document the webhooks and answer them inside the app (a test client, an
# app without the fast path); a served app answers them in `IntakeFastPath`, the same way.


@webhooks.post(
    "/alerts/alertmanager",
    summary="Prometheus Alertmanager webhook receiver (payload version 4)",
    tags=["alert intake"],
    status_code=202,
    response_model=out.IntakeAccepted,
)
async def alertmanager(request: Request) -> JSONResponse:
    return await _intake_route(request, "alertmanager", None, _alertmanager)


@webhooks.post(
    "/alerts/alertmanager/{key}",
    summary="Alertmanager webhook with the integration key in the URL",
    tags=["alert intake"],
    status_code=202,
    response_model=out.IntakeAccepted,
)
async def alertmanager_keyed(request: Request, key: str) -> JSONResponse:
    return await _intake_route(request, "alertmanager", key, _alertmanager)


@webhooks.post(
    "/alerts/grafana",
    summary="Grafana alerting webhook contact point",
    status_code=202,
    response_model=out.IntakeAccepted,
)
async def grafana(request: Request) -> JSONResponse:
    return await _intake_route(request, "grafana", None, _grafana)


@webhooks.post(
    "/alerts/grafana/{key}",
    summary="Grafana webhook with the key in the URL",
    status_code=202,
    response_model=out.IntakeAccepted,
)
async def grafana_keyed(request: Request, key: str) -> JSONResponse:
    return await _intake_route(request, "grafana", key, _grafana)


@webhooks.post(
    "/alerts/generic",
    summary="Generic JSON webhook mapped by the integration",
    status_code=202,
    response_model=out.IntakeAccepted,
)
async def generic(request: Request) -> JSONResponse:
    return await _intake_route(request, "generic", None, _generic)


@webhooks.post(
    "/alerts/generic/{key}",
    summary="Generic JSON webhook with the key in the URL",
    status_code=202,
    response_model=out.IntakeAccepted,
)
async def generic_keyed(request: Request, key: str) -> JSONResponse:
    return await _intake_route(request, "generic", key, _generic)


# ---- PagerDuty Events API v2 ----------------------------------------------------------

_PD_INVALID = {"status": "invalid event", "message": "Event object is invalid"}


async def _enqueue(runtime: Runtime, sent: _Sent) -> _Answer:
    svc = service(runtime)
    try:
        body = parse_json(sent.body)
    except InvalidInput:
        return _Answer(400, {**_PD_INVALID, "errors": ["Malformed JSON"]})
    try:
        errors = domain.pagerduty_errors(body)
    except _PARSE_ERRORS:
        errors = ["Event object is invalid"]
    if errors:
        return _Answer(400, {**_PD_INVALID, "errors": errors})
    try:
        integration = await _authenticate(svc, str(body["routing_key"]), "pagerduty")
    except Unauthorized:
        return _Answer(400, {**_PD_INVALID, "errors": ["Invalid routing key"]})
    try:
        svc.check_rate(integration)
    except RateLimited as exc:
        return _Answer(
            429,
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. "
                "Please retry later.",
            },
            {"Retry-After": str(exc.retry_after)},
        )
    try:
        try:
            event = domain.parse_pagerduty(body, new_dedup_key())
        except _PARSE_ERRORS:
            raise InvalidInput("Event object is invalid") from None
        assert event.alert is not None
        request_id = await _accept(svc, integration, [event.alert])
    except WarroomError as exc:
        errors = exc.details if isinstance(exc.details, list) else [exc.message]
        return _Answer(400, {**_PD_INVALID, "errors": errors})
    except (SQLAlchemyError, OSError, TimeoutError, RuntimeError) as exc:
        log.warning("PagerDuty event not stored: %s: %s", type(exc).__name__, exc)
        return _Answer(
            503,
            {"status": "error", "message": "temporarily unable to process the event; retry"},
            {"Retry-After": "5"},
        )
    return _Answer(
        202,
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
        _status_monitor(request_id),
    )


@intake.post(
    "/v2/enqueue",
    status_code=202,
    summary="PagerDuty Events API v2 compatible endpoint",
    response_model=out.PagerDutyAccepted,
)
async def enqueue(request: Request) -> JSONResponse:
    return (await _enqueue(request.app.state.runtime, await _Sent.of(request))).response()


@webhooks.post(
    "/v2/enqueue",
    status_code=202,
    summary="PagerDuty Events API v2 (under the API prefix)",
    tags=["alert intake"],
    response_model=out.PagerDutyAccepted,
)
async def enqueue_prefixed(request: Request) -> JSONResponse:
    return (await _enqueue(request.app.state.runtime, await _Sent.of(request))).response()


# ---- the fast path ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    """What `scope["route"]` offers the latency metrics: the route's path template."""

    path: str


_Handler = Callable[[Runtime, _Sent], Awaitable[_Answer]]
_KINDS: dict[str, _Parse] = {
    "alertmanager": _alertmanager,
    "grafana": _grafana,
    "generic": _generic,
}
_ENQUEUE = ("/v2/enqueue", "/api/v1/v2/enqueue")
_ALERTS_PREFIX = "/api/v1/alerts/"
_SECURITY_HEADERS = tuple(
    (name.lower().encode(), value.encode()) for name, value in security_headers(_ALERTS_PREFIX)
)


def _fast_route(path: str) -> tuple[_Template, _Handler] | None:
    """The webhook handler for `path`, if it is one (the same paths as the routes above)."""
    if path in _ENQUEUE:
        return _Template(path), _enqueue
    if not path.startswith(_ALERTS_PREFIX):
        return None
    kind, slash, key = path[len(_ALERTS_PREFIX) :].partition("/")
    parse = _KINDS.get(kind)
    if parse is None or (slash and (not key or "/" in key)):
        return None
    template = f"{_ALERTS_PREFIX}{kind}" + ("/{key}" if slash else "")

    async def handle(runtime: Runtime, sent: _Sent) -> _Answer:
        return await _run_intake(runtime, kind, key or None, parse, sent)

    return _Template(template), handle


def _sent(scope: Scope, body: bytes) -> _Sent:
    bearer: str | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
            break
    query = scope.get("query_string", b"")
    integration = None
    if query:
        found = parse_qs(query.decode("latin-1")).get("integration")
        integration = found[-1] if found else None
    return _Sent(body, bearer, integration)


class IntakeFastPath:
    """Answers the webhook endpoints outside the whole app (FastAPI's error handling and every
    middleware): the same handlers as the routes, behind the same request guards applied here
    (body cap, NUL refusal, security headers, latency observers, a config file to take up),
    without the layers, router and dependency machinery that cost more than the intake
    itself. Every other request goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            found = _fast_route(scope["path"])
            if found is not None:
                await self._answer(scope, receive, send, *found)
                return
        await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, template: _Template, handle: _Handler
    ) -> None:
        started = time.perf_counter()
        scope["route"] = template
        state = scope["app"].state
        runtime: Runtime = state.runtime
        try:
            await follow_config_file(runtime)
            body = await read_body(scope, receive, runtime.settings.max_body_bytes)
            answer = await handle(runtime, _sent(scope, body))
        except Refused as exc:
            answer = _failed(exc.status, exc.code, exc.message, exc.details)
        except Exception:
            log.exception("webhook %s failed", template.path)
            answer = _failed(500, "internal_error", "internal error; see the server log")
        payload = answer.render()
        headers = [
            (b"content-length", str(len(payload)).encode()),
            (b"content-type", b"application/json"),
            *((k.lower().encode(), v.encode("latin-1")) for k, v in answer.headers.items()),
            *_SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        took = time.perf_counter() - started
        for observe in state.request_observers:
            observe("POST", template.path, answer.status, took)


# ---- heartbeats ------------------------------------------------------------------------


async def _ping(request: Request, name: str, key: str | None) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    svc = service(runtime)
    try:
        key = key or bearer_token(request)
        if svc.integrations.looks_like_token(key):
            assert key is not None
            integration = await run_in_threadpool(
                svc.integrations.for_ingest_token, key, "heartbeat", name
            )
        else:
            integration = await run_in_threadpool(svc.authenticate, key, "heartbeat", name)
        svc.check_rate(integration)
        data = await run_in_threadpool(svc.heartbeat, integration)
    except RateLimited as exc:
        resp: JSONResponse = _error(
            429, exc.code, exc.message, None, **{"Retry-After": str(exc.retry_after)}
        )
        return resp
    except WarroomError as exc:
        resp = _error(exc.status_code, exc.code, exc.message, exc.details)
        return resp
    except (SQLAlchemyError, OSError, TimeoutError, RuntimeError) as exc:
        return _unavailable(exc)
    return JSONResponse(json.loads(json.dumps(data, default=json_default)))


@webhooks.post(
    "/heartbeats/{name}",
    summary="Heartbeat ping (key as Bearer or ?key=)",
    response_model=out.HeartbeatPing,
)
async def heartbeat(
    request: Request, name: str, key: str | None = Query(default=None)
) -> JSONResponse:
    return await _ping(request, name, key)


@webhooks.post(
    "/heartbeats/{name}/{key}",
    summary="Heartbeat ping with the key in the URL",
    response_model=out.HeartbeatPing,
)
async def heartbeat_keyed(request: Request, name: str, key: str) -> JSONResponse:
    return await _ping(request, name, key)


@router.get(
    "/heartbeats", summary="Heartbeat monitors and their state", response_model=out.HeartbeatList
)
def list_heartbeats(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = service(runtime).heartbeats.list_heartbeats()
    return {
        "items": page_list(
            items,
            HEARTBEATS,
            lambda h: (str(h["integration"]),),
            limit=limit,
            cursor=cursor,
            request=request,
            response=response,
        )
    }


# ---- integrations ----------------------------------------------------------------------


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    kind: str
    options: dict[str, Any] = Field(default_factory=dict)
    key: str | None = Field(
        default=None,
        min_length=20,
        max_length=64,
        description="keep a key senders already use (e.g. a PagerDuty routing key)",
    )


@router.get(
    "/integrations", summary="Integrations (never their keys)", response_model=out.IntegrationList
)
def list_integrations(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("admin")
    items = [i.to_dict() for i in service(runtime).list_integrations()]
    page = page_list(
        items,
        INTEGRATIONS,
        lambda i: (0 if i["source"] == "config" else 1, str(i["name"])),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


@router.post(
    "/integrations",
    status_code=201,
    summary="Create an integration; key shown once",
    response_model=out.IntegrationWithKey,
)
def create_integration(
    runtime: RuntimeDep, principal: PrincipalDep, body: IntegrationIn
) -> dict[str, Any]:
    integration, key = service(runtime).create_integration(
        principal, body.name, body.kind, body.options, body.key
    )
    return {**integration.to_dict(), "key": key}


@router.get("/integrations/{name}", summary="One integration", response_model=out.Integration)
def get_integration(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
    principal.require("admin")
    return service(runtime).integration(name).to_dict()


@router.post(
    "/integrations/{name}/rotate",
    summary="New key; the old one stops working",
    response_model=out.IntegrationWithKey,
)
def rotate_integration(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
    integration, key = service(runtime).rotate_integration(principal, name)
    return {**integration.to_dict(), "key": key}


@router.post(
    "/integrations/{name}/revoke",
    summary="Revoke the key (intake refused)",
    response_model=out.Integration,
)
def revoke_integration(runtime: RuntimeDep, principal: PrincipalDep, name: str) -> dict[str, Any]:
    return service(runtime).revoke_integration(principal, name).to_dict()


# ---- alerts ----------------------------------------------------------------------------


@router.get("/alerts", summary="Alerts, newest first", response_model=out.AlertList)
def list_alerts(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: str | None = Query(default=None, pattern="^(open|firing|acknowledged|resolved)$"),
    integration: str | None = Query(default=None, max_length=120, pattern=_NO_NUL),
    incident: str | None = Query(default=None, max_length=32, pattern=_NO_NUL),
    silenced: bool | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
    *,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    principal.require("viewer")
    start = ALERTS.decode(cursor)
    items, next_cursor = service(runtime).list_alerts(
        status=status,
        integration=integration,
        incident=incident,
        silenced=silenced,
        limit=limit,
        before_id=int(start[0]) if start else None,
    )
    set_next_link(request, response, None if next_cursor is None else str(next_cursor))
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/alerts/counts",
    summary="Intake counters (received, deduplicated, silenced, ...)",
    response_model=out.IntakeCounts,
)
def counts(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, int]:
    principal.require("viewer")
    return service(runtime).counts()


@router.get(
    "/alerts/requests/{request_id}",
    summary="What became of one webhook request (the Location of its 202); ?wait=S waits for it",
    response_model=out.IntakeRequest,
)
def intake_request(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request_id: RowId,
    wait: float = Query(default=0, ge=0, le=30, description="seconds to wait while pending"),
) -> dict[str, Any]:
    if not principal.has("ingest"):
        principal.require("viewer")
    intake = service(runtime).intake
    deadline = time.monotonic() + wait
    while True:
        found = intake.request_status(request_id)
        if found is None:
            raise NotFound(f"no intake request {request_id} (records are kept for a week)")
        left = deadline - time.monotonic()
        if found.status != "pending" or left <= 0:
            break
        # Processed by this process's processor, or (another replica's) seen on the next look.
        intake.wait_processed(request_id, min(left, 0.25))
    return {
        "request": found.id,
        "status": found.status,
        "integration": found.integration,
        "received_at": found.received_at,
        "processed_at": found.processed_at,
        **(found.result or {}),
    }


class RouteTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: dict[str, str]
    integration: str | None = None


@router.post(
    "/alerts/routes/test",
    summary="Which route, service, severity and action labels get",
    response_model=out.RouteDecision,
)
def test_route(runtime: RuntimeDep, principal: PrincipalDep, body: RouteTestIn) -> dict[str, Any]:
    principal.require("viewer")
    svc = service(runtime)
    integration = svc.integration(body.integration) if body.integration else None
    decision = svc.route(body.labels, integration)
    labels = dict(body.labels)
    if integration is not None:
        labels.setdefault("integration", integration.name)
    silenced_by = [
        s["id"]
        for s in svc.list_silences()
        if s["state"] == "active"
        and domain.matches_all(domain.parse_matchers(s["matchers"]), labels)
    ]
    return {**decision.to_dict(), "labels": labels, "silenced_by": silenced_by}


class RouteIn(BaseModel):
    """A routing rule: the first whose matchers all match an alert decides for it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120, description="A lowercase slug.")
    matchers: list[str] = Field(
        min_length=1, max_length=50, description='Label matchers: service=payments env=~"prod.*"'
    )
    service: str | None = Field(default=None, max_length=120, description="A fixed service.")
    service_label: str = Field(default="service", max_length=120)
    severity: str | None = Field(default=None, max_length=40, description="A policy severity.")
    severity_map: dict[str, str] = Field(
        default_factory=dict, description="Source severity label value -> policy severity."
    )
    severity_label: str = Field(default="severity", max_length=120)
    action: str | None = Field(default=None, pattern="^(declare|record)$")
    position: int | None = Field(
        default=None, ge=1, le=10_000, description="1 = tried first; default: after the others."
    )


@router.get(
    "/routes", summary="Routing rules in the order they are tried", response_model=out.RouteList
)
def list_routes(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = [r.to_dict() for r in service(runtime).routing.list_routes()]
    page = page_in_order(
        items,
        ROUTES,
        lambda r: str(r["name"]),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


@router.post(
    "/routes",
    status_code=201,
    summary="Add a routing rule (admin; audited)",
    response_model=out.Route,
)
def add_route(runtime: RuntimeDep, principal: PrincipalDep, body: RouteIn) -> dict[str, Any]:
    rule = body.model_dump(exclude={"position"}, exclude_none=True)
    return service(runtime).routing.add(principal, rule, position=body.position).to_dict()


@router.delete(
    "/routes/{name}", summary="Remove a routing rule (admin; audited)", response_model=out.Route
)
def remove_route(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    name: str = PathParam(max_length=120, pattern=_NO_NUL),
) -> dict[str, Any]:
    return service(runtime).routing.remove(principal, name).to_dict()


@router.get(
    "/alerts/{alert_id}",
    summary="One alert with its group, silence and incident",
    response_model=out.AlertDetail,
)
def get_alert(runtime: RuntimeDep, principal: PrincipalDep, alert_id: RowId) -> dict[str, Any]:
    principal.require("viewer")
    return service(runtime).get_alert(alert_id)


# ---- silences --------------------------------------------------------------------------


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[str] = Field(min_length=1, max_length=50)
    comment: str = Field(min_length=1, max_length=2000)
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    duration: str | None = Field(default=None, description="e.g. 2h (instead of ends_at)")


@router.post(
    "/silences",
    status_code=201,
    summary="Add a silence / maintenance window",
    response_model=out.Silence,
)
def add_silence(runtime: RuntimeDep, principal: PrincipalDep, body: SilenceIn) -> dict[str, Any]:
    starts_at = ensure_utc(body.starts_at) if body.starts_at else None
    if body.ends_at is not None:
        ends_at = ensure_utc(body.ends_at)
    elif body.duration:
        try:
            delta = parse_duration(body.duration)
        except ValueError as exc:
            raise InvalidInput(f"duration: {exc}") from None
        except OverflowError:
            raise InvalidInput("duration: too long") from None
        try:
            ends_at = (starts_at or runtime.clock.now()) + delta
        except OverflowError:
            raise InvalidInput("duration: the silence would end after the year 9999") from None
    else:
        ends_at = (starts_at or runtime.clock.now()) + timedelta(hours=1)
    return service(runtime).add_silence(
        principal,
        matchers=body.matchers,
        ends_at=ends_at,
        comment=body.comment,
        starts_at=starts_at,
    )


@router.get(
    "/silences",
    summary="Silences (active and pending; all=true for expired too)",
    response_model=out.SilenceList,
)
def list_silences(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    all: bool = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorToken = None,
) -> dict[str, Any]:
    principal.require("viewer")
    items = service(runtime).list_silences(include_expired=all)
    page = page_list(
        items,
        SILENCES,
        lambda s: (int(s["id"]),),
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return {"items": page}


@router.post(
    "/silences/{silence_id}/expire", summary="End a silence now", response_model=out.Silence
)
def expire_silence(
    runtime: RuntimeDep, principal: PrincipalDep, silence_id: RowId
) -> dict[str, Any]:
    return service(runtime).expire_silence(principal, silence_id)
