"""The resolve guard that can require a passed verification (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.conftest import T0
from warroom.core.vocab import Status
from warroom.incidents.lifecycle import MoveRequest, unmet_guards
from warroom.incidents.model import Event, initial_state
from warroom.policy.loader import load_preset


def _state(severity: str, flags: dict[str, bool], mitigated: bool = True) -> object:
    declared = Event(
        "declared",
        "alice",
        T0,
        {
            "public_id": "INC-20261123-001",
            "title": "x",
            "severity": severity,
            "type": "service_outage",
        },
    )
    state = replace(initial_state(declared), status=Status.MONITORING, flags=flags)
    return replace(state, mitigated_at=T0 if mitigated else None)


@pytest.mark.parametrize(
    ("required", "severity", "flags", "blocked"),
    [
        (False, "SEV1", {}, False),
        (True, "SEV1", {}, True),
        (True, "SEV1", {"verification_regressed": True}, True),
        (True, "SEV1", {"verification_passed": True}, False),
        (True, "SEV3", {}, True),
        (True, "SEV4", {}, False),  # SEV4 has no verification window
    ],
)
def test_verification_guard(
    required: bool, severity: str, flags: dict[str, bool], blocked: bool
) -> None:
    policy = load_preset("default").model_copy(update={"resolve_requires_verification": required})
    request = MoveRequest(
        target=Status.RESOLVED, resolution_summary="done", at=T0 + timedelta(minutes=31)
    )
    guards = [u.guard for u in unmet_guards(_state(severity, flags), request, policy)]  # type: ignore[arg-type]
    assert ("verification" in guards) is blocked


def test_verification_guard_counts_the_window_from_mitigation() -> None:
    policy = load_preset("default").model_copy(update={"resolve_requires_verification": True})
    passed = {"verification_passed": True}

    def guards(state: object, minutes: int, waiver: str | None = None) -> list[str]:
        request = MoveRequest(
            target=Status.RESOLVED,
            resolution_summary="done",
            at=T0 + timedelta(minutes=minutes),
            verification_waiver=waiver,
        )
        return [u.guard for u in unmet_guards(state, request, policy)]  # type: ignore[arg-type]

    assert "verification" in guards(_state("SEV1", passed), 29)  # SEV1 window: 30m
    assert "verification" not in guards(_state("SEV1", passed), 30)
    assert "verification" in guards(_state("SEV1", passed, mitigated=False), 90)
    assert "verification" not in guards(_state("SEV1", {}, mitigated=False), 1, "customer call")
