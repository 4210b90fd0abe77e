"""MUST STOP rules (pure): when one holds, a stop is raised for a person to decide on.

"Surface, don't solve": warroom does not work around the obstacle. A raised stop is a
`stop_raised` event plus the `stopped` flag (which the escalation matrix turns into
notifications of the commander and the policy's contact); it stays on the incident, and on
the war room's banner, until a person acknowledges it with a decision (`stop_acknowledged`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from warroom.core.auth import SYSTEM
from warroom.core.clock import ensure_utc
from warroom.core.durations import parse_duration
from warroom.incidents.model import Event, IncidentState
from warroom.policy import Policy
from warroom.policy.schema import StopRule


def parse_eta(text: str | None, at: datetime) -> datetime | None:
    """An ETA as a moment: ISO time, or a duration from `at` (`2h`, `in 90m`, `1h30m from
    now`). Anything else (`investigating`) is no ETA."""
    if not text:
        return None
    value = text.strip().lower()
    try:
        return ensure_utc(datetime.fromisoformat(value.upper().replace("Z", "+00:00")))
    except ValueError:
        pass
    value = re.sub(r"^(in|about|~)\s*", "", value)
    value = re.sub(r"\s*(from now)$", "", value).replace(" ", "")
    try:
        return at + parse_duration(value)
    except ValueError:
        return None


def _holds_on_flags(rule: StopRule, state: IncidentState) -> bool:
    return all(state.flags.get(flag) for flag in rule.flags)


def _eta_beyond_window(
    policy: Policy, state: IncidentState, events: Sequence[Event]
) -> dict[str, Any] | None:
    window = policy.severity(state.severity).response_target.duration
    if window is None:
        return None
    deadline = state.detected_at + window
    label = policy.severity(state.severity).response_target.label
    for event in events:
        if event.type != "status_update_published":
            continue
        eta = parse_eta(event.data.get("eta"), event.occurred_at)
        if eta is not None and eta > deadline:
            return {
                "eta": eta.isoformat(),
                "window_ends_at": deadline.isoformat(),
                "reason": f"the update's ETA ({event.data.get('eta')}) is past the "
                f"{state.severity} response window ({label}, ends {deadline.isoformat()})",
            }
    return None


def _recurred(before: IncidentState | None, after: IncidentState, events: Sequence[Event]) -> str:
    for event in events:
        if event.type == "reopened":
            return f"reopened after resolution: {event.data.get('reason', '')}".strip()
        if (
            event.type == "flag_set"
            and event.data.get("flag") == "recurred"
            and event.data.get("value", True)
            and not (before is not None and before.flags.get("recurred"))
        ):
            return str(event.data.get("reason") or "the incident recurred")
    return ""


def raise_stops(
    policy: Policy,
    before: IncidentState | None,
    after: IncidentState,
    events: Sequence[Event],
    now: datetime,
) -> list[Event]:
    """The `stop_raised` (and `flag_set stopped`) events these new events call for."""
    if not policy.stop_rules:
        return []
    raised: list[Event] = []
    for rule in policy.stop_rules:
        if rule.id in after.stops:
            continue
        reason = ""
        details: dict[str, Any] = {}
        if rule.flags:
            was = before is not None and _holds_on_flags(rule, before)
            if _holds_on_flags(rule, after) and not was:
                reason = "; ".join(
                    after.flag_reasons.get(flag) or f"{flag} is set" for flag in rule.flags
                )
        elif rule.when == "recurrence":
            reason = _recurred(before, after, events)
        elif rule.when == "eta_beyond_window":
            found = _eta_beyond_window(policy, after, events)
            if found is not None:
                reason = str(found.pop("reason"))
                details = found
        if reason:
            data = {"rule": rule.id, "text": rule.text, "reason": reason, **details}
            raised.append(Event("stop_raised", SYSTEM.actor, now, data))
    if raised:
        text = "; ".join(f"{e.data['text']} ({e.data['reason']})" for e in raised)
        raised.append(
            Event(
                "flag_set",
                SYSTEM.actor,
                now,
                {"flag": "stopped", "value": True, "reason": f"MUST STOP: {text}"},
            )
        )
    return raised


def acknowledgement(
    state: IncidentState, rule: str, decision: str, actor: str, now: datetime
) -> list[Event]:
    """A person's decision on a raised stop; the `stopped` flag clears with the last one."""
    data = {"rule": rule, "decision": decision, "text": state.stops[rule].get("text", "")}
    events = [Event("stop_acknowledged", actor, now, data)]
    if set(state.stops) == {rule}:
        events.append(
            Event(
                "flag_set",
                actor,
                now,
                {"flag": "stopped", "value": False, "reason": f"acknowledged: {decision}"},
            )
        )
    return events
