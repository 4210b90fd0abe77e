"""The MTTx breakdown of one incident as a table of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.incidents.model import Event, fold
from warroom.incidents.mttx import breakdown

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(*events: Event, started: int = -10, detected: int = -2):  # type: ignore[no-untyped-def]
    data = {
        "public_id": "INC-20261123-001",
        "title": "x",
        "severity": "SEV2",
        "type": "service_outage",
        "started_at": at(started).isoformat(),
        "detected_at": at(detected).isoformat(),
    }
    return fold([Event("declared", "a", at(0), data), *events])


ACK = Event("acknowledged", "b", at(3))
MITIGATE = Event("status_changed", "b", at(20), {"to": "monitoring"})
RESOLVE = Event("resolved", "b", at(50), {"summary": "x"})


@pytest.mark.parametrize(
    ("events", "expected", "flags"),
    [
        (
            [ACK, MITIGATE, RESOLVE],
            {
                "time_to_detect": 480,
                "time_to_acknowledge": 300,
                "time_to_mitigate": 1020,
                "time_to_resolve": 1800,
                "mttr": 3600,
            },
            [],
        ),
        ([], {"time_to_detect": 480, "time_to_acknowledge": None, "mttr": None}, []),
        (
            # resolved without a mitigation step: the fold sets none, and that is flagged
            [ACK, RESOLVE],
            {"time_to_mitigate": None, "time_to_resolve": None, "mttr": 3600},
            ["missing mitigated_at"],
        ),
        (
            [
                ACK,
                MITIGATE,
                Event(
                    "milestone_corrected",
                    "b",
                    at(30),
                    {"milestone": "acknowledged_at", "at": at(25).isoformat()},
                ),
                RESOLVE,
            ],
            {"time_to_mitigate": None, "time_to_acknowledge": 1620},
            ["mitigated_at before acknowledged_at"],
        ),
    ],
)
def test_breakdown(
    events: list[Event], expected: dict[str, float | None], flags: list[str]
) -> None:
    result = breakdown(incident(*events))
    seconds = result.seconds()
    for key, value in expected.items():
        assert seconds[key] == value, key
    assert result.flags == flags


def test_mttr_from_detected_and_reopen_flag() -> None:
    state = incident(
        ACK,
        MITIGATE,
        RESOLVE,
        Event("reopened", "b", at(60), {"reason": "back"}),
        Event("resolved", "b", at(90), {"summary": "y"}),
    )
    result = breakdown(state, mttr_from="detected_at")
    assert result.total == timedelta(minutes=92)
    assert result.flags == ["reopened 1x (counted once, total time)"]
