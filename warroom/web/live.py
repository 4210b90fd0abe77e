"""Server-sent events: the pages learn about new timeline events without reloading.

One `LiveHub` per process polls the events table once a second, however many pages are open,
and wakes the streams whose incident changed (list and dashboard streams wake on any
change). The poll reads the events whose id is above a floor that trails 30 seconds behind,
grouped by incident: an incident's newest `seq` only grows (appends are serialised per
incident), and an event whose id was taken earlier but committed later is still inside the
window, so commit order cannot hide a change. That works across server replicas on
PostgreSQL because every replica reads the same table. Streams end after a while; the
browser's EventSource reconnects by itself (sending `Last-Event-ID`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from anyio import to_thread
from fastapi import Request
from sqlalchemy import func, select

from warroom.core import tables
from warroom.core.runtime import Runtime

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0
FLOOR_LAG_SECONDS = 30.0


def sse(event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


class ChangeFeed:
    """Which incidents gained events since the last poll (synchronous; one per hub)."""

    def __init__(self, runtime: Runtime, lag: float = FLOOR_LAG_SECONDS) -> None:
        self.runtime = runtime
        self.lag = lag
        self.floor = 0
        self.history: list[tuple[float, int]] = []
        self.seen: dict[int, int] | None = None

    def poll(self, now: float | None = None) -> set[int]:
        e = tables.events
        with self.runtime.db.read() as conn:
            rows = conn.execute(
                select(e.c.incident_id, func.max(e.c.seq), func.max(e.c.id))
                .where(e.c.id > self.floor)
                .group_by(e.c.incident_id)
            ).all()
        current = {int(r[0]): int(r[1]) for r in rows}
        top = max((int(r[2]) for r in rows), default=self.floor)
        moment = time.monotonic() if now is None else now
        self.history.append((moment, top))
        while len(self.history) > 1 and self.history[1][0] <= moment - self.lag:
            self.history.pop(0)
        if self.history[0][0] <= moment - self.lag:
            self.floor = max(self.floor, self.history[0][1])
        if self.seen is None:
            self.seen = current
            return set()
        changed = {i for i, seq in current.items() if self.seen.get(i, 0) < seq}
        self.seen.update(current)
        return changed


@dataclass(eq=False)
class Listener:
    incident_id: int | None  # None: any incident
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class LiveHub:
    """Polls while anyone listens; wakes the listeners whose incident changed."""

    def __init__(self, runtime: Runtime, poll_seconds: float = POLL_SECONDS) -> None:
        self.feed = ChangeFeed(runtime)
        self.poll_seconds = poll_seconds
        self.listeners: set[Listener] = set()
        self.task: asyncio.Task[None] | None = None

    def subscribe(self, incident_id: int | None) -> Listener:
        listener = Listener(incident_id)
        self.listeners.add(listener)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def _run(self) -> None:
        self.feed.seen = None  # a fresh baseline after an idle spell
        while self.listeners:
            try:
                changed = await to_thread.run_sync(self.feed.poll)
            except Exception:  # the database is briefly unreachable: try again next tick
                changed = set()
            if changed:
                for listener in list(self.listeners):
                    if listener.incident_id is None or listener.incident_id in changed:
                        listener.wake.set()
            await asyncio.sleep(self.poll_seconds)


def incident_key(runtime: Runtime, public_id: str) -> int | None:
    i = tables.incidents
    with runtime.db.read() as conn:
        row = conn.execute(select(i.c.id).where(i.c.public_id == public_id)).first()
    return None if row is None else int(row.id)


async def _wait(listener: Listener, request: Request) -> bool | None:
    """True when woken, False on heartbeat time, None when the client went away."""
    deadline = time.monotonic() + HEARTBEAT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listener.wake.wait(), timeout=POLL_SECONDS)
        if await request.is_disconnected():
            return None
        if listener.wake.is_set():
            listener.wake.clear()
            return True
    return False


async def stream(
    request: Request,
    hub: LiveHub,
    incident_id: int | None,
    render: Callable[[], tuple[str, str | None]],
    *,
    send_first: bool = False,
) -> AsyncIterator[str]:
    """Send `update` events with fragments from `render()` (run in a worker thread).

    `render` returns (html, event id or None).
    """
    listener = hub.subscribe(incident_id)
    try:
        yield "retry: 2000\n\n"
        if send_first:
            html, event_id = await to_thread.run_sync(render)
            yield sse("update", html, event_id)
        started = time.monotonic()
        while time.monotonic() - started < STREAM_SECONDS:
            woken = await _wait(listener, request)
            if woken is None:
                return
            if woken:
                html, event_id = await to_thread.run_sync(render)
                yield sse("update", html, event_id)
            else:
                yield ": keep-alive\n\n"
    finally:
        hub.unsubscribe(listener)
