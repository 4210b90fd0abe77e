"""Pure parts of status updates: the promised time and who hears about an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.comms.config import CommsConfig, StakeholderGroup
from warroom.comms.updates import matching_groups, next_update_at
from warroom.core.errors import InvalidInput
from warroom.incidents.model import Event, initial_state
from warroom.policy.loader import load_preset

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "status", "interval", "expected"),
    [
        ("30m", "identified", None, NOW + timedelta(minutes=30)),
        ("1h30m", "investigating", timedelta(minutes=15), NOW + timedelta(minutes=90)),
        (None, "identified", timedelta(minutes=15), NOW + timedelta(minutes=15)),
        (None, "identified", None, None),
        ("", "monitoring", timedelta(hours=1), NOW + timedelta(hours=1)),
        ("2026-11-23T11:00:00Z", "identified", None, datetime(2026, 11, 23, 11, tzinfo=UTC)),
        ("2026-11-23T12:00:00+01:00", "identified", None, datetime(2026, 11, 23, 11, tzinfo=UTC)),
        ("30m", "resolved", timedelta(minutes=15), None),  # nothing promised once resolved
    ],
)
def test_next_update_at(
    text: str | None, status: str, interval: timedelta | None, expected: datetime | None
) -> None:
    assert next_update_at(text, status, interval, NOW) == expected


@pytest.mark.parametrize(
    "text", ["soon", "0", "8d", "2026-11-23T09:00:00Z", "-5m", "0001-01-01T00:00:00+00:01"]
)
def test_next_update_at_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        next_update_at(text, "identified", None, NOW)


def _state(severity: str, services: list[str]) -> object:
    data = {"public_id": "INC-1", "title": "t", "severity": severity, "type": "service_outage"}
    return initial_state(Event("declared", "a", NOW, {**data, "services": services}))


GROUPS = CommsConfig(
    stakeholders=(
        StakeholderGroup(name="all", urls=("json://x",)),
        StakeholderGroup(name="execs", urls=("json://x",), severities=("P0",)),
        StakeholderGroup(name="pay", urls=("json://x",), services=("payments",)),
        StakeholderGroup(name="quiet", urls=("json://x",), updates=False),
        StakeholderGroup(name="no-resolution", urls=("json://x",), resolution=False),
    )
)


@pytest.mark.parametrize(
    ("severity", "services", "purpose", "names"),
    [
        ("SEV1", ["payments"], "updates", ["all", "execs", "pay", "no-resolution"]),
        ("SEV2", ["search"], "updates", ["all", "no-resolution"]),
        ("SEV2", ["search", "payments"], "resolution", ["all", "pay", "quiet"]),
        ("critical", [], "resolution", ["all", "execs", "quiet"]),
    ],
)
def test_matching_groups(
    severity: str, services: list[str], purpose: str, names: list[str]
) -> None:
    policy = load_preset("default")
    state = _state(policy.severity(severity).id, services)
    chosen = matching_groups(GROUPS, policy, state, purpose=purpose)  # type: ignore[arg-type]
    assert [g.name for g in chosen] == names
