"""Action items to GitHub issues and Jira issues, through their REST APIs.

One call per item and tracker: create the issue the first time, then update it (title, body,
open/closed). Failures are classified like the trackers document them: rate limits (429, or
GitHub's 403 with `x-ratelimit-remaining: 0`) and 5xx are retried by the outbox; bad
credentials, missing projects and validation errors are permanent and recorded on the item.
Tokens are sent only in the Authorization header and never appear in messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from warroom.core.errors import NotFound
from warroom.postmortems.config import GitHubConfig, JiraConfig

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

CLOSED = ("done", "wont_do")


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    message: str
    retryable: bool = False
    ref: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] | None = None


def issue_body(item: Mapping[str, Any], link: str | None = None) -> str:
    lines = [
        f"Action item from incident {item['incident']} ({item['type']}, P{item['priority']}).",
        "",
    ]
    if item.get("description"):
        lines += [str(item["description"]), ""]
    if item.get("owner"):
        lines.append(f"Owner: {item['owner']}")
    if item.get("due_at"):
        lines.append(f"Due: {str(item['due_at'])[:10]}")
    if link:
        lines.append(f"Incident: {link}")
    lines.append(f"warroom action item #{item['id']}")
    return "\n".join(lines)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    parts: list[str] = []
    if body.get("message"):
        parts.append(str(body["message"]))
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            parts.append(str(error.get("message") or f"{error.get('field')}: {error.get('code')}"))
        elif isinstance(error, str):
            parts.append(error)
    if isinstance(body.get("errors"), dict):
        parts += [f"{k}: {v}" for k, v in body["errors"].items()]
    parts += [str(m) for m in body.get("errorMessages") or []]
    return "; ".join(parts)[:500] or response.reason_phrase


def classify(tracker: str, response: httpx.Response) -> SyncResult:
    """A failed response as a result: retryable or permanent, with the tracker's reason."""
    status = response.status_code
    detail = _error_text(response)
    rate_limited = status == 429 or (
        status == 403 and response.headers.get("x-ratelimit-remaining") == "0"
    )
    if rate_limited:
        return SyncResult(False, f"{tracker} rate limit ({status}): {detail}", retryable=True)
    if status >= 500:
        return SyncResult(False, f"{tracker} server error {status}: {detail}", retryable=True)
    hints = {
        401: "the token was rejected",
        403: "the token lacks permission",
        404: "the repository/project or issue was not found",
        410: "issues are disabled for this repository",
        400: "the request was refused",
        422: "validation failed",
    }
    hint = hints.get(status, "request refused")
    return SyncResult(False, f"{tracker} {status}, {hint}: {detail}", retryable=False)


def github_sync(
    cfg: GitHubConfig, item: Mapping[str, Any], *, link: str | None = None
) -> SyncResult:
    token = cfg.secret()
    if not token:
        return SyncResult(False, f"no GitHub token: set {cfg.token_env}", retryable=False)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "warroom",
    }
    known = dict((item.get("external") or {}).get("github") or {})
    number = known.get("number")
    closed = item["status"] in CLOSED
    labels = [*cfg.labels, f"type:{item['type']}", f"P{item['priority']}"]
    # Labels are set when the issue is created; afterwards only the labels warroom itself set
    # and that changed are added or removed, so labels people edit in GitHub are kept.
    payload: dict[str, Any] = {"title": item["title"], "body": issue_body(item, link)}
    base = cfg.api_url.rstrip("/") + f"/repos/{cfg.repo}/issues"
    try:
        with httpx.Client(headers=headers, timeout=cfg.timeout_seconds) as http:
            if number is None:
                response = http.post(base, json={**payload, "labels": labels})
                if response.status_code != 201:
                    return classify("GitHub", response)
                created = response.json()
                number = int(created["number"])
                url = created.get("html_url")
                if not closed:
                    return SyncResult(
                        True,
                        f"created #{number}",
                        ref=f"{cfg.repo}#{number}",
                        url=url,
                        extra={"number": number, "labels": labels},
                    )
            else:
                url = known.get("url")
                previous = list(known.get("labels") or labels)
                added = [name for name in labels if name not in previous]
                if added:
                    response = http.post(f"{base}/{number}/labels", json={"labels": added})
                    if response.status_code != 200:
                        return classify("GitHub", response)
                for name in (name for name in previous if name not in labels):
                    response = http.delete(f"{base}/{number}/labels/{quote(name, safe='')}")
                    if response.status_code not in (200, 404):  # 404: already removed there
                        return classify("GitHub", response)
            payload["state"] = "closed" if closed else "open"
            if closed:
                payload["state_reason"] = "completed" if item["status"] == "done" else "not_planned"
            response = http.patch(f"{base}/{number}", json=payload)
            if response.status_code != 200:
                return classify("GitHub", response)
            url = response.json().get("html_url", url)
    except httpx.TransportError as exc:
        return SyncResult(False, f"GitHub unreachable: {type(exc).__name__}", retryable=True)
    return SyncResult(
        True,
        f"updated #{number}",
        ref=f"{cfg.repo}#{number}",
        url=url,
        extra={"number": number, "labels": labels},
    )


