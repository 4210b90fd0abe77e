"""What a client of the REST API does with an answer: the JSON body, or an `ApiError` built
from the one error shape (`{"error": {"code", "message", "details"}}`).

Shared by the CLI (`warroom.cli.client`, synchronous) and the agents (`warroom.agents.gateway`,
asynchronous): both speak the same API and report its refusals the same way.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar


class ApiError(Exception):
    """An error reply, with the HTTP status and the JSON error body (status 0: unreachable)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def unreachable(cls: type[E], what: str, exc: Exception) -> E:
        return cls(0, "unreachable", f"cannot reach {what}: {exc}")


E = TypeVar("E", bound=ApiError)


class Response(Protocol):
    """The part of an httpx response this module reads."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def reason_phrase(self) -> str: ...
    def json(self) -> Any: ...


def decode(response: Response, error: type[ApiError] = ApiError) -> Any:
    """The decoded JSON body of a success; `error` (an ApiError class) for an error reply."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        found = body.get("error", {}) if isinstance(body, dict) else {}
        raise error(
            response.status_code,
            str(found.get("code", "http_error")),
            str(found.get("message", response.text[:200] or response.reason_phrase)),
            found.get("details"),
        )
    return body
