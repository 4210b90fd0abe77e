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
    if level.update_interval is not None and state.is_open:
        last = state.last_update_at or state.declared_at
        data["next_update_due_at"] = (last + level.update_interval).isoformat()
    else:
        data["next_update_due_at"] = None
    return data


def event_view(event: Event) -> dict[str, Any]:
    return event.to_dict()
