"""The fold as tables: events in, state out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from warroom.core.vocab import Status
from warroom.incidents.model import Event, IncidentState, apply, fold

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def declared(**overrides: object) -> Event:
    data = {
        "public_id": "INC-20261123-001",
        "title": "Checkout failing",
        "severity": "SEV2",
        "type": "service_outage",
        "services": ["payments"],
        "started_at": at(-10).isoformat(),
        "detected_at": at(-2).isoformat(),
        **overrides,
    }
    return Event("declared", "alice", at(0), data)


def test_declared_sets_identity_and_milestones() -> None:
    state = fold([declared()])
    assert state.public_id == "INC-20261123-001"
    assert state.status is Status.TRIGGERED
    assert state.started_at == at(-10)
    assert state.detected_at == at(-2)
    assert state.declared_at == at(0)
    assert state.acknowledged_at is None
    assert state.event_count == 1


def test_started_defaults_to_detected_which_defaults_to_declare_time() -> None:
    state = fold([declared(started_at=None, detected_at=None)])
    assert state.detected_at == at(0)
    assert state.started_at == at(0)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (
            [Event("acknowledged", "bob", at(3))],
            {"status": Status.ACKNOWLEDGED, "acknowledged_at": at(3)},
        ),
        (
            [Event("status_changed", "bob", at(4), {"from": "triggered", "to": "investigating"})],
            {"status": Status.INVESTIGATING, "acknowledged_at": at(4)},
        ),
        (
            [
                Event("acknowledged", "bob", at(3)),
                Event("status_changed", "bob", at(20), {"to": "monitoring"}),
            ],
            {"status": Status.MONITORING, "mitigated_at": at(20), "acknowledged_at": at(3)},
        ),
        (
            [
                Event("status_changed", "bob", at(20), {"to": "monitoring"}),
                Event("status_changed", "bob", at(25), {"to": "investigating"}),
                Event("status_changed", "bob", at(40), {"to": "monitoring"}),
            ],
            {"mitigated_at": at(20), "status": Status.MONITORING},
        ),
        (
            [Event("severity_changed", "bob", at(5), {"from": "SEV2", "to": "SEV1"})],
            {"severity": "SEV1"},
        ),
        (
            [Event("role_assigned", "bob", at(5), {"role": "commander", "person": "carol"})],
            {"roles": {"commander": "carol"}},
        ),
        (
            [
                Event("role_assigned", "bob", at(5), {"role": "commander", "person": "carol"}),
                Event("role_assigned", "bob", at(6), {"role": "commander", "person": None}),
            ],
            {"roles": {}},
        ),
        (
            [Event("note_added", "bob", at(5), {"text": "looking at logs"})],
            {"status": Status.TRIGGERED, "event_count": 2},
        ),
        (
            [Event("resolved", "bob", at(60), {"summary": "rolled back", "checklist": {}})],
            {"status": Status.RESOLVED, "resolved_at": at(60), "resolution_summary": "rolled back"},
        ),
        (
            [
                Event("resolved", "bob", at(60), {"summary": "x"}),
                Event("reopened", "bob", at(90), {"reason": "back again"}),
            ],
            {"status": Status.REOPENED, "resolved_at": None, "reopen_count": 1},
        ),
        (
            [
                Event("resolved", "bob", at(60), {"summary": "x"}),
                Event("closed", "bob", at(70)),
            ],
            {"status": Status.CLOSED, "closed_at": at(70)},
        ),
        (
            [
                Event(
                    "milestone_corrected",
                    "bob",
                    at(30),
                    {"milestone": "started_at", "at": at(-45).isoformat()},
                )
            ],
            {"started_at": at(-45)},
        ),
        (
            [
                Event(
                    "postmortem_scheduled", "bob", at(70), {"owner": "dan", "due_at": "2026-11-25"}
                )
            ],
            {"postmortem": {"status": "scheduled", "owner": "dan", "due_at": "2026-11-25"}},
        ),
        (
            [Event("flag_set", "bob", at(5), {"flag": "data_breach_suspected", "value": True})],
            {"flags": {"data_breach_suspected": True}},
        ),
        (
            [Event("something_from_a_later_module", "bot", at(5), {"x": 1})],
            {"status": Status.TRIGGERED, "event_count": 2},
        ),
    ],
)
def test_fold(events: list[Event], expected: dict[str, object]) -> None:
    state = fold([declared(), *events])
    for key, value in expected.items():
        assert getattr(state, key) == value, key


def test_first_acknowledgement_is_kept_after_reopen() -> None:
    state = fold(
        [
            declared(),
            Event("acknowledged", "bob", at(3)),
            Event("resolved", "bob", at(60), {"summary": "x"}),
            Event("reopened", "bob", at(90), {"reason": "again"}),
            Event("acknowledged", "bob", at(95)),
            Event("resolved", "bob", at(120), {"summary": "y"}),
        ]
    )
    assert state.acknowledged_at == at(3)
    assert state.resolved_at == at(120)
    assert state.reopen_count == 1


def test_state_round_trips_through_json() -> None:
    state = fold(
        [
            declared(labels={"team": "core"}, impact={"users_affected": 1200}),
            Event("acknowledged", "bob", at(3)),
            Event("role_assigned", "bob", at(5), {"role": "scribe", "person": "erin"}),
        ]
    )
    assert IncidentState.from_dict(state.to_dict()) == state


def test_state_written_as_json_in_one_pass_is_its_dict_as_json() -> None:
    """`to_json` (what the incident's row keeps) is the text of `to_dict`, nested times,
    read-only mappings and tuples included."""
    state = fold(
        [
            declared(labels={"team": "core"}, impact={"users_affected": 1200}),
            Event("acknowledged", "bob", at(3)),
            Event("role_assigned", "bob", at(5), {"role": "scribe", "person": "erin"}),
            Event("flag_set", "bob", at(6), {"flag": "data_loss", "value": True, "reason": "x"}),
        ]
    )
    rich = replace(
        state,
        stops=MappingProxyType({"stop-1": {"text": "é", "raised_at": at(7)}}),
        extra={"window": {"from": at(8), "steps": (1, 2.5, None)}, "ok": False},
        next_update_at=at(30),
    )
    for one in (state, rich):
        assert one.to_json() == json.dumps(one.to_dict())
        assert IncidentState.from_dict(json.loads(one.to_json())) == IncidentState.from_dict(
            one.to_dict()
        )


def test_fold_is_incremental_apply() -> None:
    events = [declared(), Event("acknowledged", "bob", at(3)), Event("note_added", "x", at(4))]
    state = fold(events[:1])
    for event in events[1:]:
        state = apply(state, event)
    assert state == fold(events)


def test_timeline_must_start_with_declared() -> None:
    with pytest.raises(ValueError):
        fold([Event("acknowledged", "bob", at(3))])
    with pytest.raises(ValueError):
        fold([])


def test_backdated_event_does_not_move_last_event_time_back() -> None:
    state = fold([declared(), Event("note_added", "bob", at(-30), {"text": "first error"})])
    assert state.last_event_at == at(0)
