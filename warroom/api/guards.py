"""What every request goes through before a handler, as functions: the middleware in
`warroom.api.limits` and `warroom.web.security` apply them to every request, and a fast path
(the alert webhooks, answered outside the middleware) applies them itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

# A NUL in a JSON string (an odd number of backslashes before u0000), in a form (%00) or raw.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NUL_MESSAGE = "text must not contain NUL characters (\\u0000, %00)"
SCANNED_BODIES = (b"application/json", b"application/x-www-form-urlencoded", b"text/")

# Told of each request a fast path answers: method, route template, status, seconds taken
# (`app.state.request_observers`; the middleware stack times every other request).
RequestObserver = Callable[[str, str, int, float], None]


class Refused(Exception):
    """A request a guard turns away: the API's error answer to send."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def too_large(max_bytes: int) -> Refused:
    message = f"request body is larger than {max_bytes} bytes"
    return Refused(413, "payload_too_large", message, {"max_bytes": max_bytes})


def declared_length(scope: Scope) -> int:
    """The request's Content-Length (0 when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def nul_in_target(scope: Scope) -> bool:
    """Whether the path or query carries a NUL character."""
    query = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


def nul_in_body(content_type: bytes, body: bytes) -> bool:
    """Whether a text body (JSON, form, text/*) carries a NUL character, raw or escaped."""
    if not content_type.startswith(SCANNED_BODIES):
        return False
    escaped_nul = b"\\u0000" in body and _JSON_NUL.search(body) is not None
    form = content_type.startswith(b"application/x-www-form-urlencoded")
    return b"\x00" in body or escaped_nul or (form and b"%00" in body)


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> bytes:
    """The whole request body; `Refused` (413) past `max_bytes`, declared or sent, and (422)
    when the path, query or text body carries a NUL character."""
    if declared_length(scope) > max_bytes:
        raise too_large(max_bytes)
    if nul_in_target(scope):
        raise Refused(422, "invalid_input", NUL_MESSAGE)
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: what came is all there is
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    content_type = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value.lower()
            break
    if nul_in_body(content_type, body):
        raise Refused(422, "invalid_input", NUL_MESSAGE)
    return body


async def follow_config_file(runtime: Runtime) -> None:
    """A server started with no config file takes up the one `warroom demo` writes into the
    data dir, before the next request (no restart)."""
    path = runtime.new_config_file()
    if path is not None:
        await run_in_threadpool(runtime.take_up_config, path)
