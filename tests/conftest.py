"""Shared fixtures: a real database per test (SQLite always, PostgreSQL when configured).

`WARROOM_TEST_POSTGRES_URL` turns on the PostgreSQL half of every database-backed test. Locally
those tests skip without it; in CI (CI=true) a missing URL is an error, never a skip.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from slack_sdk import http_retry
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from warroom.api.app import create_app
from warroom.core import auth, migrate, tables
from warroom.core.clock import FixedClock
from warroom.core.db import Database, normalise_url, null_pool_engine
from warroom.core.plugins import load_tables
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

PG_URL = os.environ.get("WARROOM_TEST_POSTGRES_URL")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# argon2id at its lowest cost: the product's parameters take ~0.2 s a hash or a check, and
# the suite hashes and checks passwords hundreds of times. Only in this process (in-process
# apps); `test_users.py` pins the product's own parameters with `real_password_hashing`.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and not PG_URL:
        raise pytest.UsageError(
            "CI must run the PostgreSQL tests: set WARROOM_TEST_POSTGRES_URL "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_password_hashing"):
        return
    monkeypatch.setattr("warroom.web.users._hasher", CHEAP_HASHER)
    monkeypatch.setattr("warroom.web.users._DUMMY_HASH", _cheap_dummy_hash())


@functools.cache
def _cheap_dummy_hash() -> str:
    return CHEAP_HASHER.hash("not-a-real-password")


@pytest.fixture(autouse=True)
def instant_slack_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk retries a call that could not connect once, after a 0.5-1.5 s backoff: tests
    of chat outages waited ~0.9 s a call. The retry still happens, at once."""
    monkeypatch.setattr(
        http_retry.connect_error_retry_handler,
        "interval_calculator",
        FixedValueRetryIntervalCalculator(0),
    )


def _backends() -> list[Any]:
    postgres = (
        "postgres"
        if PG_URL
        else pytest.param(
            "postgres", marks=pytest.mark.skip(reason="WARROOM_TEST_POSTGRES_URL not set")
        )
    )
    return ["sqlite", postgres]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def _worker_database_url(worker_id: str) -> str:
    """One database per xdist worker; WARROOM_TEST_DB_PREFIX keeps parallel checkouts apart."""
    assert PG_URL
    url = make_url(normalise_url(PG_URL))
    prefix = os.environ.get("WARROOM_TEST_DB_PREFIX", "warroom_test")
    return url.set(database=f"{prefix}_{worker_id}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A database of this xdist worker's own, created fresh and migrated once."""
    if not PG_URL:
        pytest.skip("WARROOM_TEST_POSTGRES_URL not set")
    target = _worker_database_url(worker_id)
    admin = null_pool_engine(
        make_url(normalise_url(PG_URL))
        .set(database="postgres")
        .render_as_string(hide_password=False)
    )
    name = make_url(target).database
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(target)
    migrate.upgrade(db)
    db.dispose()
    yield target
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# The sequences owned by a table's column (serial ids), each with its table.
_OWNED_SEQUENCES_IN_USE = """
SELECT seq.relname, tab.relname
FROM pg_class seq
JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = seq.oid
    AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
JOIN pg_class tab ON tab.oid = dep.refobjid
WHERE seq.relkind = 'S' AND seq.relnamespace = current_schema()::regnamespace
    AND CASE WHEN seq.relkind = 'S' THEN pg_sequence_last_value(seq.oid) END IS NOT NULL
"""


def truncate_all(url: str) -> None:
    """What `TRUNCATE <every table> RESTART IDENTITY CASCADE` leaves, for less: truncating
    costs some 6 ms a table (0.3 s for all), and a test fills only a few of them. So: the
    locks that statement takes, in its order (a writer still in flight is waited for, as it
    was); then only the tables with rows are truncated, and the ids of the rest that moved
    on without a row to show (a rolled-back insert) restart."""
    load_tables()
    engine = null_pool_engine(url)
    names = [t.name for t in tables.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(text(f"LOCK TABLE {_quoted(names)} IN ACCESS EXCLUSIVE MODE"))
        filled = conn.execute(
            text(
                " UNION ALL ".join(
                    f"SELECT '{name}' WHERE EXISTS (SELECT FROM \"{name}\")" for name in names
                )
            )
        )
        truncate = list(filled.scalars())
        if truncate:
            conn.execute(text(f"TRUNCATE {_quoted(truncate)} RESTART IDENTITY CASCADE"))
        for sequence, table in conn.execute(text(_OWNED_SEQUENCES_IN_USE)).all():
            if table in names:
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    engine.dispose()


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "warroom.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_all(url)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, config=None)


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, run_migrations=False)
    yield rt
    rt.close()


@pytest.fixture
def make_token(runtime: Runtime) -> Callable[..., str]:
    def make(*scopes: str, name: str = "test") -> str:
        with runtime.db.write() as conn:
            _, token = auth.create_token(
                conn, name=name, scopes=list(scopes), created_by="tests", now=runtime.clock.now()
            )
        return token

    return make


def wait_for_intake(client: TestClient, response: httpx.Response) -> None:
    """After a webhook's 202, wait until the intake processor has acted on it, as a sender
    following the 202's status monitor (`Location`) would: tests then read what it did."""
    location = response.headers.get("location", "")
    if response.status_code == 202 and location.startswith(INTAKE_REQUESTS):
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.alerts.intake.wait_processed(int(location.rsplit("/", 1)[1]), 30)


INTAKE_REQUESTS = "/api/v1/alerts/requests/"


class Api:
    """A TestClient bound to one token, returning (status, json); webhooks are processed
    before it returns (see `wait_for_intake`)."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        wait_for_intake(self.client, response)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return response.status_code, body

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return self.request("POST", path, json=json, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = self.request(method, path, **kwargs)
        assert 200 <= status < 300, (status, body)
        return body


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, make_token: Callable[..., str]) -> Api:
    """A responder's API (writes allowed)."""
    return Api(client, make_token("responder", name="alice"))


@pytest.fixture
def admin_api(client: TestClient, make_token: Callable[..., str]) -> Api:
    return Api(client, make_token("admin", name="root"))


@pytest.fixture
def viewer_api(client: TestClient, make_token: Callable[..., str]) -> Api:
    return Api(client, make_token("viewer", name="watcher"))
