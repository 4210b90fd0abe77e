"""A real HTTP server on 127.0.0.1 that records what it receives (webhooks, Apprise json://)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.serving import serve_in_thread


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    # The sender's end of the connection: two requests with one peer shared a connection.
    peer: tuple[str, int] = ("", 0)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    # The status to answer with; tests flip it to simulate outages.
    status: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def json_url(self, path: str = "/hook") -> str:
        """The Apprise URL that posts JSON here."""
        return f"json://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests


@contextmanager
def http_receiver(keep_alive: bool = False) -> Iterator[Receiver]:
    """Start a recording HTTP server on a free loopback port; stop it afterwards.

    `keep_alive`: answer in HTTP/1.1 and keep each connection open for the sender's next
    request, as most web servers do (otherwise every answer closes its connection)."""
    receiver = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                # The sender died mid-request (the crash tests kill -9 it): no delivery, as
                # for any server that reads a truncated body.
                self.close_connection = True
                return
            receiver.requests.append(
                Received(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    body,
                    (self.client_address[0], self.client_address[1]),
                )
            )
            self.send_response(receiver.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    serve_in_thread(server)
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
