"""What a client of the REST API does with an answer: the JSON body, or an `ApiError` built
from the one error shape (`{"error": {"code", "message", "details"}}`).

Shared by the CLI (`warroom.cli.client`, synchronous) and the agents (`warroom.agents.gateway`,
asynchronous): both speak the same API and report its refusals the same way.

Lists come in pages (`warroom.api.pagination`): `next_link` reads the RFC 8288 `Link: <...>;
rel="next"` header of a page and `merge_page` adds a page to the ones read before, so a client
that wants a whole list follows the links until there is none.
"""

from __future__ import annotations

import re
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


class Headers(Protocol):
    def get_list(self, key: str) -> list[str]: ...


class PagedResponse(Response, Protocol):
    """A response whose headers can be read (httpx and Starlette's test client)."""

    @property
    def headers(self) -> Headers: ...


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r';\s*rel\s*=\s*"?([^";,]*)"?', re.IGNORECASE)


def next_link(response: PagedResponse) -> str | None:
    """The target of the `Link` header's rel="next" (RFC 8288), or None on the last page."""
    for value in response.headers.get_list("link"):
        for match in _LINK.finditer(value):
            for rel in _REL.findall(match.group(2)):
                if "next" in rel.lower().split():
                    return match.group(1)
    return None


def merge_page(whole: Any, page: Any) -> Any:
    """Add one page to the pages read before: arrays are joined; in `{"items": [...]}` bodies
    the items are, and the fields of the first page stay (`next_cursor` becomes None)."""
    if whole is None:
        whole = page
    elif isinstance(whole, list) and isinstance(page, list):
        whole = whole + page
    elif isinstance(whole, dict) and isinstance(page, dict) and "items" in whole:
        whole = {**whole, "items": list(whole["items"]) + list(page.get("items", []))}
    else:
        raise TypeError("pages of a list must all be arrays or all be {items: [...]} objects")
    if isinstance(whole, dict) and "next_cursor" in whole:
        whole["next_cursor"] = None
    return whole


def page_length(body: Any) -> int:
    """How many items a page (or the pages merged so far) holds."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return len(body["items"])
    return 0


def truncate(body: Any, most: int) -> Any:
    """The first `most` items of merged pages."""
    if isinstance(body, list):
        return body[:most]
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return {**body, "items": body["items"][:most]}
    return body


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
