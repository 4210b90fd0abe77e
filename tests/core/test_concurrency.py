"""Concurrent writers on both databases: distinct ids, no lost events."""

from __future__ import annotations

import threading
from typing import Any

from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.incidents import schemas

RESPONDER = Principal(name="tester", scopes=frozenset({"responder"}))


def run_threads(count: int, target: Any) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_twenty_concurrent_declares_get_distinct_ids(runtime: Runtime) -> None:
    def declare(index: int) -> str:
        request = schemas.DeclareIn(title=f"incident {index}", severity="SEV3")
        return runtime.incidents.declare(RESPONDER, request).public_id

    ids = run_threads(20, declare)
    assert len(set(ids)) == 20
    assert sorted(ids) == [f"INC-20261123-{n:03d}" for n in range(1, 21)]


def test_concurrent_notes_on_one_incident_lose_nothing(runtime: Runtime) -> None:
    incident = runtime.incidents.declare(
        RESPONDER, schemas.DeclareIn(title="busy", severity="SEV2")
    ).public_id

    def add_note(index: int) -> int:
        state = runtime.incidents.add_note(RESPONDER, incident, schemas.NoteIn(text=f"n{index}"))
        return state.event_count

    run_threads(20, add_note)
    events = runtime.incidents.timeline(incident, order="recorded")
    assert len(events) == 21
    assert [e.seq for e in events] == list(range(1, 22))
    assert runtime.incidents.get(incident).event_count == 21
