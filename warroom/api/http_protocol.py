"""The server's HTTP protocol: uvicorn's, with an answer's head and body sent in one write.

uvicorn writes a response's head and its body to the socket separately, one `send` each. On a
busy intake, where a webhook's answer is a few hundred bytes, each of those system calls (with
the network stack's work behind it) is over a tenth of the server's time. Here an answer
leaves in one call once it is complete; a stream's parts at the end of the loop's turn."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes wait for the end of the loop's turn and leave together.

    Everything but writing and closing goes to the socket's own transport."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._waiting: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._waiting:
            self._loop.call_soon(self.flush)
        self._waiting.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what was written so far (nothing once the connection is closing)."""
        if not self._waiting:
            return
        data = self._waiting[0] if len(self._waiting) == 1 else b"".join(self._waiting)
        self._waiting.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self._waiting)) + self._transport.get_write_buffer_size()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._waiting.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`, whose writes leave as soon as
    an answer is complete (a stream's parts, at the end of the loop's turn)."""

    _coalescing: CoalescingTransport

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(cast(asyncio.Transport, self._coalescing))

    def on_response_complete(self) -> None:
        self._coalescing.flush()
        super().on_response_complete()
