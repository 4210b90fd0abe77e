"""A local vendor API for the importer tests: a real HTTP server on 127.0.0.1 answering from a
fixture object (its paging, its auth check, 429s on demand)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import serve_in_thread


class VendorApi:
    unauthorized: Any = {"message": "Unauthorized"}
    rate_limited: Any = {"message": "Too many requests"}

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.rate_limit_next = 0  # answer this many requests 429 first
        self.page_size = 2

    def authorized(self, authorization: str | None) -> bool:
        raise NotImplementedError

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        raise NotImplementedError


@contextmanager
def serve(api: VendorApi) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            api.requests.append(self.path)
            if not api.authorized(self.headers.get("Authorization")):
                self._send(401, api.unauthorized)
                return
            if api.rate_limit_next > 0:
                api.rate_limit_next -= 1
                self._send(429, api.rate_limited, {"Retry-After": "0"})
                return
            status, body = api.answer(parts.path, parse_qs(parts.query))
            self._send(status, body)

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
