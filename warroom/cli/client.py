"""How the CLI reaches warroom: the same REST API, in-process (local DB) or over HTTP."""

from __future__ import annotations

import getpass
import os
from typing import Any

from warroom.api.client import ApiError, decode, merge_page, next_link, page_length, truncate
from warroom.core.errors import WarroomError
from warroom.core.inputs import MAX_PAGE

__all__ = ["ApiError", "Client"]


class Client:
    """Calls the REST API and returns decoded JSON, raising ApiError on any error reply."""

    def __init__(self, http: Any, closer: Any = None) -> None:
        self._http = http
        self._closer = closer

    @classmethod
    def remote(cls, server: str, token: str | None) -> Client:
        import httpx  # only when a command runs: `warroom --help` starts without it

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=30.0)
        return cls(http, http.close)

    @classmethod
    def local(cls, actor: str | None = None) -> Client:
        from starlette.testclient import TestClient

        from warroom.api.app import create_app
        from warroom.core.auth import Principal
        from warroom.core.runtime import Runtime
        from warroom.core.settings import Settings

        runtime = Runtime.build(Settings())
        name = actor or os.environ.get("WARROOM_ACTOR") or _os_user()
        principal = Principal(name=name, scopes=frozenset({"admin"}), kind="local")
        app = create_app(runtime, local_principal=principal)
        http = TestClient(app, base_url="http://warroom.local", raise_server_exceptions=False)

        def close() -> None:
            http.close()
            runtime.close()

        return cls(http, close)

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return decode(self._send(method, path, json=json, params=params))

    def call_all(
        self, path: str, *, params: dict[str, Any] | None = None, most: int | None = None
    ) -> Any:
        """GET a list and every next page its `Link` headers name (at most `most` items)."""
        if params and isinstance(params.get("limit"), int):  # a page, not the whole answer
            params = {**params, "limit": min(params["limit"], MAX_PAGE)}
        response = self._send("GET", path, params=params)
        whole = merge_page(None, decode(response))
        link = next_link(response)
        while link is not None and (most is None or page_length(whole) < most):
            response = self._send("GET", link)
            whole = merge_page(whole, decode(response))
            link = next_link(response)
        return whole if most is None else truncate(whole, most)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        import httpx

        try:
            return self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiError.unreachable("the server", exc) from exc
        except WarroomError as exc:
            raise ApiError(exc.status_code, exc.code, exc.message, exc.details) from exc

    def close(self) -> None:
        if self._closer is not None:
            self._closer()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "cli"
