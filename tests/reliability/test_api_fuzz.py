"""Schemathesis against the OpenAPI schema with an admin token: no 5xx, responses match it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import T0
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

# Endpoints that stream forever (server-sent events) cannot be fuzzed request/response.
STREAMING = ("/stream", "/events")


@pytest.fixture
def fuzz_target(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Any, str]]:
    shutil.copy(sqlite_template, tmp_path / "warroom.db")
    runtime = Runtime.build(
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'warroom.db'}",
            token_rate_limit=0,
        ),
        clock=FixedClock(T0),
        run_migrations=False,
    )
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name="fuzz", scopes=["admin"], created_by="tests", now=T0
        )
    yield create_app(runtime), token
    runtime.close()


@pytest.mark.reliability
def test_no_server_errors_and_responses_match_the_schema(fuzz_target: tuple[Any, str]) -> None:
    """Every operation, with generated inputs; failures name the operation and the case."""
    app, token = fuzz_target
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(STREAMING):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        exercise()
        checked += 1
    assert checked >= 20
