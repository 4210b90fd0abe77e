"""A local server speaking exactly the GitHub REST API endpoints warroom uses to open an
emergency pull request, as documented:

- POST /repos/{owner}/{repo}/pulls (title, head, base, body): 201 with `number`, `html_url`;
  422 "Validation Failed" when the head branch does not exist or a pull request for it is
  already open (https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request)
- POST /repos/{owner}/{repo}/issues/{issue_number}/labels ({"labels": [...]}): 200 with the
  issue's labels (https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue)
- POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers (reviewers,
  team_reviewers): 201 with the pull request; 422 when a reviewer is not a collaborator
  (https://docs.github.com/en/rest/pulls/review-requests#request-reviewers-for-a-pull-request)
- 401 "Bad credentials" without the right `Authorization: Bearer` token; 404 for another
  repository; a test queues failures (status, body, headers) with `fail_next`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.serving import serve_in_thread

TOKEN = "ghp_conformance0123456789"
REPO = "acme/checkout"


@dataclass
class FakeGitHub:
    port: int = 0
    branches: set[str] = field(default_factory=lambda: {"main"})
    collaborators: set[str] = field(default_factory=set)
    teams: set[str] = field(default_factory=set)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    fail_next: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials", "status": "401"}, {}
        if self.fail_next:
            return self.fail_next.pop(0)
        pulls = re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls", path)
        labels = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/labels", path)
        review = re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/requested_reviewers", path)
        found = pulls or labels or review
        repo = found.group(1) if found else None
        if repo != REPO:
            return 404, {"message": "Not Found", "status": "404"}, {}
        if method == "POST" and pulls:
            problems = [
                {"resource": "PullRequest", "field": name, "code": "missing_field"}
                for name in ("title", "head", "base")
                if not str(body.get(name) or "").strip()
            ]
            if not problems and body["head"] not in self.branches:
                problems.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if not problems and any(
                p["head"] == body["head"] and p["state"] == "open" for p in self.pulls.values()
            ):
                problems.append(
                    {"resource": "PullRequest", "code": "custom",
                     "message": f"A pull request already exists for acme:{body['head']}."}
                )  # fmt: skip
            if problems:
                return 422, {"message": "Validation Failed", "errors": problems}, {}
            number = len(self.pulls) + 1
            pull = {
                "number": number,
                "state": "open",
                "title": body["title"],
                "body": body.get("body"),
                "head": body["head"],
                "base": body["base"],
                "labels": [],
                "html_url": f"https://github.com/{REPO}/pull/{number}",
            }
            self.pulls[number] = pull
            return 201, {**pull, "head": {"ref": pull["head"]}, "base": {"ref": pull["base"]}}, {}
        if method == "POST" and review:
            pull = self.pulls.get(int(review.group(2)))
            if pull is None:
                return 404, {"message": "Not Found"}, {}
            logins = list(body.get("reviewers") or [])
            teams = list(body.get("team_reviewers") or [])
            if any(u not in self.collaborators for u in logins) or any(
                t not in self.teams for t in teams
            ):
                message = "Reviews may only be requested from collaborators."
                return 422, {"message": message}, {}
            pull["requested_reviewers"] = logins
            pull["requested_teams"] = teams
            return 201, pull, {}
        if method == "POST" and labels:
            pull = self.pulls.get(int(labels.group(2)))
            if pull is None:
                return 404, {"message": "Not Found"}, {}
            for name in body.get("labels", []):
                if name not in pull["labels"]:
                    pull["labels"].append(name)
            return 200, [{"name": name} for name in pull["labels"]], {}
        return 404, {"message": "Not Found"}, {}


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length).decode() if length else ""
            body = json.loads(raw) if raw else {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(("POST", self.path, headers, body))
            status, reply, extra = fake.handle("POST", self.path, headers, body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_address[1]
    serve_in_thread(server)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
