"""Condition flags from what people answer at triage and in the impact (pure).

The escalation matrix reads incident flags (`data_breach_suspected` brings in security and
legal, `user_data_affected` privacy, ...). Triage answers and impact fields set them, so a
condition escalation fires from triage alone; flags are only ever raised here (a person turns
one off with `warroom flag INCIDENT NAME --off --reason ...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from warroom.incidents.model import Event

# triage answer -> (flag, why)
TRIAGE_FLAGS: Mapping[str, tuple[str, str]] = {
    "data_loss": ("data_loss", "triage: data loss"),
    "security_breach": ("data_breach_suspected", "triage: security breach suspected"),
    "customer_facing": ("customer_facing", "triage: customer-facing"),
    "data_at_risk": ("user_data_affected", "triage: user data at risk"),
}
# impact field -> (flag, why)
IMPACT_FLAGS: Mapping[str, tuple[str, str]] = {
    "customer_facing": ("customer_facing", "impact: customer-facing"),
    "data_at_risk": ("user_data_affected", "impact: user data at risk"),
}
# Flags only warroom itself sets: the resolve guard and the MUST STOP banner depend on them.
SYSTEM_FLAGS = frozenset(
    {"verification_passed", "verification_regressed", "stopped", "canary_in_progress"}
)


def flag_events(
    flags: Mapping[str, bool],
    *,
    answers: Mapping[str, Any] | None,
    impact: Mapping[str, Any] | None,
    actor: str,
    now: datetime,
) -> list[Event]:
    """`flag_set` events for every condition the answers or impact state that is not set yet."""
    wanted: dict[str, str] = {}
    for source, mapping in ((answers or {}, TRIAGE_FLAGS), (impact or {}, IMPACT_FLAGS)):
        for key, (flag, why) in mapping.items():
            if source.get(key) is True and not flags.get(flag):
                wanted.setdefault(flag, why)
    return [
        Event("flag_set", actor, now, {"flag": flag, "value": True, "reason": why})
        for flag, why in wanted.items()
    ]
