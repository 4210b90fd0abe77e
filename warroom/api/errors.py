"""One JSON error shape for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from warroom.core.errors import RateLimited, WarroomError, error_body

log = logging.getLogger("warroom.api")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WarroomError)
    async def _warroom(_: Request, exc: WarroomError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                error_body("malformed_json", "the request body is not valid JSON"), status_code=400
            )
        details = [
            {"path": _location(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in errors
        ]
        first = details[0] if details else {"path": "body", "message": "invalid"}
        message = f"{first['path']}: {first['message']}"
        if len(details) > 1:
            message += f" (and {len(details) - 1} more)"
        return JSONResponse(error_body("invalid_input", message, details), status_code=422)

    @app.exception_handler(ValidationError)
    async def _model_validation(_: Request, exc: ValidationError) -> JSONResponse:
        # A model built inside a handler from request data (not FastAPI's own parsing).
        details = [
            {"path": _location(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = details[0] if details else {"path": "body", "message": "invalid"}
        return JSONResponse(
            error_body("invalid_input", f"{first['path']}: {first['message']}", details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            413: "payload_too_large",
        }.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # The input layer (warroom.core.inputs) should have refused this value; answer as the
        # bad input it is, and log it so the missing bound gets added.
        log.warning("out-of-range input on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("invalid_input", "a value in the request is out of range"), status_code=422
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "internal error; see the server log"), status_code=500
        )


_ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
_WHY = {
    "400": "Malformed request (e.g. the body is not JSON)",
    "401": "Not authenticated",
    "403": "Authenticated, but the scope does not allow this",
    "404": "No such resource",
    "409": "Conflicts with the current state (a guard, a stale version, a duplicate)",
    "413": "Request body too large",
    "422": "Invalid input; nothing was changed",
    "429": "Too many requests; see Retry-After",
}


def declare_error_responses(app: FastAPI) -> None:
    """Declare in the OpenAPI document the error answers each API operation (those that take a
    bearer token) can give, all with the one error body: 401/403/413/422/429 for each; 404
    where the path names a resource; 400 and 409 for writes."""
    from fastapi.openapi.utils import get_openapi

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if not operation.get("security"):
                    continue  # webhooks and public pages answer in their own formats
                codes = {"401", "403", "413", "422", "429"}
                if "{" in path:
                    codes.add("404")
                if method not in ("get", "head"):
                    codes |= {"400", "409"}
                responses = operation.setdefault("responses", {})
                for code in sorted(codes):
                    responses.setdefault(code, {"description": _WHY[code], "content": error})
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
