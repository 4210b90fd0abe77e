"""How agent tools reach warroom: its REST API, with the agent's own token.

In `warroom serve` and in a local `warroom mcp` the API is the same ASGI app called in-process;
with `--server` it is a remote warroom. Either way the API authenticates the agent's token, so
scopes, lifecycle guards and the policy's agent rules apply exactly as they do to people.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from warroom.agents.guardrails import refusal_text, rule_of
from warroom.api.client import ApiError, decode, merge_page, next_link


class Refusal(ApiError):
    """The API refused the call: its JSON error plus the rule that refused it."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(status, code, message, details)
        self.rule = rule_of(code, details)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "rule": self.rule,
                "status": self.status,
            }
        }

    def text(self) -> str:
        return refusal_text(self.code, self.message, self.rule)


class Gateway:
    """Calls `/api/v1` as one agent (its bearer token) and returns decoded JSON."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = await self._send(method, "/api/v1" + path, json=json, params=params)
        return decode(response, Refusal)

    async def _send(
        self, method: str, url: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            return await self.http.request(
                method,
                url,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.HTTPError as exc:
            raise Refusal.unreachable("warroom", exc) from exc

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None and v != []}
        return await self.call("GET", path, params=clean or None)

    async def get_all(self, path: str, **params: Any) -> Any:
        """A whole list: the first page and every next one its `Link` headers name."""
        clean = {k: v for k, v in params.items() if v is not None and v != []}
        response = await self._send("GET", "/api/v1" + path, params=clean or None)
        whole = merge_page(None, decode(response, Refusal))
        while (link := next_link(response)) is not None:
            response = await self._send("GET", link)
            whole = merge_page(whole, decode(response, Refusal))
        return whole

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.call("POST", path, json=body)


_IN_PROCESS = "http://warroom.internal"


class _QuietInProcessCalls(logging.Filter):
    """httpx logs every request at INFO; an agent's in-process API calls are not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _IN_PROCESS not in record.getMessage()


_QUIET = _QuietInProcessCalls()


def in_process_client(app: Any) -> httpx.AsyncClient:
    """An HTTP client that calls an ASGI app in this process (no network)."""
    logging.getLogger("httpx").addFilter(_QUIET)  # idempotent: the same filter object
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=_IN_PROCESS, timeout=30.0
    )


def remote_client(server: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.rstrip("/"), timeout=30.0)
