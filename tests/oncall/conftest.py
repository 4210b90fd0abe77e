"""An on-call runtime: a config with services mapped to escalation policies, plus helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
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

CONFIG: dict[str, Any] = {
    "policy": "default",
    "services": [
        {"name": "payments", "escalation_policy": "payments"},
        {"name": "search", "escalation_policy": "search"},
    ],
    "oncall": {
        # Incidents of "search" reach nobody (its policy does not exist); these tests count
        # the rules' notifications, so no fallback contact is told of that here (see
        # test_service_policies for the fallback).
        "fallback_contacts": [],
        "contacts": {
            "engineering_manager": ["person:em"],
            "executives": ["person:exec"],
            "security": ["team:security"],
            "legal": ["person:legal"],
            "privacy": ["person:legal"],
            "finance": ["person:exec"],
        },
    },
}


@pytest.fixture
def oc_runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    yield rt
    rt.close()


@pytest.fixture
def oc_client(oc_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(oc_runtime), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def oc_token(oc_runtime: Runtime) -> Callable[..., str]:
    def make(*scopes: str, name: str = "alice") -> str:
        with oc_runtime.db.write() as conn:
            _, token = auth.create_token(
                conn, name=name, scopes=list(scopes), created_by="t", now=oc_runtime.clock.now()
            )
        return token

    return make


@pytest.fixture
def oc_api(oc_client: TestClient, oc_token: Callable[..., str]) -> Api:
    return Api(oc_client, oc_token("responder"))


@pytest.fixture
def oc_admin(oc_client: TestClient, oc_token: Callable[..., str]) -> Api:
    return Api(oc_client, oc_token("admin", name="root"))


def drain(runtime: Runtime) -> int:
    """Run the worker until nothing is due now; return how many effects ran."""
    worker = Worker(runtime, name="test-worker")
    total = 0
    while True:
        ran = worker.run_once()
        total += ran
        if ran == 0:
            return total


def advance(runtime: Runtime, clock: FixedClock, minutes: float) -> int:
    clock.advance(timedelta(minutes=minutes))
    return drain(runtime)


def person(api: Api, name: str, *urls: str, delays: tuple[int, ...] = (), **extra: Any) -> None:
    methods = [
        {"name": f"m{n}", "url": url, "delay_minutes": delays[n] if n < len(delays) else 0}
        for n, url in enumerate(urls)
    ]
    api.ok(
        "POST", "/api/v1/oncall/people", json={"name": name, "contact_methods": methods, **extra}
    )


def events(api: Api, incident: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    return [e for e in found if kind is None or e["type"] == kind]
