"""The group-commit writer: one bad job is refused alone, the others commit."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from warroom.alerts.batching import GroupCommitter
from warroom.core import tables
from warroom.core.runtime import Runtime


def test_a_failing_job_is_rolled_back_alone(runtime: Runtime) -> None:
    committed: list[object] = []
    rollbacks: list[int] = []
    writer = GroupCommitter(
        runtime.db, after_commit=committed.extend, on_rollback=lambda: rollbacks.append(1)
    )

    def good(n: int) -> Callable[[Connection], int]:
        def job(conn: Connection) -> int:
            conn.execute(insert(tables.id_sequences).values(scope=f"s{n}", last_value=n))
            return n

        return job

    def bad(conn: Connection) -> int:
        conn.execute(insert(tables.id_sequences).values(scope="bad", last_value=0))
        raise ValueError("refused")

    # Queued back to back: usually one batch (fast path fails, savepoint path runs).
    futures: list[Future[int]] = []
    futures.append(writer.enqueue(good(1)))
    futures.append(writer.enqueue(bad))
    futures.append(writer.enqueue(good(2)))
    assert futures[0].result(timeout=30) == 1
    assert futures[2].result(timeout=30) == 2
    with pytest.raises(ValueError, match="refused"):
        futures[1].result(timeout=30)
    writer.close()
    with runtime.db.read() as conn:
        scopes = set(conn.execute(select(tables.id_sequences.c.scope)).scalars())
    assert {"s1", "s2"} <= scopes and "bad" not in scopes
    assert set(committed) >= {1, 2}