def jira_sync(cfg: JiraConfig, item: Mapping[str, Any], *, link: str | None = None) -> SyncResult:
    token = cfg.secret()
    if not token:
        return SyncResult(False, f"no Jira token: set {cfg.token_env}", retryable=False)
    auth: httpx.Auth | None = None
    headers = {"Accept": "application/json", "User-Agent": "warroom"}
    if cfg.email:
        auth = httpx.BasicAuth(cfg.email, token)
    else:
        headers["Authorization"] = f"Bearer {token}"
    known = dict((item.get("external") or {}).get("jira") or {})
    key = known.get("key")
    closed = item["status"] in CLOSED
    fields: dict[str, Any] = {
        "summary": item["title"],
        "description": issue_body(item, link),
        "labels": [*cfg.labels, f"type-{item['type']}"],
    }
    # A project whose screens have no due date field refuses `duedate` (400); the due date is
    # in the description anyway, so it is sent without it from then on.
    no_duedate = bool(known.get("no_duedate"))
    if item.get("due_at") and not no_duedate:
        fields["duedate"] = str(item["due_at"])[:10]
    api = cfg.url.rstrip("/") + "/rest/api/2"

    def send(http: httpx.Client, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        nonlocal no_duedate
        response = http.request(method, path, json={"fields": body})
        if "duedate" in body and _refuses_duedate(response):
            no_duedate = True
            body = {k: v for k, v in body.items() if k != "duedate"}
            response = http.request(method, path, json={"fields": body})
        return response

    try:
        with httpx.Client(headers=headers, auth=auth, timeout=cfg.timeout_seconds) as http:
            if key is None:
                create = {
                    **fields,
                    "project": {"key": cfg.project},
                    "issuetype": {"name": cfg.issue_type},
                }
                response = send(http, "POST", f"{api}/issue", create)
                if response.status_code != 201:
                    return classify("Jira", response)
                key = str(response.json()["key"])
            else:
                response = send(http, "PUT", f"{api}/issue/{key}", fields)
                if response.status_code != 204:
                    return classify("Jira", response)
            url = cfg.url.rstrip("/") + f"/browse/{key}"
            transitioned = known.get("transitioned")
            if closed and not transitioned:
                response = http.get(f"{api}/issue/{key}/transitions")
                if response.status_code != 200:
                    return classify("Jira", response)
                wanted = cfg.done_transition.lower()
                choice = next(
                    (
                        t
                        for t in response.json().get("transitions", [])
                        if str(t.get("name", "")).lower() == wanted
                        or str((t.get("to") or {}).get("name", "")).lower() == wanted
                    ),
                    None,
                )
                if choice is None:
                    return SyncResult(
                        False,
                        f"Jira issue {key} has no transition named {cfg.done_transition!r}",
                        retryable=False,
                        ref=key,
                        url=url,
                        extra={"key": key},
                    )
                response = http.post(
                    f"{api}/issue/{key}/transitions", json={"transition": {"id": choice["id"]}}
                )
                if response.status_code != 204:
                    return classify("Jira", response)
                transitioned = True
    except httpx.TransportError as exc:
        return SyncResult(False, f"Jira unreachable: {type(exc).__name__}", retryable=True)
    return SyncResult(
        True,
        f"synced {key}" + (" (no due date field in this project)" if no_duedate else ""),
        ref=key,
        url=url,
        extra={
            "key": key,
            "transitioned": bool(closed and transitioned),
            **({"no_duedate": True} if no_duedate else {}),
        },
    )


def _refuses_duedate(response: httpx.Response) -> bool:
    """Jira's 400 for a field missing from the screen: {"errors": {"duedate": "..."}}."""
    if response.status_code != 400:
        return False
    try:
        errors = response.json().get("errors") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(errors, dict) and "duedate" in errors


def sync_item(runtime: Runtime, item_id: int, tracker: str) -> SyncResult:
    """Sync one action item to one tracker and record the outcome on the item."""
    from warroom.postmortems.plugin import _config
    from warroom.postmortems.service import ActionItemService

    items: ActionItemService = runtime.action_items
    config = _config(runtime)
    try:
        item = items.get(item_id)
    except NotFound:
        return SyncResult(True, "action item deleted")
    link = f"{runtime.settings.public_url()}/incidents/{item['incident']}"  # the war room
    if tracker == "github" and config.github is not None:
        result = github_sync(config.github, item, link=link)
    elif tracker == "jira" and config.jira is not None:
        result = jira_sync(config.jira, item, link=link)
    else:
        return SyncResult(False, f"tracker {tracker!r} is not configured", retryable=False)
    now = runtime.clock.now().isoformat()
    entry: dict[str, Any] = dict(result.extra or {})
    if result.ref:
        entry.update(ref=result.ref, url=result.url)
    if result.ok:
        entry.update(synced_at=now, error=None)
    else:
        entry.update(error=result.message, failed_at=now)
    items.record_sync(item_id, tracker, entry)
    return result
