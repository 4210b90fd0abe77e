"""Server-sent events: the pages learn about new timeline events without reloading.

Change detection polls the database, so it works across server replicas on PostgreSQL:
- one incident: its `version` (a primary-key lookup; versions only grow, commit order
  cannot hide a change), then the events after the last sequence number sent;
- all incidents: the newest event id plus the number of events above a floor that trails
  30 seconds behind, so an event whose id was taken earlier but committed later still
  changes the fingerprint.
Each stream ends after a while; the browser's EventSource reconnects on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from anyio import to_thread
from fastapi import Request
from sqlalchemy import func, select

from warroom.core import tables
from warroom.core.runtime import Runtime

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0
_FLOOR_LAG = 30.0


def sse(event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


def incident_version(runtime: Runtime, public_id: str) -> int | None:
    i = tables.incidents
    with runtime.db.read() as conn:
        row = conn.execute(select(i.c.version).where(i.c.public_id == public_id)).first()
    return None if row is None else int(row.version)


class ChangeWatch:
    """Answers 'did any incident change since the last look?' for one stream."""

    def __init__(self) -> None:
        self.floor = 0
        self.history: list[tuple[float, int]] = []
        self.seen: tuple[int, int, int] | None = None

    def changed(self, runtime: Runtime) -> bool:
        e = tables.events
        with runtime.db.read() as conn:
            top, count = conn.execute(
                select(func.coalesce(func.max(e.c.id), 0), func.count()).where(e.c.id > self.floor)
            ).one()
        current = (self.floor, int(top), int(count))
        previous, self.seen = self.seen, current
        now = time.monotonic()
        self.history.append((now, int(top)))
        while len(self.history) > 1 and self.history[1][0] <= now - _FLOOR_LAG:
            self.history.pop(0)
        if self.history[0][0] <= now - _FLOOR_LAG:
            self.floor = max(self.floor, self.history[0][1])
        if previous is None:
            return False
        if previous[0] != current[0]:
            return previous[1] != current[1]
        return previous != current


async def _disconnected(request: Request) -> bool:
    return await request.is_disconnected()


async def watch_incident(
    request: Request,
    runtime: Runtime,
    public_id: str,
    after_seq: int,
    render_update: Callable[[int], tuple[str, int]],
) -> AsyncIterator[str]:
    """Send `timeline` (new entries) and `swap` (fresh header) whenever the incident changes.

    `render_update(after_seq)` returns (html, last seq) and runs in a worker thread.
    """
    yield "retry: 2000\n\n"
    started = last_beat = time.monotonic()
    version = await to_thread.run_sync(incident_version, runtime, public_id)
    if version is not None and version > after_seq:
        html, after_seq = await to_thread.run_sync(render_update, after_seq)
        yield sse("update", html, str(after_seq))
    while time.monotonic() - started < STREAM_SECONDS:
        await asyncio.sleep(POLL_SECONDS)
        if await _disconnected(request):
            return
        current = await to_thread.run_sync(incident_version, runtime, public_id)
        if current is not None and current != version:
            version = current
            html, after_seq = await to_thread.run_sync(render_update, after_seq)
            yield sse("update", html, str(after_seq))
            last_beat = time.monotonic()
        elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
            last_beat = time.monotonic()
            yield ": keep-alive\n\n"


async def watch_all(
    request: Request, runtime: Runtime, render: Callable[[], str]
) -> AsyncIterator[str]:
    """Send `update` with a freshly rendered fragment whenever any incident changes."""
    yield "retry: 2000\n\n"
    watch = ChangeWatch()
    started = last_beat = time.monotonic()
    await to_thread.run_sync(watch.changed, runtime)
    while time.monotonic() - started < STREAM_SECONDS:
        await asyncio.sleep(POLL_SECONDS)
        if await _disconnected(request):
            return
        if await to_thread.run_sync(watch.changed, runtime):
            yield sse("update", await to_thread.run_sync(render))
            last_beat = time.monotonic()
        elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
            last_beat = time.monotonic()
            yield ": keep-alive\n\n"
