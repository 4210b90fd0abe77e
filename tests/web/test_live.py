"""The change feed behind the live pages: which incidents gained events since the last poll."""

from __future__ import annotations

from warroom.core import tables
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.web.live import ChangeFeed, sse

BOB = Principal(name="user:bob", scopes=frozenset({"responder"}), kind="session")


def _key(runtime: Runtime, public_id: str) -> int:
    with runtime.db.read() as conn:
        return int(
            conn.execute(tables.incidents.select().where(tables.incidents.c.public_id == public_id))
            .first()
            .id  # type: ignore[union-attr]
        )


def test_feed_reports_each_changed_incident_once(runtime: Runtime) -> None:
    svc = runtime.incidents
    first = svc.declare(BOB, schemas.DeclareIn(title="one", severity="SEV2")).public_id
    feed = ChangeFeed(runtime, lag=30)
    assert feed.poll(now=0) == set()  # the baseline
    second = svc.declare(BOB, schemas.DeclareIn(title="two", severity="SEV3")).public_id
    svc.add_note(BOB, first, schemas.NoteIn(text="hello"))
    assert feed.poll(now=1) == {_key(runtime, first), _key(runtime, second)}
    assert feed.poll(now=2) == set()
    # Once the floor has moved past old events, nothing is reported twice or spuriously...
    assert feed.poll(now=40) == set()
    assert feed.floor > 0
    assert feed.poll(now=80) == set()
    # ...and new events are still seen.
    svc.acknowledge(BOB, second)
    assert feed.poll(now=81) == {_key(runtime, second)}


def test_sse_framing_splits_lines() -> None:
    assert sse("update", "<a>\n<b>", "7") == "event: update\nid: 7\ndata: <a>\ndata: <b>\n\n"
