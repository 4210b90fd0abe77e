"""ASGI middleware guarding every request: the body size cap (413 before the body is
buffered) and NUL characters refused (422); the per-token rate limits live in core.ratelimit."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.core.errors import error_body
from warroom.core.ratelimit import TokenBuckets

__all__ = ["BodySizeLimit", "RefuseNul", "TokenBuckets"]


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _too_large(send, self.max_bytes)
                    return
        received = 0
        sent_response = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal sent_response
            if message["type"] == "http.response.start":
                sent_response = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not sent_response:
                await _too_large(send, self.max_bytes)


class _BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body is too large")


async def _too_large(send: Send, max_bytes: int) -> None:
    message = f"request body is larger than {max_bytes} bytes"
    await send_error(send, 413, "payload_too_large", message, {"max_bytes": max_bytes})


async def send_error(send: Send, status: int, code: str, message: str, details: Any = None) -> None:
    """Answer with the API's JSON error body from ASGI middleware (outside FastAPI's handlers)."""
    payload = json.dumps(error_body(code, message, details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# A NUL in a JSON string (an odd number of backslashes before u0000), in a form (%00) or raw.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NUL_MESSAGE = "text must not contain NUL characters (\\u0000, %00)"
_SCANNED_BODIES = (b"application/json", b"application/x-www-form-urlencoded", b"text/")


class RefuseNul:
    """Refuse (422) any request whose path, query or text body carries a NUL character.

    No field of warroom can hold one: PostgreSQL refuses to store it and no medium shows it.
    Checked once here for every endpoint instead of per field. Binary uploads (multipart) are
    not scanned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            await send_error(send, 422, "invalid_input", _NUL_MESSAGE)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if not content_type.startswith(_SCANNED_BODIES):
            await self.app(scope, receive, send)
            return
        # Read the whole body first (BodySizeLimit, outside this, caps it), then hand it on.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        form = content_type.startswith(b"application/x-www-form-urlencoded")
        escaped_nul = b"\\u0000" in body and _JSON_NUL.search(body) is not None
        if b"\x00" in body or escaped_nul or (form and b"%00" in body):
            await send_error(send, 422, "invalid_input", _NUL_MESSAGE)
            return
        await self.app(scope, _replay([body], None, receive), send)


def _replay(bodies: list[bytes], last: Message | None, receive: Receive | None = None) -> Receive:
    """A `receive` that gives the body already read, then `last` or what the client sends next
    (e.g. its disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False} for body in bodies]

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        if last is not None:
            return last
        assert receive is not None
        return await receive()

    return replay
