"""Metric math as tables of cases: pure functions over plain incident facts."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.metrics import reference
from warroom.incidents.mttx import breakdown_of
from warroom.metrics import compute
from warroom.metrics.compute import IncidentFacts, Options
from warroom.policy.loader import load_preset

POLICY = load_preset("default")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
NOW = T0 + timedelta(days=30)


def dt(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def m(minutes: float) -> int:
    """Epoch milliseconds, `minutes` after T0."""
    value = compute.ms(dt(minutes))
    assert value is not None
    return value


def facts(n: int = 1, **changes: Any) -> IncidentFacts:
    """SEV2: started -10m, detected and declared 0, ack 5m, mitigated 30m, resolved 60m."""
    base = IncidentFacts(
        id=n,
        public_id=f"INC-20261123-{n:03d}",
        title=f"incident {n}",
        severity="SEV2",
        type="service_outage",
        status="resolved",
        services=("api",),
        declared=m(0),
        started=m(-10),
        detected=m(0),
        acknowledged=m(5),
        mitigated=m(30),
        resolved=m(60),
    )
    return replace(base, **changes)


def opts(**changes: Any) -> Options:
    base = Options(since=T0 - timedelta(days=7), until=T0 + timedelta(days=7), now=NOW)
    return replace(base, **changes)


def measure(item: IncidentFacts, **changes: Any) -> compute.Measured:
    return compute.measure(item, POLICY, opts(**changes))


@pytest.mark.parametrize(
    ("changes", "seconds", "flags"),
    [
        (
            {},
            {
                "time_to_detect": 600,
                "time_to_acknowledge": 300,
                "time_to_mitigate": 1500,
                "time_to_resolve": 1800,
                "mttr": 4200,
            },
            [],
        ),
        (
            # resolved without a mitigation: flagged, the two phases it bounds are not counted
            {"mitigated": None},
            {"time_to_mitigate": None, "time_to_resolve": None, "mttr": 4200},
            ["missing mitigated_at"],
        ),
        (
            # still open: no flags, open phases are simply not measured yet
            {"status": "investigating", "mitigated": None, "resolved": None},
            {"time_to_acknowledge": 300, "time_to_mitigate": None, "mttr": None},
            [],
        ),
        (
            # out of order (ack recorded before detection)
            {"acknowledged": m(-5)},
            {"time_to_acknowledge": None, "time_to_mitigate": 2100, "mttr": 4200},
            ["acknowledged_at before detected_at"],
        ),
        (
            # reopened once: counted once, with the total time up to the final resolution
            {"reopen_count": 1, "resolved": m(300)},
            {"mttr": 18600, "time_to_resolve": 16200},
            ["reopened 1x (counted once, total time)"],
        ),
        (
            {"corrected": ("acknowledged_at",), "backdated": ("resolved",)},
            {"mttr": 4200},
            ["corrected acknowledged_at", "backdated resolved"],
        ),
        (
            # aware datetimes in other zones are the same instants
            {
                "detected": compute.ms(
                    datetime(2026, 11, 23, 11, 0, tzinfo=timezone(timedelta(hours=1)))
                ),
                "acknowledged": compute.ms(
                    datetime(2026, 11, 23, 5, 5, tzinfo=ZoneInfo("America/New_York"))
                ),
            },
            {"time_to_detect": 600, "time_to_acknowledge": 300},
            [],
        ),
    ],
)
def test_phases_and_flags(
    changes: dict[str, Any], seconds: dict[str, float | None], flags: list[str]
) -> None:
    result = measure(facts(**changes))
    for name, expected in seconds.items():
        assert result.seconds[name] == expected, name
    assert list(result.flags) == flags


def test_mttr_from_detected_at() -> None:
    assert measure(facts(), mttr_from="detected_at").seconds["mttr"] == 3600


@pytest.mark.parametrize(
    ("severity", "changes", "now", "response", "resolution", "met"),
    [
        # SEV2: respond within 1h, resolve within 8h (from detection)
        ("SEV2", {}, NOW, "met", "met", True),
        ("SEV2", {"acknowledged": m(61)}, NOW, "missed", "met", False),
        ("SEV2", {"resolved": m(8 * 60 + 1)}, NOW, "met", "missed", False),
        # open, still within both targets
        (
            "SEV2",
            {"status": "triggered", "acknowledged": None, "resolved": None},
            dt(10),
            "pending",
            "pending",
            None,
        ),
        # open and already past the response target
        (
            "SEV2",
            {"status": "triggered", "acknowledged": None, "resolved": None},
            dt(90),
            "missed",
            "pending",
            False,
        ),
        # SEV1 "immediate" is measured as 5 minutes
        ("SEV1", {"acknowledged": m(6)}, NOW, "missed", "met", False),
        # an unknown severity (policy changed since) has no targets
        ("SEV9", {}, NOW, None, None, None),
        # out-of-order milestones make the verdict unknown, not met
        ("SEV2", {"acknowledged": m(-1)}, NOW, "unknown", "met", None),
    ],
)
def test_sla_verdicts(
    severity: str,
    changes: dict[str, Any],
    now: datetime,
    response: str | None,
    resolution: str | None,
    met: bool | None,
) -> None:
    result = measure(facts(severity=severity, **changes), now=now)
    assert (result.sla_response, result.sla_resolution, result.sla_met) == (
        response,
        resolution,
        met,
    )


@pytest.mark.parametrize(
    ("end", "updates", "expected"),
    [
        (60, [], (3, 0)),  # 15m interval, an hour of silence: due at 15, 30, 45 all missed
        (60, [10, 25, 40, 55], (4, 4)),
        (60, [10, 40], (4, 1)),  # 10 on time; 30m gap = 2 missed; trailing 20m = 1 missed
        (10, [], (0, 0)),  # shorter than one interval: nothing was due yet
        (60, [-5, 70], (3, 0)),  # updates outside the incident do not count
        (30, [15], (1, 1)),  # on the deadline is on time; due again at resolution: not missed
        (31, [15], (2, 1)),  # ... but a minute later it was
    ],
)
def test_cadence(end: int, updates: list[int], expected: tuple[int, int]) -> None:
    assert compute.cadence(m(0), m(end), 15 * 60_000, [m(u) for u in updates]) == (expected)


@pytest.mark.parametrize(
    ("updates", "end", "expected"),
    [
        ([(0, 15), (14, 30)], 60, (2, 1)),  # second promise (30) passed without an update
        ([(0, 15), (20, None)], 60, (1, 0)),
        ([(0, 90)], 60, (0, 0)),  # resolved before the promised time: not due
        ([(10, 20), (0, 15)], 60, (2, 1)),  # order of the input does not matter
    ],
)
def test_promises(
    updates: list[tuple[int, int | None]], end: int, expected: tuple[int, int]
) -> None:
    pairs = [(m(u), m(p) if p is not None else None) for u, p in updates]
    assert compute.promises(pairs, m(end)) == expected


def test_cadence_from_updates_in_facts() -> None:
    item = facts(updates=((m(10), m(25)), (m(25), m(40)), (m(50), m(65))))
    result = measure(item)  # SEV2: every 30m; declared 0 → resolved 60
    assert (result.cadence_intervals, result.cadence_on_time) == (3, 3)
    assert (result.promises_made, result.promises_kept) == (2, 1)


@pytest.mark.parametrize(
    ("values", "stats"),
    [
        ([], {"count": 0, "mean": None, "median": None, "p90": None}),
        ([5.0], {"count": 1, "mean": 5.0, "median": 5.0, "p90": 5.0}),
        ([1.0, 2.0, 3.0, 4.0], {"count": 4, "mean": 2.5, "median": 2.5, "p90": 3.7}),
        ([float(n) for n in range(1, 11)], {"count": 10, "mean": 5.5, "median": 5.5, "p90": 9.1}),
    ],
)
def test_stats(values: list[float], stats: dict[str, Any]) -> None:
    result = compute.stats(values)
    for key, expected in stats.items():
        assert (
            result[key] == pytest.approx(expected) if expected is not None else result[key] is None
        )


def test_zero_incidents() -> None:
    data = reference.report([], POLICY, opts())
    assert data["overall"]["incidents"] == 0
    assert data["overall"]["figures"]["mttr"] == {
        "count": 0,
        "mean": None,
        "median": None,
        "p90": None,
        "excluded": 0,
    }
    assert data["overall"]["sla"]["compliance"] is None
    assert data["groups"] == []
    assert data["incidents_per_week"] == 0
    assert [w["incidents"] for w in data["weekly"]] == [0, 0, 0]
    assert data["flagged"] == {"total": 0, "items": []}
    rows = list(csv.DictReader(io.StringIO(compute.to_csv(data))))
    assert [r["group"] for r in rows] == ["(all)"]


def sample() -> list[IncidentFacts]:
    return [
        facts(1),
        facts(2, severity="SEV1", services=("db", "api"), resolved=m(130), revenue_per_hour=600.0),
        facts(3, status="investigating", mitigated=None, resolved=None, declared=m(60)),
        facts(4, mitigated=None, declared=m(-3 * 24 * 60), postmortem_status="published"),
        facts(5, severity="SEV3", type="data_loss", services=()),
    ]


def test_breakdown_by_severity() -> None:
    data = reference.report(sample(), POLICY, opts())
    assert [g["key"] for g in data["groups"]] == ["SEV1", "SEV2", "SEV3"]  # policy order
    sev2 = next(g for g in data["groups"] if g["key"] == "SEV2")
    assert (sev2["incidents"], sev2["open"], sev2["resolved"], sev2["flagged"]) == (3, 1, 2, 1)
    assert sev2["flags"] == {"missing_milestone": 1}
    assert sev2["figures"]["mttr"]["count"] == 2
    assert sev2["figures"]["mttr"]["excluded"] == 1
    assert sev2["figures"]["time_to_mitigate"]["count"] == 1
    # required post-mortems: two resolved SEV2, one published; the other is 30 days late
    assert sev2["postmortems"]["required"] == 2
    assert sev2["postmortems"]["required_published"] == 1
    assert sev2["postmortems"]["completion"] == 0.5
    assert sev2["postmortems"]["overdue"] == 1
    sev1 = data["groups"][0]
    assert sev1["cost"] == {"estimate": 1400.0, "incidents_with_revenue": 1}  # 600/h x 140m
    assert sev1["sla"]["response"]["met"] == 1  # acknowledged at exactly 5m: "immediate" met
    assert data["flagged"]["total"] == 1
    assert data["flagged"]["items"][0]["id"] == "INC-20261123-004"
    assert data["overall"]["incidents"] == 5


def test_breakdown_by_service_team_type_and_period() -> None:
    teams = {"api": "platform", "db": "data"}
    by_service = reference.report(sample(), POLICY, opts(by="service"))
    assert {g["key"]: g["incidents"] for g in by_service["groups"]} == {
        "(no service)": 1,
        "api": 4,
        "db": 1,
    }
    by_team = reference.report(sample(), POLICY, opts(by="team", teams=teams))
    assert {g["key"]: g["incidents"] for g in by_team["groups"]} == {
        "(no team)": 1,
        "data": 1,
        "platform": 4,
    }
    by_type = reference.report(sample(), POLICY, opts(by="type"))
    assert {g["key"]: g["incidents"] for g in by_type["groups"]} == {
        "data_loss": 1,
        "service_outage": 4,
    }
    by_week = reference.report(sample(), POLICY, opts(by="week"))
    assert {g["key"]: g["incidents"] for g in by_week["groups"]} == {
        "2026-11-16": 1,
        "2026-11-23": 4,
    }
    assert reference.report(sample(), POLICY, opts(by="month"))["groups"][0]["key"] == "2026-11"
    with pytest.raises(ValueError, match="unknown grouping"):
        reference.report(sample(), POLICY, opts(by="colour"))


def test_weeks_follow_the_time_zone() -> None:
    # Monday 2026-11-23 02:00 UTC is still Sunday evening in New York
    item = facts(declared=compute.ms(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)))
    utc = reference.report([item], POLICY, opts(by="week"))
    ny = reference.report([item], POLICY, opts(by="week", tz=ZoneInfo("America/New_York")))
    assert utc["groups"][0]["key"] == "2026-11-23"
    assert ny["groups"][0]["key"] == "2026-11-16"
    assert ny["timezone"] == "America/New_York"


def test_weekly_trend_rows() -> None:
    data = reference.report(sample(), POLICY, opts())
    weeks = {w["week"]: w for w in data["weekly"]}
    assert list(weeks) == ["2026-11-16", "2026-11-23", "2026-11-30"]
    this_week = weeks["2026-11-23"]
    assert this_week["incidents"] == 4
    assert this_week["by_severity"] == {"SEV1": 1, "SEV2": 2, "SEV3": 1, "SEV4": 0}
    assert this_week["mttr_median"] == pytest.approx(4200)  # 4200, 4200, 8400
    assert weeks["2026-11-30"]["incidents"] == 0
    assert weeks["2026-11-30"]["mttr_median"] is None


def test_csv_shape() -> None:
    data = reference.report(sample(), POLICY, opts(), include_incidents=True)
    rows = list(csv.DictReader(io.StringIO(compute.to_csv(data))))
    assert [r["group"] for r in rows] == ["SEV1", "SEV2", "SEV3", "(all)"]
    assert list(rows[0]) == list(compute.GROUP_COLUMNS)
    assert rows[-1]["incidents"] == "5"
    per_incident = list(csv.DictReader(io.StringIO(compute.to_csv(data, incidents=True))))
    assert len(per_incident) == 5
    assert list(per_incident[0]) == list(compute.INCIDENT_COLUMNS)
    by_id = {r["id"]: r for r in per_incident}
    assert by_id["INC-20261123-001"]["sla_met"] == "true"
    assert by_id["INC-20261123-003"]["sla_met"] == "false"  # open for 30 days: 8h target missed
    assert by_id["INC-20261123-004"]["flags"] == "missing mitigated_at"
    assert by_id["INC-20261123-002"]["services"] == "db api"


def test_csv_neutralises_formulas() -> None:
    data = reference.report([facts(title="=HYPERLINK(1)")], POLICY, opts(), include_incidents=True)
    row = next(csv.DictReader(io.StringIO(compute.to_csv(data, incidents=True))))
    assert row["title"] == "'=HYPERLINK(1)"


_moment = st.one_of(st.none(), st.integers(min_value=-600, max_value=600))


@given(
    moments=st.tuples(_moment, _moment, _moment, _moment, _moment),
    reopens=st.integers(min_value=0, max_value=2),
    mttr_from=st.sampled_from(["started_at", "detected_at"]),
)
def test_bulk_path_matches_the_incident_breakdown(
    moments: tuple[int | None, ...], reopens: int, mttr_from: str
) -> None:
    """Metrics in epoch milliseconds give what `mttx.breakdown_of` gives on datetimes."""
    names = ("started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at")
    as_datetimes = {
        n: (dt(v) if v is not None else None) for n, v in zip(names, moments, strict=True)
    }
    expected = breakdown_of(as_datetimes, reopens, mttr_from)
    item = facts(
        started=m(moments[0]) if moments[0] is not None else None,
        detected=m(moments[1]) if moments[1] is not None else None,
        acknowledged=m(moments[2]) if moments[2] is not None else None,
        mitigated=m(moments[3]) if moments[3] is not None else None,
        resolved=m(moments[4]) if moments[4] is not None else None,
        reopen_count=reopens,
    )
    result = measure(item, mttr_from=mttr_from)
    assert result.seconds == expected.seconds()
    assert list(result.flags) == expected.flags
