"""Local fake GitHub and Jira servers on 127.0.0.1 implementing the REST endpoints warroom uses.

They keep issues in memory, check the Authorization header, and answer with the documented
error shapes when a test sets `fail_with` (status, body, headers) for the next requests.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.support.serving import serve_in_thread


@dataclass
class FakeTracker:
    port: int = 0
    token: str = "secret-token"
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    fail_with: tuple[int, Any, dict[str, str]] | None = None
    # Jira: the create/edit screen has no due date field (a common project setup).
    no_duedate: bool = False
    transitions: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": "11", "name": "In Progress", "to": {"name": "In Progress"}},
            {"id": "31", "name": "Done", "to": {"name": "Done"}},
        ]
    )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


Reply = tuple[int, Any, dict[str, str]]


def _github(fake: FakeTracker, method: str, path: str, body: Any, headers: Any) -> Reply:
    if headers.get("authorization") != f"Bearer {fake.token}":
        return 401, {"message": "Bad credentials", "status": "401"}, {}
    labels = re.fullmatch(r"/repos/acme/([^/]+)/issues/(\d+)/labels(?:/([^/]+))?", path)
    if labels is not None:
        # https://docs.github.com/en/rest/issues/labels: add (POST) and remove (DELETE) one.
        issue = fake.issues.get(labels.group(2))
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        names = [label["name"] for label in issue["labels"]]
        if method == "POST" and labels.group(3) is None:
            names += [n for n in body.get("labels", []) if n not in names]
        elif method == "DELETE" and labels.group(3) is not None:
            name = unquote(labels.group(3))
            if name not in names:
                return 404, {"message": "Label does not exist"}, {}
            names.remove(name)
        else:
            return 404, {"message": "Not Found"}, {}
        issue["labels"] = [{"name": n} for n in names]
        return 200, issue["labels"], {}
    match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues(?:/(\d+))?", path)
    if match is None or match.group(1) != "acme":
        return 404, {"message": "Not Found", "status": "404"}, {}
    number = match.group(3)
    if method == "POST" and number is None:
        if not str(body.get("title", "")).strip():
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                {},
            )
        new = str(len(fake.issues) + 1)
        issue = {
            "number": int(new),
            "title": body["title"],
            "body": body.get("body"),
            "labels": [{"name": n} for n in body.get("labels", [])],
            "state": "open",
            "html_url": f"{fake.url}/acme/{match.group(2)}/issues/{new}",
        }
        fake.issues[new] = issue
        return 201, issue, {}
    if method == "PATCH" and number is not None:
        if number not in fake.issues:
            return 404, {"message": "Not Found"}, {}
        issue = fake.issues[number]
        for key in ("title", "body", "state", "state_reason"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:  # documented: replaces the whole set
            issue["labels"] = [{"name": n} for n in body["labels"]]
        return 200, issue, {}
    return 404, {"message": "Not Found"}, {}


def _jira(fake: FakeTracker, method: str, path: str, body: Any, headers: Any) -> Reply:
    expected = "Basic " + base64.b64encode(f"ops@example.com:{fake.token}".encode()).decode()
    if headers.get("authorization") != expected:
        return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
    no_duedate = {
        "duedate": (
            "Field 'duedate' cannot be set. It is not on the appropriate screen, or unknown."
        )
    }
    if fake.no_duedate and "duedate" in (body or {}).get("fields", {}):
        return 400, {"errorMessages": [], "errors": no_duedate}, {}
    if method == "POST" and path == "/rest/api/2/issue":
        fields = body.get("fields", {})
        errors = {}
        if fields.get("project", {}).get("key") != "OPS":
            errors["project"] = "valid project is required"
        if not str(fields.get("summary", "")).strip():
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            return 400, {"errorMessages": [], "errors": errors}, {}
        key = f"OPS-{len(fake.issues) + 1}"
        fake.issues[key] = {"key": key, "fields": fields, "status": "To Do"}
        return 201, {"id": str(10000 + len(fake.issues)), "key": key, "self": f"{fake.url}/x"}, {}
    match = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+)(/transitions)?", path)
    if match is None:
        return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
    key = match.group(1)
    if key not in fake.issues:
        return 404, {"errorMessages": ["Issue does not exist or you do not have permission"]}, {}
    if match.group(2):
        if method == "GET":
            return 200, {"transitions": fake.transitions}, {}
        chosen = next((t for t in fake.transitions if t["id"] == body["transition"]["id"]), None)
        if chosen is None:
            return 400, {"errorMessages": ["Transition id is not valid"], "errors": {}}, {}
        fake.issues[key]["status"] = chosen["to"]["name"]
        return 204, None, {}
    if method == "PUT":
        fake.issues[key]["fields"].update(body.get("fields", {}))
        return 204, None, {}
    return 404, {"errorMessages": ["Not found"]}, {}


@contextmanager
def fake_tracker(kind: str) -> Iterator[FakeTracker]:
    fake = FakeTracker()
    route = _github if kind == "github" else _jira
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                fake.requests.append((self.command, self.path, body))
                if fake.fail_with is not None:
                    status, reply, extra = fake.fail_with
                else:
                    status, reply, extra = route(fake, self.command, self.path, body or {}, headers)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            for key, value in extra.items():
                self.send_header(key, value)
            payload = b"" if reply is None else json.dumps(reply).encode()
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_address[1]
    serve_in_thread(server)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
