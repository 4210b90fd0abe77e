"""Where a vendor's objects come from: its REST API (following its pagination, waiting out its
rate limit) or a directory of saved API responses (`users.json`, `schedules/ID.json`, ...)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from warroom.core.errors import InvalidInput, WarroomError

# How a vendor pages a list: given the last body and the params used, the next params or None.
NextPage = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]


class Source(Protocol):
    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One response body."""
        ...

    def get_all(
        self, path: str, key: str, params: dict[str, Any], next_page: NextPage
    ) -> list[dict[str, Any]]:
        """Every item of a paged list (`key` names the list in each body)."""
        ...


class ApiSource:
    """A vendor REST API. 429 answers are retried after the Retry-After they give (bounded)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        max_wait: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=30.0, transport=transport
        )
        self.max_wait = max_wait

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        waited = 0.0
        while True:
            try:
                response = self.client.get(path, params=params)
            except httpx.HTTPError as exc:
                message = f"cannot reach the vendor API: {exc}"
                raise WarroomError(message, code="import_source") from None
            if response.status_code == 429:
                wait = _retry_after(response)
                if waited + wait > self.max_wait:
                    raise WarroomError("the vendor API keeps rate-limiting", code="import_source")
                time.sleep(wait)
                waited += wait
                continue
            if response.status_code in (401, 403):
                raise InvalidInput(f"the vendor API refused the token ({response.status_code})")
            if response.status_code >= 400:
                raise WarroomError(
                    f"the vendor API answered {response.status_code} for {path}",
                    code="import_source",
                )
            body = response.json()
            if not isinstance(body, dict):
                raise WarroomError(f"{path}: expected a JSON object", code="import_source")
            return body

    def get_all(
        self, path: str, key: str, params: dict[str, Any], next_page: NextPage
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        current: dict[str, Any] | None = dict(params)
        pages = 0
        while current is not None:
            body = self.get(path, current)
            items.extend(body.get(key) or [])
            current = next_page(body, current)
            pages += 1
            if pages > 10_000:
                raise WarroomError(f"{path}: the pagination does not end", code="import_source")
        return items


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


class DirectorySource:
    """Saved responses: `GET /schedules/P1` is `DIR/schedules/P1.json`; a list endpoint's file
    holds one response body (or a JSON list of the bodies of its pages)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InvalidInput(f"{root} is not a directory of saved API responses")
        self.root = root

    def _bodies(self, path: str) -> list[dict[str, Any]]:
        file = self.root / (path.strip("/") + ".json")
        if not file.is_file():
            return []
        try:
            data = json.loads(file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{file}: not JSON ({exc})") from None
        pages = data if isinstance(data, list) else [data]
        if not all(isinstance(page, dict) for page in pages):
            raise InvalidInput(f"{file}: expected a response body (a JSON object)")
        return pages

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        pages = self._bodies(path)
        return pages[0] if pages else {}

    def get_all(
        self, path: str, key: str, params: dict[str, Any], next_page: NextPage
    ) -> list[dict[str, Any]]:
        return [item for page in self._bodies(path) for item in page.get(key) or []]
