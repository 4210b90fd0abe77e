"""A runtime with a service catalog and a `comms` section, and its API clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.worker import Worker

SERVICES = [
    {"name": "payments", "description": "Payments API", "owner_team": "Core"},
    {"name": "search", "description": "Search", "owner_team": "Discovery"},
]


class Env:
    """One configured runtime plus API clients for each scope and a worker."""

    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime = runtime
        self.client = client
        self.public = Api(client, None)
        self.api = Api(client, self._token("responder", "alice"))
        self.admin = Api(client, self._token("admin", "root"))
        self.viewer = Api(client, self._token("viewer", "watcher"))

    def _token(self, scope: str, name: str) -> str:
        with self.runtime.db.write() as conn:
            _, token = auth.create_token(
                conn, name=name, scopes=[scope], created_by="tests", now=self.runtime.clock.now()
            )
        return token

    def work(self, rounds: int = 4) -> int:
        """Run the worker until nothing is due (a few rounds: effects plan more effects)."""
        total = 0
        for _ in range(rounds):
            ran = Worker(self.runtime).run_once()
            total += ran
            if ran == 0:
                break
        return total

    def publish_catalog(self, services: list[dict[str, Any]]) -> None:
        for service in services:
            slug = service["name"]
            public = {"name": service.get("description") or slug}
            if service.get("owner_team"):
                public["group"] = service["owner_team"]
            self.admin.ok("PATCH", f"/api/v1/statuspage/components/{slug}", json=public)
            self.admin.ok("POST", f"/api/v1/statuspage/components/{slug}/publish")

    def declare(self, **body: Any) -> str:
        data = {"title": "Checkout failing", "severity": "SEV2", "services": ["payments"]}
        data.update(body)
        incident: str = self.api.ok("POST", "/api/v1/incidents", json=data)["id"]
        return incident


@pytest.fixture
def make_env(settings: Settings, clock: FixedClock) -> Iterator[Callable[..., Env]]:
    made: list[tuple[Runtime, TestClient]] = []

    def make(
        comms: dict[str, Any] | None = None,
        services: list[dict[str, Any]] | None = None,
        policy: Any = "default",
        publish: bool = True,
    ) -> Env:
        """`publish`: as an admin would, give the catalog's draft components public names
        and groups and publish them (False: they stay drafts)."""
        config = parse_config(
            {
                "services": SERVICES if services is None else services,
                "comms": comms or {},
                "policy": policy,
            }
        )
        runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        client.__enter__()
        made.append((runtime, client))
        env = Env(runtime, client)
        if publish:
            env.publish_catalog(SERVICES if services is None else services)
        return env

    yield make
    for runtime, client in made:
        client.__exit__(None, None, None)
        runtime.close()
