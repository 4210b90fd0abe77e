"""The war room's capability panels: status updates, changes, mitigations, runbooks, alerts,
similar incidents and the post-mortem, read from the services on the runtime.

A capability that refuses a read leaves its panel out (with the reason) instead of breaking
the page.
"""

from __future__ import annotations

from typing import Any

from warroom.core.errors import NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.incidents.lifecycle import allowed_moves
from warroom.incidents.model import IncidentState

UPDATE_STATUSES = ("investigating", "identified", "mitigating", "monitoring", "resolved")


def _step_view(step: Any) -> dict[str, Any]:
    kind = str(getattr(step, "kind", "manual"))
    dangerous = bool(getattr(step, "dangerous", False))
    try:
        from warroom.workbench.runbooks import needs_approval

        dangerous = dangerous or bool(needs_approval(step))
    except (ImportError, AttributeError):  # pragma: no cover - older workbench
        pass
    return {
        "id": step.id,
        "title": step.title,
        "kind": kind,
        "automatic": bool(getattr(step, "automatic", False)),
        "needs_approval": kind == "approval" or dangerous,
    }


def incident_panels(runtime: Runtime, state: IncidentState) -> dict[str, Any]:
    """Everything the capability panels show for one incident (reads only)."""
    public_id = state.public_id
    out: dict[str, Any] = {"panel_errors": {}}
    errors: dict[str, str] = out["panel_errors"]

    out["update_statuses"] = UPDATE_STATUSES
    try:
        out["status_updates"] = list(reversed(runtime.comms.service.updates(public_id)))[:5]
    except WarroomError as exc:
        errors["comms"] = exc.message

    workbench = runtime.workbench
    # Suspected changes and similar incidents load lazily (`lazy_panel`): not on every
    # live update.
    try:
        out["mitigations"] = workbench.suggestions(public_id)
    except WarroomError as exc:
        errors["mitigations"] = exc.message
    out["runbooks"] = [
        {
            "id": loaded.runbook.id,
            "title": loaded.runbook.title,
            "steps": [_step_view(s) for s in loaded.runbook.steps],
        }
        for loaded in workbench.matching(state)
    ]
    out["step_runs"] = _step_runs(runtime, public_id)
    try:
        out["verification"] = verification_view(workbench, state)
    except WarroomError as exc:
        errors["verification"] = exc.message

    try:
        out["alerts"], _ = runtime.alerts.list_alerts(incident=public_id, limit=20)
    except WarroomError as exc:
        errors["alerts"] = exc.message

    try:
        out["postmortem"] = runtime.postmortems.get(public_id, document=False)
    except WarroomError as exc:
        out["postmortem"] = None
        out["postmortem_missing"] = exc.message
    return out


LAZY_PANELS = ("changes", "similar")


def lazy_panel(runtime: Runtime, public_id: str, name: str) -> dict[str, Any]:
    """One of the panels the war room loads after the page (htmx `load`), not on live updates.

    Returns `{"items": [...]}` or `{"error": "..."}`; NotFound for an unknown panel.
    """
    if name == "changes":
        try:
            return {"items": runtime.workbench.incident_changes(public_id)["changes"][:10]}
        except WarroomError as exc:
            return {"error": exc.message}
    if name == "similar":
        try:
            return {"items": runtime.similarity.similar(public_id, limit=5)}
        except WarroomError as exc:
            return {"error": exc.message}
    raise NotFound(f"no panel {name}")


def verification_view(workbench: Any, state: IncidentState) -> dict[str, Any]:
    """The incident's verification window: the current one's start, end, checks and outcome.

    A window starts when the incident moves to monitoring or a mitigation succeeds (the
    workbench's reactor); a responder may confirm stability by hand.
    """
    status = workbench.verification_status(state.public_id)
    events: list[dict[str, Any]] = status["events"]
    current: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    manual: dict[str, Any] | None = None
    for event in events:
        data = event["data"]
        if event["type"] == "verification_started":
            current, outcome = event, None
        elif data.get("verification") == "manual":
            manual = event
        elif current is not None and data.get("verification") == current["data"].get(
            "verification"
        ):
            outcome = event
    if status["regressed"]:
        phase = "regressed"
    elif status["passed"]:
        phase = "passed"
    elif outcome is not None:
        phase = outcome["type"].removeprefix("verification_")
    elif current is not None:
        phase = "running"
    else:
        phase = "not started"
    window = status["window_seconds"]
    started = current["data"] if current else {}
    found = outcome["data"] if outcome else {}
    return {
        "phase": phase,
        "window_seconds": window,
        "started_at": current["occurred_at"] if current else None,
        "ends_at": started.get("ends_at"),
        "trigger": started.get("trigger"),
        "checks": list(started.get("checks") or []),
        "results": list(found.get("checks") or found.get("failures") or []),
        "reason": found.get("reason"),
        "manual": manual,
        "passed": status["passed"],
        "regressed": status["regressed"],
        "can_confirm": state.is_open and not status["passed"],
        "can_start": window is not None
        and any(move.value == "monitoring" for move in allowed_moves(state.status)),
    }


_STEP_EVENTS = ("runbook_step_ran", "approval_requested", "approval_granted")


def _step_runs(runtime: Runtime, public_id: str) -> dict[str, dict[str, Any]]:
    """The latest recorded result per `runbook/step` from the timeline."""
    latest: dict[str, dict[str, Any]] = {}
    # Only the step events: a long timeline is mostly notes, and this runs on every live update.
    for event in runtime.incidents.timeline(public_id, order="recorded", types=_STEP_EVENTS):
        data = event.data
        if "runbook" in data and "step" in data and event.type.startswith(("runbook", "approval")):
            latest[f"{data['runbook']}/{data['step']}"] = {
                "type": event.type,
                "status": data.get("status") or event.type.replace("_", " "),
                "by": event.actor,
                "output": str(data.get("output") or "")[:500],
            }
    return latest


def on_call_now(runtime: Runtime) -> list[dict[str, Any]] | None:
    """Who is on call now per schedule."""
    result: list[dict[str, Any]] = runtime.oncall.who_is_on_call()
    return result
