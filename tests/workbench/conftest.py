"""Fixtures: a runtime built from a config the test writes, and API clients for it."""

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


class Bench:
    """One runtime with API clients for several people, and a worker."""

    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime = runtime
        self.client = client
        self.worker = Worker(runtime, name="test-worker")

    def as_(self, name: str, *scopes: str) -> Api:
        with self.runtime.db.write() as conn:
            _, token = auth.create_token(
                conn,
                name=name,
                scopes=list(scopes or ("responder",)),
                created_by="tests",
                now=self.runtime.clock.now(),
            )
        return Api(self.client, token)

    def work(self) -> int:
        """Run the worker until nothing is due now."""
        total = 0
        while (ran := self.worker.run_once()) > 0:
            total += ran
        return total

    def events(self, incident: str, type_: str | None = None) -> list[dict[str, Any]]:
        events = [e.to_dict() for e in self.runtime.incidents.timeline(incident)]
        return [e for e in events if type_ is None or e["type"] == type_]


@pytest.fixture
def bench(settings: Settings, clock: FixedClock) -> Iterator[Callable[[dict[str, Any]], Bench]]:
    opened: list[tuple[Runtime, TestClient]] = []

    def make(config: dict[str, Any]) -> Bench:
        runtime = Runtime.build(
            settings, clock=clock, config=parse_config(config), run_migrations=False
        )
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        client.__enter__()
        opened.append((runtime, client))
        return Bench(runtime, client)

    yield make
    for runtime, client in opened:
        client.__exit__(None, None, None)
        runtime.close()
