"""MUST STOP rules (pure): when one holds, a stop is raised for a person to decide on.

"Surface, don't solve": warroom does not work around the obstacle. A raised stop is a
`stop_raised` event plus the `stopped` flag (which the escalation matrix turns into
notifications of the commander and the policy's contact); it stays on the incident, and on
the war room's banner, until a person acknowledges it with a decision (`stop_acknowledged`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from warroom.core.auth import SYSTEM
from warroom.core.clock import ensure_utc
from warroom.core.durations import parse_duration
from warroom.core.inputs import MAX_DURATION
from warroom.incidents.model import Event, IncidentState
from warroom.policy import Policy
from warroom.policy.schema import StopRule

#: ETAs that say "not known yet": no ETA to check, nothing to surface.
UNKNOWN_ETAS = frozenset(
    {
        "investigating",
        "unknown",
        "not known",
        "not yet known",
        "not known yet",
        "tbd",
        "tba",
        "n/a",
        "none",
        "?",
        "-",
    }
)

_NUMBER_WORDS = {
    "a": 1.0,
    "an": 1.0,
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "twelve": 12.0,
    "fifteen": 15.0,
    "twenty": 20.0,
    "thirty": 30.0,
    "forty-five": 45.0,
    "forty five": 45.0,
    "half an": 0.5,
    "half a": 0.5,
    "the": 1.0,  # "within the hour"
}
_UNIT_SECONDS = {
    "w": 604800.0,
    "wk": 604800.0,
    "week": 604800.0,
    "d": 86400.0,
    "day": 86400.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "m": 60.0,
    "min": 60.0,
    "mn": 60.0,
    "minute": 60.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
}
_AMOUNT = (
    r"(?P<n>\d+(?:[.,]\d+)?|"
    + "|".join(re.escape(w) for w in sorted(_NUMBER_WORDS, key=len, reverse=True))
    + ")"
)
_UNIT = r"(?P<u>weeks?|wks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|mn|m|seconds?|secs?|s)\b"
_PIECE = re.compile(_AMOUNT + r"\s*" + _UNIT + r"\s*(?:and\s+|,\s*)?")
# "2h30" (minutes after an hour figure without their unit) and "1 1/2 hours".
_HOURS_MINUTES = re.compile(r"^(\d+)\s*h\s*(\d{1,2})$")
_CLOCK = re.compile(
    r"^(?:(?P<day>today|tonight|tomorrow)\s+)?(?:at\s+)?(?P<h>\d{1,2})(?::(?P<m>\d{2}))?"
    r"\s*(?P<ampm>am|pm)?(?:\s+(?P<day2>today|tonight|tomorrow))?"
    r"\s*(?P<tz>utc|gmt|z|[+-]\d{2}:?\d{2})?(?:\s+(?P<day3>today|tonight|tomorrow))?$"
)
_LEAD = re.compile(
    r"^(?:eta\s*[:=]?\s*)?(?:(?:in|within|about|around|approx\.?|approximately|roughly|"
    r"another|~|<|under|less than|by|at|before|until|up to)\s*)*"
)
_TAIL = re.compile(r"\s*(?:from now|more|or so|or less|max|at most|at the latest|\.)*$")


@dataclass(frozen=True)
class EtaReading:
    """What an update's ETA says: a moment (`at`), nothing to check (`known` false: no ETA,
    or "investigating"), or words warroom could not read (`readable` false)."""

    text: str
    at: datetime | None
    readable: bool

    @property
    def known(self) -> bool:
        return self.at is not None


def read_eta(text: str | None, at: datetime) -> EtaReading:
    """Read an ETA as people write it, relative to `at` (when the update was published):
    an ISO time (`2026-12-07T14:00Z`), a duration (`2h`, `in 90m`, `6 hours`, `in 2h30`,
    `1.5 hours`, `half an hour`, `2 hours 30 minutes from now`), a clock time (`by 14:00
    UTC`, `at 3pm`, `14:30 +02:00`, `tomorrow 09:00`; the next such time after `at`, UTC
    unless an offset is given). "investigating", "unknown", "TBD"... are no ETA. Anything
    else is unreadable, which the caller must show, never ignore."""
    raw = (text or "").strip()
    value = " ".join(raw.lower().split())
    if not value or value in UNKNOWN_ETAS:
        return EtaReading(raw, None, True)
    try:
        return EtaReading(
            raw, ensure_utc(datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))), True
        )
    except ValueError:
        pass
    value = _TAIL.sub("", _LEAD.sub("", value)).strip()
    moment = _duration_from(value, at)
    if moment is None:
        moment = _clock_time(value, at)
    return EtaReading(raw, moment, moment is not None)


def parse_eta(text: str | None, at: datetime) -> datetime | None:
    """The moment an ETA names (see `read_eta`); None when there is none or it is unreadable."""
    return read_eta(text, at).at


def _duration_from(value: str, at: datetime) -> datetime | None:
    hours_minutes = _HOURS_MINUTES.match(value)
    if hours_minutes:
        return at + timedelta(hours=int(hours_minutes[1]), minutes=int(hours_minutes[2]))
    try:
        return at + parse_duration(value.replace(" ", ""))
    except ValueError:
        pass
    position = 0
    seconds = 0.0
    for match in _PIECE.finditer(value):
        if match.start() != position:
            return None
        amount = match["n"]
        number = _NUMBER_WORDS.get(amount)
        if number is None:
            number = float(amount.replace(",", "."))
        unit = match["u"].rstrip("s") if len(match["u"]) > 1 else match["u"]
        seconds += number * _UNIT_SECONDS[unit or "s"]
        position = match.end()
    if position == 0 or value[position:].strip():
        return None
    if seconds > MAX_DURATION.total_seconds():
        return None
    return at + timedelta(seconds=seconds)


def _clock_time(value: str, at: datetime) -> datetime | None:
    match = _CLOCK.match(value)
    if match is None or (match["m"] is None and match["ampm"] is None):
        return None  # a bare number ("14") is not a time
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"] == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    zone = match["tz"]
    offset = timedelta(0)
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if zone[0] == "-":
            offset = -offset
    local = at.astimezone(timezone(offset))
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    day = match["day"] or match["day2"] or match["day3"]
    if day == "tomorrow":
        moment += timedelta(days=1)
    elif moment < local:
        moment += timedelta(days=1)  # "by 14:00" said at 15:00 is tomorrow's 14:00
    return moment.astimezone(UTC)


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
        reading = read_eta(event.data.get("eta"), event.occurred_at)
        if not reading.readable:
            # Surface, don't guess: a person checks the words against the window.
            return {
                "eta": None,
                "eta_text": reading.text,
                "window_ends_at": deadline.isoformat(),
                "reason": f"the update's ETA ({reading.text!r}) cannot be read as a time, so "
                f"it cannot be checked against the {state.severity} response window ({label}, "
                f"ends {deadline.isoformat()}); give it as e.g. 'in 2h' or 'by 14:00 UTC'",
            }
        eta = reading.at
        if eta is not None and eta > deadline:
            return {
                "eta": eta.isoformat(),
                "eta_text": reading.text,
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
