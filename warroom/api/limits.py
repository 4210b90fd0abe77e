"""ASGI middleware guarding every request: the body size cap (413 before the body is
buffered) and NUL characters refused (422); the per-token rate limits live in core.ratelimit."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.api.guards import (
    NUL_MESSAGE,
    SCANNED_BODIES,
    declared_length,
    nul_in_body,
    nul_in_target,
    too_large,
)
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
        if declared_length(scope) > self.max_bytes:
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
    refused = too_large(max_bytes)
    await send_error(send, refused.status, refused.code, refused.message, refused.details)


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
        if nul_in_target(scope):
            await send_error(send, 422, "invalid_input", NUL_MESSAGE)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if not content_type.startswith(SCANNED_BODIES):
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
        if nul_in_body(content_type, body):
            await send_error(send, 422, "invalid_input", NUL_MESSAGE)
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
