"""One error hierarchy for the whole package.

Services raise these; the API maps them to `{"error": {"code", "message", "details"}}` with
their HTTP status, and the CLI prints the message and exits 2 (bad input) or 1.
"""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one JSON error shape: `{"error": {"code", "message", "details"}}`."""
    return {"error": {"code": code, "message": message, "details": details}}


class WarroomError(Exception):
    """Base error: carries an HTTP status, a stable code and optional details."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class InvalidInput(WarroomError):
    """The request is malformed or names something that does not exist in the policy."""

    status_code = 422
    code = "invalid_input"


class NotFound(WarroomError):
    status_code = 404
    code = "not_found"


class Conflict(WarroomError):
    """The request clashes with the current state (duplicate, concurrent change)."""

    status_code = 409
    code = "conflict"


class GuardFailed(WarroomError):
    """A lifecycle move was refused because a guard is unmet; details name the guard."""

    status_code = 409
    code = "guard_failed"


class Unauthorized(WarroomError):
    status_code = 401
    code = "unauthorized"


class Forbidden(WarroomError):
    status_code = 403
    code = "forbidden"


class RateLimited(WarroomError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ConfigError(InvalidInput):
    """A config or policy file is invalid; details is a list of {path, message}."""

    code = "invalid_config"
