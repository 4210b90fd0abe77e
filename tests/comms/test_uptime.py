"""90-day uptime bars (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.comms.views import daily_uptime, overall_uptime, worst

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("intervals", "today", "worst_status"),
    [
        ([], 100.0, "operational"),
        # 6 of today's 12 hours in a major outage: 50 %.
        ([(MIDNIGHT, MIDNIGHT + timedelta(hours=6), "major_outage")], 50.0, "major_outage"),
        # A partial outage counts 30 %: 6h x 0.3 of 12h = 15 % down.
        ([(MIDNIGHT, MIDNIGHT + timedelta(hours=6), "partial_outage")], 85.0, "partial_outage"),
        # Degraded performance and maintenance are not downtime.
        ([(MIDNIGHT, None, "degraded_performance")], 100.0, "degraded_performance"),
        ([(MIDNIGHT, None, "under_maintenance")], 100.0, "under_maintenance"),
        # Overlaps count once, at the worse weight; an open interval runs until now.
        (
            [
                (MIDNIGHT, None, "partial_outage"),
                (MIDNIGHT + timedelta(hours=6), None, "major_outage"),
            ],
            100 - (6 * 0.3 + 6) / 12 * 100,
            "major_outage",
        ),
    ],
)
def test_today(
    intervals: list[tuple[datetime, datetime | None, str]], today: float, worst_status: str
) -> None:
    days = daily_uptime(intervals, NOW)
    assert len(days) == 90 and days[-1].day == NOW.date()
    assert days[-1].uptime == pytest.approx(today, abs=0.001)
    assert days[-1].worst == worst_status
    assert all(d.uptime == 100.0 for d in days[:-1])


def test_an_outage_across_midnight_splits_between_days() -> None:
    start = MIDNIGHT - timedelta(hours=12)
    days = daily_uptime([(start, MIDNIGHT + timedelta(hours=3), "major_outage")], NOW)
    assert days[-2].uptime == 50.0 and days[-1].uptime == 75.0
    total = 89 * 86400 + 12 * 3600
    assert overall_uptime(days, NOW) == pytest.approx(100 * (1 - 15 * 3600 / total), abs=0.001)


def test_older_than_90_days_is_ignored() -> None:
    old = NOW - timedelta(days=200)
    assert (
        overall_uptime(daily_uptime([(old, old + timedelta(days=1), "major_outage")], NOW), NOW)
        == 100.0
    )


def test_worst() -> None:
    assert worst(["operational", "major_outage", "degraded_performance"]) == "major_outage"
    assert worst([]) == "operational"


def test_a_state_set_this_very_second_colours_today() -> None:
    days = daily_uptime([(NOW, None, "major_outage")], NOW)
    assert days[-1].worst == "major_outage" and days[-1].uptime == 100.0
    # A closed interval of no length does not.
    assert daily_uptime([(NOW, NOW, "major_outage")], NOW)[-1].worst == "operational"


def test_state_history_becomes_intervals() -> None:
    from warroom.comms.views import Component, StateChange, state_intervals

    def component(status: str) -> Component:
        return Component("api", "API", "", None, 0, status, True, False, MIDNIGHT, MIDNIGHT)

    hour = timedelta(hours=1)
    changes = (
        StateChange(MIDNIGHT, "operational"),
        StateChange(MIDNIGHT + hour, "partial_outage"),
        StateChange(MIDNIGHT + 2 * hour, "major_outage"),
        StateChange(MIDNIGHT + 3 * hour, "operational"),
    )
    assert state_intervals(changes, component("operational")) == [
        (MIDNIGHT + hour, MIDNIGHT + 2 * hour, "partial_outage"),
        (MIDNIGHT + 2 * hour, MIDNIGHT + 3 * hour, "major_outage"),
    ]
    # A current state the history lacks (set outside the service) counts from its last change.
    assert state_intervals(changes, component("degraded_performance"))[-1] == (
        MIDNIGHT + 3 * hour,
        None,
        "degraded_performance",
    )
    assert state_intervals((), component("major_outage")) == [(MIDNIGHT, None, "major_outage")]
