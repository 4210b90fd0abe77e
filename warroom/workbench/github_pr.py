"""The emergency pull request of a hotfix, opened on GitHub through its REST API.

- Create a pull request: `POST /repos/{owner}/{repo}/pulls` with `title`, `head`, `base`,
  `body`; 201 with `number` and `html_url`
  (https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request).
- Labels: a pull request is an issue for labels, `POST /repos/{owner}/{repo}/issues/{number}/labels`
  with `{"labels": [...]}`; 200 with the labels
  (https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue).
- Reviewers: `POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers` with
  `reviewers` and `team_reviewers`; 201
  (https://docs.github.com/en/rest/pulls/review-requests#request-reviewers-for-a-pull-request).
- Headers: `Authorization: Bearer TOKEN`, `Accept: application/vnd.github+json`,
  `X-GitHub-Api-Version: 2022-11-28`
  (https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api).

Failures are classified as GitHub documents them: 5xx, 429 and a 403 with
`x-ratelimit-remaining: 0` are retried (the outbox's backoff); bad credentials (401), a missing
repository (404) and validation errors (422, e.g. the head branch does not exist) are permanent.
The token travels only in the Authorization header and never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from warroom.workbench.config import GitHubPrSettings


@dataclass(frozen=True)
class PrResult:
    ok: bool
    message: str
    retryable: bool = False
    number: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class PullRequest:
    title: str
    head: str
    base: str
    body: str
    labels: tuple[str, ...]


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [str(body["message"])] if body.get("message") else []
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            parts.append(str(error.get("message") or f"{error.get('field')}: {error.get('code')}"))
        else:
            parts.append(str(error))
    return "; ".join(parts)[:500] or response.reason_phrase


def classify(response: httpx.Response, what: str) -> PrResult:
    status = response.status_code
    detail = _error_text(response)
    if status == 429 or (status == 403 and response.headers.get("x-ratelimit-remaining") == "0"):
        return PrResult(False, f"GitHub rate limit on {what} ({status}): {detail}", True)
    if status >= 500:
        return PrResult(False, f"GitHub server error {status} on {what}: {detail}", True)
    hints = {
        401: "the token was rejected",
        403: "the token lacks permission",
        404: "the repository was not found",
        422: "validation failed",
    }
    hint = hints.get(status, "request refused")
    return PrResult(False, f"GitHub {status} on {what}, {hint}: {detail}", False)


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "warroom",
    }


def open_pull_request(cfg: GitHubPrSettings, pr: PullRequest) -> PrResult:
    """Create the pull request; returns its number and URL, or why not."""
    token = cfg.secret()
    if not token:
        return PrResult(False, f"no GitHub token: set {cfg.token_env} or emergency_pr.github.token")
    url = cfg.api_url.rstrip("/") + f"/repos/{cfg.repo}/pulls"
    payload: dict[str, Any] = {"title": pr.title, "head": pr.head, "base": pr.base, "body": pr.body}
    try:
        with httpx.Client(headers=_headers(token), timeout=cfg.timeout_seconds) as http:
            response = http.post(url, json=payload)
    except httpx.TransportError as exc:
        return PrResult(False, f"GitHub unreachable: {type(exc).__name__}", True)
    if response.status_code != 201:
        return classify(response, "creating the pull request")
    created = response.json()
    number = int(created["number"])
    return PrResult(True, f"opened #{number}", number=number, url=created.get("html_url"))


def request_reviewers(
    cfg: GitHubPrSettings, number: int, logins: list[str], teams: list[str]
) -> PrResult:
    """`POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers` with `reviewers` (logins)
    and `team_reviewers` (team slugs); 201
    (https://docs.github.com/en/rest/pulls/review-requests#request-reviewers-for-a-pull-request)."""
    token = cfg.secret()
    if not token:
        return PrResult(False, f"no GitHub token: set {cfg.token_env} or emergency_pr.github.token")
    url = cfg.api_url.rstrip("/") + f"/repos/{cfg.repo}/pulls/{number}/requested_reviewers"
    try:
        with httpx.Client(headers=_headers(token), timeout=cfg.timeout_seconds) as http:
            response = http.post(url, json={"reviewers": logins, "team_reviewers": teams})
    except httpx.TransportError as exc:
        return PrResult(False, f"GitHub unreachable: {type(exc).__name__}", True)
    if response.status_code != 201:
        return classify(response, "requesting reviewers")
    return PrResult(True, f"reviewers requested on #{number}", number=number)


def add_labels(cfg: GitHubPrSettings, number: int, labels: tuple[str, ...]) -> PrResult:
    """Label the pull request (as an issue)."""
    token = cfg.secret()
    if not token:
        return PrResult(False, f"no GitHub token: set {cfg.token_env} or emergency_pr.github.token")
    url = cfg.api_url.rstrip("/") + f"/repos/{cfg.repo}/issues/{number}/labels"
    try:
        with httpx.Client(headers=_headers(token), timeout=cfg.timeout_seconds) as http:
            response = http.post(url, json={"labels": list(labels)})
    except httpx.TransportError as exc:
        return PrResult(False, f"GitHub unreachable: {type(exc).__name__}", True)
    if response.status_code != 200:
        return classify(response, "labelling the pull request")
    return PrResult(True, f"labelled #{number}: {', '.join(labels)}", number=number)
