"""Replicas started together on an empty PostgreSQL database: one migrates and seeds, the others
wait for it and find everything in place (no UniqueViolation on alembic_version or the seeds)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from warroom.core import tables
from warroom.core.db import normalise_url, null_pool_engine
from warroom.web.tables import web_users

REPLICAS = 4


@pytest.fixture
def empty_postgres(worker_id: str) -> Iterator[str]:
    if not PG_URL:
        pytest.skip("WARROOM_TEST_POSTGRES_URL not set")
    url = make_url(normalise_url(PG_URL))
    name = f"{url.database}_start_{worker_id}"
    admin = null_pool_engine(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_REPLICA = """
import sys, time
from datetime import UTC, datetime
from warroom.core.auth import ensure_admin_token
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.web.users import ensure_first_admin

url, data_dir, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
clock = FixedClock(datetime(2026, 12, 6, 10, 0, tzinfo=UTC))
time.sleep(max(0.0, go - time.time()))  # every replica starts at the same instant
runtime = Runtime.build(Settings(data_dir=data_dir, database_url=url, config=None), clock=clock)
with runtime.db.write() as conn:
    print("token" if ensure_admin_token(conn, None, clock.now()) else "no token")
with runtime.db.write() as conn:
    ensure_first_admin(conn, clock.now())
runtime.close()
"""


def test_replicas_started_together_on_an_empty_database_all_start(
    empty_postgres: str, tmp_path: Path
) -> None:
    go = time.time() + 3  # after every interpreter has imported warroom
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", _REPLICA, empty_postgres, str(tmp_path / f"r{n}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(REPLICAS)
    ]
    outputs = [replica.communicate(timeout=300) for replica in replicas]
    failures = [err for (_, err), r in zip(outputs, replicas, strict=True) if r.returncode != 0]
    assert failures == []
    # Exactly one replica created the admin token (and printed it once).
    assert sorted(out.strip() for out, _ in outputs) == ["no token"] * (REPLICAS - 1) + ["token"]
    engine = null_pool_engine(empty_postgres)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.api_tokens)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(web_users)).scalar() == 1
    engine.dispose()
