"""`domain.follow_alerts`: what an incident does when its alerts change, as a table of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.alerts.domain import AlertTally, follow_alerts
from warroom.core.vocab import Status
from warroom.incidents.model import Event, IncidentState, apply, fold

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)


def incident(status: Status, source: str = "alert") -> IncidentState:
    """An incident declared at T0 (from an alert unless `source` says otherwise), moved to
    `status` the way people and intake move it."""
    declared = Event(
        "declared",
        "system",
        T0,
        {
            "public_id": "INC-20261123-001",
            "title": "HighErrorRate",
            "severity": "SEV2",
            "type": "service_outage",
            "source": source,
        },
    )
    path: dict[Status, list[Event]] = {
        Status.TRIGGERED: [],
        Status.ACKNOWLEDGED: [Event("acknowledged", "alice", T0, {})],
        Status.INVESTIGATING: [
            Event("status_changed", "alice", T0, {"from": "triggered", "to": "investigating"})
        ],
        Status.MONITORING: [
            Event("status_changed", "alice", T0, {"from": "triggered", "to": "monitoring"})
        ],
        Status.RESOLVED: [Event("resolved", "alice", T0, {"summary": "fixed", "checklist": {}})],
    }
    state = fold([declared, *path[status]])
    assert state.status is status
    return state


def follow(state: IncidentState, tally: AlertTally, auto_resolve: bool = False) -> list[str]:
    """The types of the events appended, each checked to apply to the state in turn."""
    events = follow_alerts(state, [], tally, actor="system", at=NOW, auto_resolve=auto_resolve)
    for event in events:
        state = apply(state, event)
        assert event.occurred_at == NOW
    return [f"{e.type}:{e.data['to']}" if e.type == "status_changed" else e.type for e in events]


@pytest.mark.parametrize(
    ("status", "tally", "auto_resolve", "expected"),
    [
        # a new alert while monitoring: the fix did not hold
        (
            Status.MONITORING,
            AlertTally(refired=True, firing=1),
            False,
            ["status_changed:investigating"],
        ),
        (Status.INVESTIGATING, AlertTally(refired=True, firing=1), False, []),
        # every open alert acknowledged, none firing: the incident is acknowledged
        (
            Status.TRIGGERED,
            AlertTally(acknowledged=True, acknowledged_open=2),
            False,
            ["acknowledged"],
        ),
        (Status.TRIGGERED, AlertTally(acknowledged=True, firing=1, acknowledged_open=1), False, []),
        (Status.INVESTIGATING, AlertTally(acknowledged=True, acknowledged_open=1), False, []),
        # acknowledged alerts that are all resolved leave nothing open: not an acknowledgement
        (Status.TRIGGERED, AlertTally(acknowledged=True), False, []),
        # the last open alert resolved: monitoring, and resolved only when the policy says so
        (Status.TRIGGERED, AlertTally(resolved=True), False, ["status_changed:monitoring"]),
        (Status.INVESTIGATING, AlertTally(resolved=True), False, ["status_changed:monitoring"]),
        (Status.MONITORING, AlertTally(resolved=True), False, []),
        (Status.TRIGGERED, AlertTally(resolved=True, firing=1), False, []),
        (Status.TRIGGERED, AlertTally(resolved=True, acknowledged_open=1), False, []),
        (
            Status.TRIGGERED,
            AlertTally(resolved=True),
            True,
            ["status_changed:monitoring", "resolved"],
        ),
        (Status.MONITORING, AlertTally(resolved=True), True, ["resolved"]),
        (Status.RESOLVED, AlertTally(resolved=True), True, []),
    ],
)
def test_rules(status: Status, tally: AlertTally, auto_resolve: bool, expected: list[str]) -> None:
    assert follow(incident(status), tally, auto_resolve) == expected


def test_an_incident_declared_by_a_person_is_never_moved_by_its_alerts_resolving() -> None:
    assert (
        follow(incident(Status.INVESTIGATING, source="manual"), AlertTally(resolved=True), True)
        == []
    )


def test_planned_events_come_first_and_the_rules_see_their_effect() -> None:
    """An `acknowledged` planned by hand is applied before the rules: no second acknowledgement."""
    planned = [Event("acknowledged", "alice", NOW, {})]
    events = follow_alerts(
        incident(Status.TRIGGERED),
        planned,
        AlertTally(acknowledged=True, acknowledged_open=1),
        actor="system",
        at=NOW,
        auto_resolve=False,
    )
    assert [e.type for e in events] == ["acknowledged"]


@pytest.mark.parametrize(
    ("tally", "may_move"),
    [
        (AlertTally(), False),
        (AlertTally(refired=True, firing=1), False),
        (AlertTally(resolved=True), True),
        (AlertTally(resolved=True, firing=1), False),
        (AlertTally(acknowledged=True, acknowledged_open=1), True),
        (AlertTally(acknowledged=True, firing=1, acknowledged_open=1), False),
    ],
)
def test_may_move_says_when_the_rules_can_add_an_event(tally: AlertTally, may_move: bool) -> None:
    assert tally.may_move is may_move
