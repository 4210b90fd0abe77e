"""The server's HTTP protocol: an answer leaves in one write, streams still flow, closing
sends what was written."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from warroom.api.http_protocol import CoalescingTransport, HttpProtocol


class RecordingTransport:
    """The socket's transport as the protocol sees it: what was written, call by call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


GET = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"


async def _answered(app: Any, request: bytes, transport: RecordingTransport) -> bool:
    """Whether the protocol closed the connection after answering."""
    protocol = HttpProtocol(
        config=Config(app=app, log_level="warning"), server_state=ServerState(), app_state={}
    )
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(request)
    async with asyncio.timeout(5):
        while not (transport.writes and transport.writes[-1].endswith((b"ok", b"0\r\n\r\n"))):
            await asyncio.sleep(0)
    await asyncio.sleep(0.01)  # anything else it would write
    closed = transport.closed
    protocol.connection_lost(None)
    return closed


async def _plain(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"x-a", b"1"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def test_an_answers_head_and_body_leave_in_one_write() -> None:
    transport = RecordingTransport()
    closed = asyncio.run(_answered(_plain, GET, transport))
    assert len(transport.writes) == 1
    (written,) = transport.writes
    assert written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"x-a: 1\r\n" in written
    assert written.endswith(b"\r\n\r\nok")
    assert not closed  # kept alive


def test_a_complete_answer_leaves_at_once_not_at_the_end_of_the_turn() -> None:
    transport = RecordingTransport()
    written_when_sent: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _plain(scope, receive, send)
        written_when_sent.append(len(transport.writes))  # before this task lets the loop go on

    asyncio.run(_answered(app, GET, transport))
    assert written_when_sent == [1]


def test_a_streamed_answer_sends_each_part_before_the_next_is_made() -> None:
    transport = RecordingTransport()

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"first", b"second"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            # a live page's event stream waits for its next event: this part must be out
            async with asyncio.timeout(2):
                while not any(part in written for written in transport.writes):
                    await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(_answered(stream, GET, transport))
    sent = b"".join(transport.writes)
    assert sent.index(b"first") < sent.index(b"second") < sent.index(b"0\r\n\r\n")


def test_a_connection_closed_after_its_answer_sends_the_answer_first() -> None:
    transport = RecordingTransport()
    closing = b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n"
    assert asyncio.run(_answered(_plain, closing, transport))
    assert b"".join(transport.writes).endswith(b"\r\n\r\nok")


def test_writes_wait_for_the_end_of_the_turn_and_go_nowhere_once_closing() -> None:
    async def scenario() -> None:
        transport = RecordingTransport()
        coalescing = CoalescingTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        coalescing.write(b"a")
        coalescing.write(bytearray(b"b"))
        assert transport.writes == [] and coalescing.get_write_buffer_size() == 2
        await asyncio.sleep(0)
        assert transport.writes == [b"ab"]
        coalescing.write(b"lost")
        transport.closed = True  # the peer went away meanwhile
        await asyncio.sleep(0)
        assert transport.writes == [b"ab"]

        aborted = RecordingTransport()
        coalescing = CoalescingTransport(aborted, asyncio.get_running_loop())  # type: ignore[arg-type]
        coalescing.write(b"dropped")
        coalescing.abort()
        await asyncio.sleep(0)
        assert aborted.aborted and aborted.writes == []

    asyncio.run(scenario())
