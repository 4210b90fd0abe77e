"""The fast report (the `incident_metrics` read model) against the reference computation.

Histories are generated from seeds and written through the incident service on both
databases: reopen, backdated milestones, milestone corrections (including cleared ones),
missing milestones, status updates with and without promises (some at the same moment),
severity changes, several services, incidents declared across daylight-saving changes. The
fast report must equal the reference (projection + events), whatever the grouping, time
zone, `now`, policy, and however stale the read model is.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from tests.conftest import T0
from tests.metrics.reference import reference_report
from warroom.core import tables
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.config import ServiceConfig
from warroom.core.errors import Conflict
from warroom.core.runtime import Runtime
from warroom.incidents.model import MILESTONES, Event
from warroom.incidents.schemas import DeclareIn
from warroom.metrics import compute, projection
from warroom.metrics.service import MetricsService
from warroom.metrics.tables import incident_metrics
from warroom.policy.loader import load_preset

SINCE = T0 - timedelta(days=70)
UNTIL = T0 + timedelta(days=1)
SERVICES = ("api", "db", "web")
ZONES = (None, ZoneInfo("Europe/Berlin"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kolkata"))


def whole_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def generate(runtime: Runtime, clock: FixedClock, seed: int, count: int = 24) -> list[str]:
    """`count` incidents with random histories; returns their public ids."""
    rng = random.Random(seed)
    ids = []
    for _ in range(count):
        declared = whole_ms(
            SINCE + timedelta(days=2) + timedelta(seconds=rng.uniform(0, 60 * 86400))
        )
        clock.set(declared)
        detected = declared - timedelta(minutes=rng.choice([0, 0, 3, 20]))
        if rng.random() < 0.1:
            detected = declared + timedelta(minutes=5)  # detected after declared: out of order
        started = detected - timedelta(minutes=rng.choice([0, 5, 45]))
        give_detected = rng.random() < 0.7
        give_started = rng.random() < 0.7 and (give_detected or started <= declared)
        request = DeclareIn(
            title=f"incident {seed}-{len(ids)}",
            severity=rng.choice(["SEV1", "SEV2", "SEV3", "SEV4"]),
            services=rng.sample(SERVICES, rng.randint(0, 2)),
            started_at=started if give_started else None,
            detected_at=detected if give_detected else None,
            impact={"revenue_per_hour": rng.choice([None, 100.0, 1234.5])},
        )
        public_id = runtime.incidents.declare(SYSTEM, request).public_id
        ids.append(public_id)
        t = declared
        resolved = False
        for _ in range(rng.randint(0, 9)):
            t = whole_ms(t + timedelta(seconds=rng.uniform(0, 5400)))
            clock.set(t)
            occurred = t
            roll = rng.random()
            if roll < 0.12:
                occurred = whole_ms(t - timedelta(minutes=rng.choice([0.5, 10, 90])))  # backdated
            events: list[Event]
            choice = rng.choice(
                [
                    "ack",
                    "status",
                    "update",
                    "update",
                    "updates",
                    "correct",
                    "resolve",
                    "resolve",
                    "reopen",
                    "postmortem",
                    "severity",
                    "close",
                    "old_update",
                ]
            )
            if choice == "ack":
                events = [Event("acknowledged", "ann", occurred)]
            elif choice == "status":
                to = rng.choice(["investigating", "mitigating", "monitoring", "triggered"])
                events = [Event("status_changed", "ann", occurred, {"to": to})]
            elif choice in ("update", "updates"):
                events = []
                for _ in range(1 if choice == "update" else 3):  # several at the same moment
                    promised = occurred + timedelta(minutes=rng.choice([10, 30, 120]))
                    data = {"next_update_at": promised.isoformat()} if rng.random() < 0.7 else {}
                    events.append(Event("status_update_published", "bob", occurred, data))
            elif choice == "old_update":  # far before the declaration (and the report's margin)
                old = whole_ms(declared - timedelta(days=rng.choice([1, 45])))
                events = [Event("status_update_published", "bob", old, {})]
            elif choice == "correct":
                milestone = rng.choice(MILESTONES[:5])
                clearable = milestone not in ("started_at", "detected_at")
                at = None if clearable and rng.random() < 0.3 else occurred - timedelta(minutes=7)
                data = {"milestone": milestone, "at": at.isoformat() if at else None}
                events = [Event("milestone_corrected", "ann", t, data)]
            elif choice == "resolve":
                events = [Event("resolved", "ann", occurred, {"summary": "fixed"})]
                resolved = True
            elif choice == "reopen" and resolved:
                events = [Event("reopened", "ann", occurred, {"reason": "again"})]
                resolved = False
            elif choice == "postmortem":
                events = [Event("postmortem_published", "ann", occurred)]
            elif choice == "severity":
                to = rng.choice(["SEV1", "SEV2", "SEV3", "SEV4"])
                events = [Event("severity_changed", "ann", occurred, {"to": to})]
            elif choice == "close" and resolved:
                events = [Event("closed", "ann", occurred)]
            else:
                continue
            runtime.incidents.append_events(SYSTEM, public_id, events)
    clock.set(T0)
    return ids


def metrics_of(runtime: Runtime, **policy_changes: Any) -> MetricsService:
    """The metrics service, with teams owning the services (`web` has no owner)."""
    policy = runtime.policy
    if policy_changes:
        policy = policy.model_copy(update=policy_changes)
    owners = {"api": "core", "db": "data", "web": None}
    config = runtime.config.model_copy(
        update={"services": tuple(ServiceConfig(name=s, owner_team=t) for s, t in owners.items())}
    )
    return MetricsService(runtime.db, runtime.clock, policy, config)


def assert_same_reports(metrics: MetricsService, **kwargs: Any) -> dict[str, Any]:
    fast = metrics.report(SINCE, UNTIL, include_incidents=True, **kwargs)
    reference = reference_report(metrics, SINCE, UNTIL, include_incidents=True, **kwargs)
    assert fast == reference
    return fast


def stored_rows(runtime: Runtime) -> dict[int, dict[str, Any]]:
    with runtime.db.read() as conn:
        return {
            r["incident_id"]: dict(r)
            for r in conn.execute(select(incident_metrics)).mappings().all()
        }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_report_equals_the_reference(runtime: Runtime, clock: FixedClock, seed: int) -> None:
    generate(runtime, clock, seed)
    metrics = metrics_of(runtime)
    for now in (T0, T0 + timedelta(days=40)):
        clock.set(now)
        for by in compute.GROUPINGS:
            for tz in ZONES if by in ("week", "month") else ZONES[:1]:
                data = assert_same_reports(metrics, by=by, tz=tz)
    assert data["overall"]["incidents"] == 24
    teams = metrics.report(SINCE, UNTIL, by="team")
    assert {g["key"] for g in teams["groups"]} == {"core", "data", "(no team)"}
    # the generated histories reach the cases they are meant to
    kinds = data["overall"]["flags"]
    assert {"corrected", "backdated", "missing_milestone"} <= set(kinds)


def test_other_rules_and_mttr_origin_give_the_reference_figures(
    runtime: Runtime, clock: FixedClock
) -> None:
    generate(runtime, clock, 4)
    for changes in ({"mttr_from": "detected_at"}, {}):
        assert_same_reports(metrics_of(runtime, **changes), by="severity")
    other = MetricsService(runtime.db, clock, load_preset("bmad-p0-p4"), runtime.config)
    assert_same_reports(other, by="type")


@pytest.mark.parametrize("bulk", [False, True])
def test_projected_rows_equal_rows_rebuilt_from_the_timeline(
    runtime: Runtime, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    generate(runtime, clock, 5)
    projected = stored_rows(runtime)
    assert len(projected) == 24
    if bulk:  # one pass over the events by type, as for a large database
        monkeypatch.setattr(projection, "_BULK", 0)
    with runtime.db.write() as conn:
        conn.execute(delete(incident_metrics))
    assert metrics_of(runtime).rebuild() == 24
    assert stored_rows(runtime) == projected
    assert metrics_of(runtime).rebuild(everything=True) == 24
    assert stored_rows(runtime) == projected
    assert metrics_of(runtime).rebuild() == 0  # nothing missing or behind


def test_missing_or_stale_rows_still_give_the_reference_and_rebuild_fixes_them(
    runtime: Runtime, clock: FixedClock
) -> None:
    generate(runtime, clock, 6)
    projected = stored_rows(runtime)
    ids = sorted(projected)
    m = incident_metrics
    with runtime.db.write() as conn:
        conn.execute(delete(m).where(m.c.incident_id.in_(ids[:5])))  # as before the migration
        conn.execute(update(m).where(m.c.incident_id.in_(ids[5:9])).values(version=m.c.version - 1))
        conn.execute(update(m).where(m.c.incident_id.in_(ids[9:12])).values(rules="old rules"))
    metrics = metrics_of(runtime)
    assert_same_reports(metrics, by="service")
    # a new event on an incident without a row: the projector takes the whole timeline
    runtime.incidents.append_events(
        SYSTEM, _public_id(runtime, ids[0]), [Event("status_update_published", "bob", T0, {})]
    )
    assert_same_reports(metrics, by="team")
    rebuilt = metrics.rebuild()
    assert rebuilt == 4 + 4 + 3  # the row the projector rebuilt is current again
    after = stored_rows(runtime)
    assert len(after) == 24
    for n in ids[1:]:
        assert after[n] == projected[n]
    assert_same_reports(metrics, by="week")


def _public_id(runtime: Runtime, incident_id: int) -> str:
    i = tables.incidents
    with runtime.db.read() as conn:
        return str(conn.execute(select(i.c.public_id).where(i.c.id == incident_id)).scalar_one())


def test_concurrent_writers_leave_every_row_current(runtime: Runtime, clock: FixedClock) -> None:
    ids = generate(runtime, clock, 7, count=3)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for k in range(8):
                public_id = rng.choice(ids)
                kind = rng.choice(["status_update_published", "acknowledged", "resolved"])
                event = Event(kind, f"w{n}", T0 + timedelta(minutes=n * 10 + k), {})
                for _ in range(20):
                    try:
                        runtime.incidents.append_events(SYSTEM, public_id, [event])
                        break
                    except Conflict:
                        continue
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    rebuilder = threading.Thread(target=lambda: metrics_of(runtime).rebuild(everything=True))
    for thread in [*threads, rebuilder]:
        thread.start()
    for thread in [*threads, rebuilder]:
        thread.join()
    assert errors == []
    projected = stored_rows(runtime)
    i = tables.incidents
    with runtime.db.read() as conn:
        versions = dict(conn.execute(select(i.c.id, i.c.version)).all())
    assert {n: row["version"] for n, row in projected.items()} == versions
    metrics_of(runtime).rebuild(everything=True)
    assert stored_rows(runtime) == projected
    assert_same_reports(metrics_of(runtime), by="severity")


@pytest.fixture
def zones() -> Iterator[list[Any]]:
    yield [None, UTC, *ZONES[1:], ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kathmandu")]


def test_calendar_day_cache_agrees_with_week_of(zones: list[Any]) -> None:
    rng = random.Random(11)
    start = compute.ms(datetime(2026, 3, 1, tzinfo=UTC)) or 0
    moments = [start + rng.randrange(0, 300 * 86_400_000) for _ in range(3000)]
    # every quarter hour around the 2026 daylight-saving changes in Europe and America
    for change in (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)):
        base = compute.ms(change) or 0
        moments += [base + k * 900_000 - 86_400_000 for k in range(4 * 72)]
    for tz in zones:
        calendar = compute._Calendar(tz)
        for value in moments:
            moment = compute.from_ms(value)
            assert calendar.week(value) == compute.week_of(moment, tz)
            assert calendar.month(value) == compute.month_of(moment, tz)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(1970, 1, 1, 0, 0, 0, 499, tzinfo=UTC), 0),
        (datetime(1970, 1, 1, 0, 0, 0, 500, tzinfo=UTC), 1),
        (datetime(2026, 11, 23, 10, 0, 0, 123500, tzinfo=UTC), 1795428000124),
        (datetime(2026, 11, 23, 11, 0, 0, 123499, tzinfo=ZoneInfo("Europe/Berlin")), 1795428000123),
    ],
)
def test_epoch_milliseconds_round_half_up(moment: datetime, expected: int) -> None:
    assert compute.ms(moment) == expected


def test_figures_that_wait_on_now_agree_at_their_boundaries(
    runtime: Runtime, clock: FixedClock
) -> None:
    """SEV2: respond within 1 h, resolve within 8 h, an update every 30 min, post-mortem
    required within 2 days. `now` runs over each due time, one millisecond either side."""
    start = T0 - timedelta(days=5)
    clock.set(start)
    open_one = runtime.incidents.declare(SYSTEM, DeclareIn(title="open", severity="SEV2"))
    promise = start + timedelta(minutes=75)
    update = Event(
        "status_update_published",
        "bob",
        start + timedelta(minutes=30),
        {"next_update_at": promise.isoformat()},
    )
    clock.set(start + timedelta(minutes=30))
    runtime.incidents.append_events(SYSTEM, open_one.public_id, [update])
    clock.set(start)
    resolved = runtime.incidents.declare(SYSTEM, DeclareIn(title="resolved", severity="SEV2"))
    clock.set(start + timedelta(hours=2))
    runtime.incidents.append_events(
        SYSTEM, resolved.public_id, [Event("resolved", "ann", clock.now(), {})]
    )
    metrics = metrics_of(runtime)
    dues = [
        start + timedelta(hours=1),  # response target of the open incident
        start + timedelta(hours=8),  # its resolution target
        promise,  # its promised update
        start + timedelta(minutes=90),  # its cadence: second and third due updates
        start + timedelta(minutes=120),
        start + timedelta(hours=2, days=2),  # the resolved one's post-mortem
    ]
    for due in dues:
        for delta in (-1, 0, 1):
            clock.set(due + timedelta(milliseconds=delta))
            for by in ("severity", "service"):  # (no service) for both: groups split them
                fast = metrics.report(start - timedelta(days=1), T0, by=by, include_incidents=True)
                assert fast == reference_report(
                    metrics, start - timedelta(days=1), T0, by=by, include_incidents=True
                )
    assert fast["overall"]["postmortems"]["overdue"] == 1
