"""A small Prometheus-HTTP-API-compatible server on 127.0.0.1 for metric steps and checks.

Answers `/api/v1/query` (instant vector) and `/api/v1/query_range` (matrix) for queries the
test registers: the current value and the baseline value over the range.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.serving import serve_in_thread


@dataclass
class FakePrometheus:
    port: int = 0
    # query -> (current value, baseline value)
    series: dict[str, tuple[float, float]] = field(default_factory=dict)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, query: str, current: float, baseline: float | None = None) -> None:
        self.series[query] = (current, current if baseline is None else baseline)


@contextmanager
def fake_prometheus() -> Iterator[FakePrometheus]:
    prom = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            query = params.get("query", "")
            prom.queries.append((parsed.path, params))
            body: dict[str, Any]
            status = 200
            if query not in prom.series:
                body = {"status": "success", "data": {"resultType": "vector", "result": []}}
                if parsed.path.endswith("query_range"):
                    body["data"]["resultType"] = "matrix"
            elif parsed.path == "/api/v1/query":
                current, _ = prom.series[query]
                at = float(params.get("time", "0"))
                body = {
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": [{"metric": {}, "value": [at, str(current)]}],
                    },
                }
            elif parsed.path == "/api/v1/query_range":
                _, baseline = prom.series[query]
                start, end = float(params["start"]), float(params["end"])
                step = float(params["step"])
                values = []
                t = start
                while t <= end:
                    values.append([t, str(baseline)])
                    t += step
                body = {
                    "status": "success",
                    "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]},
                }
            else:
                status = 404
                body = {"status": "error", "errorType": "not_found", "error": "unknown path"}
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    prom.port = server.server_address[1]
    serve_in_thread(server)
    try:
        yield prom
    finally:
        server.shutdown()
        server.server_close()
