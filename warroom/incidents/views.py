"""How an incident is shown: the state plus what the policy says about it right now (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warroom.incidents.lifecycle import allowed_moves
from warroom.incidents.model import Event, IncidentState
from warroom.policy import Policy


def incident_view(state: IncidentState, policy: Policy, now: datetime) -> dict[str, Any]:
    data = state.to_dict()
    data = {"id": state.public_id, **{k: v for k, v in data.items() if k != "public_id"}}
    level = policy.severity(state.severity)
    required = [role.value for role in level.roles_required]
    data["roles_missing"] = [role for role in required if role not in state.roles]
    data["allowed_moves"] = sorted(s.value for s in allowed_moves(state.status))
    data["severity_name"] = level.name
    targets: dict[str, Any] = {}
    for name, target in (
        ("response", level.response_target),
        ("resolution", level.resolution_target),
    ):
        entry: dict[str, Any] = {"label": target.label}
        if target.duration is not None:
            due = state.detected_at + target.duration
            entry["due_at"] = due.isoformat()
            reached = state.acknowledged_at if name == "response" else state.resolved_at
            entry["met"] = None if reached is None else reached <= due
            entry["overdue"] = reached is None and now > due
        targets[name] = entry
    data["targets"] = targets
    data["stopped"] = state.stopped
    window = level.verification_window
    if policy.resolve_requires_verification and window is not None:
        ends = state.mitigated_at + window if state.mitigated_at else None
        data["monitoring"] = {
            "window_seconds": window.total_seconds(),
            "ends_at": ends.isoformat() if ends else None,
            "passed": bool(state.flags.get("verification_passed")),
            "resolve_allowed": bool(
                ends is not None
                and now >= ends
                and state.flags.get("verification_passed")
                and not state.flags.get("verification_regressed")
            ),
        }
    update_due = next_update_due(state, policy)
    data["next_update_due_at"] = update_due.isoformat() if update_due else None
    return data


def next_update_due(state: IncidentState, policy: Policy) -> datetime | None:
    """When the next status update is due: the promise made, capped by the policy's cadence."""
    if not state.is_open:
        return None
    interval = policy.severity(state.severity).update_interval
    cadence = (state.last_update_at or state.declared_at) + interval if interval else None
    promised = state.next_update_at
    candidates = [moment for moment in (cadence, promised) if moment is not None]
    return min(candidates) if candidates else None


def event_view(event: Event) -> dict[str, Any]:
    return event.to_dict()
