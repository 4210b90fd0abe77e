"""Turn the steps taken during an incident into a runbook draft, or extend an existing one.

The output follows the runbook schema: `id`, `title`, `description`,
`match: {types, services, labels}`, `steps: [{id, kind: manual, title, automatic: false}]`.
Steps come from the runbook steps that ran and the mitigations that worked, in timeline order.
Every drafted step is manual: a person reviews it before making any of it automatic. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from warroom.incidents.model import Event, IncidentState

_WORKED = frozenset({"success", "succeeded", "worked", "resolved", "mitigated", "ok", "effective"})


def slug(text: str, limit: int = 60) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:limit].strip("-") or "step"


def steps_taken(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Manual steps from what ran and what worked, de-duplicated, in order."""
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(title: str) -> None:
        key = slug(title)
        if not title.strip() or key in seen:
            return
        seen.add(key)
        steps.append({"id": key, "kind": "manual", "title": title.strip(), "automatic": False})

    for event in events:
        data = event.data
        if event.type == "runbook_step_ran" and str(data.get("status", "")).lower() not in (
            "skipped",
        ):
            add(str(data.get("title") or data.get("step") or ""))
        elif event.type == "mitigation_applied" and (
            str(data.get("outcome", "")).lower() in _WORKED
        ):
            add(f"Mitigate: {data.get('action', '')}")
    return steps


def draft(
    state: IncidentState, events: Sequence[Event], *, extend: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new runbook from this incident, or `extend` with the steps it lacks."""
    taken = steps_taken(events)
    if extend is not None:
        runbook = {k: v for k, v in extend.items()}
        existing = list(runbook.get("steps") or [])
        known = {slug(str(s.get("id") or "")) for s in existing} | {
            slug(str(s.get("title") or "")) for s in existing
        }
        added = [s for s in taken if s["id"] not in known]
        runbook["steps"] = existing + added
        match = dict(runbook.get("match") or {})
        types = list(match.get("types") or [])
        if state.type not in types:
            types.append(state.type)
        services = list(match.get("services") or [])
        services += [s for s in state.services if s not in services]
        match.update(types=types, services=services, labels=dict(match.get("labels") or {}))
        runbook["match"] = match
        note = f"Extended from {state.public_id} with {len(added)} step(s)."
        description = str(runbook.get("description") or "").strip()
        runbook["description"] = (description + "\n" + note).strip()
        return runbook
    service = state.services[0] if state.services else "general"
    return {
        "id": slug(f"{service}-{state.title}", 80),
        "title": f"{service}: {state.title}",
        "description": (
            f"Drafted from {state.public_id} ({state.type.replace('_', ' ')}, {state.severity}). "
            "Review every step before relying on it."
        ),
        "match": {"types": [state.type], "services": list(state.services), "labels": {}},
        "steps": taken,
    }


def to_yaml(runbook: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(runbook), sort_keys=False, allow_unicode=True)
