"""What the pages show, assembled from the incident service and the policy (reads only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from warroom.core import tables, vocab
from warroom.core.runtime import Runtime
from warroom.core.vocab import ROLE_TITLES, TYPE_TITLES, IncidentType, Role, Status
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.views import incident_view, next_update_due
from warroom.web import panels

ROLE_CHOICES = [(role.value, ROLE_TITLES[role]) for role in Role]
TYPE_CHOICES = [(t.value, TYPE_TITLES[t]) for t in IncidentType]
# Moves the status form offers; acknowledge, resolve, close and reopen have their own forms.
WORKING_MOVES = ("investigating", "identified", "mitigating", "monitoring")
TRIAGE_QUESTIONS: list[tuple[str, str]] = [(q.key, q.text) for q in vocab.TRIAGE_QUESTIONS]


def open_states(runtime: Runtime) -> list[IncidentState]:
    """Open incidents, most severe first, newest first within a severity."""
    i = tables.incidents
    with runtime.db.read() as conn:
        rows = conn.execute(
            select(i.c.state)
            .where(i.c.is_open.is_(True))
            .order_by(i.c.severity_rank, i.c.id.desc())
        ).all()
    return [IncidentState.from_dict(row.state) for row in rows]


def card(state: IncidentState, runtime: Runtime, now: datetime) -> dict[str, Any]:
    due = next_update_due(state, runtime.policy)
    return {
        "id": state.public_id,
        "title": state.title,
        "severity": state.severity,
        "status": state.status.value,
        "services": list(state.services),
        "commander": state.roles.get("commander"),
        "declared_at": state.declared_at,
        "started_at": state.started_at,
        "acknowledged": state.acknowledged_at is not None,
        "update_due_at": due,
        "update_overdue": due is not None and due < now,
    }


def dashboard(runtime: Runtime) -> dict[str, Any]:
    now = runtime.clock.now()
    cards = [card(state, runtime, now) for state in open_states(runtime)]
    by_severity = [
        {
            "id": level.id,
            "name": level.name,
            "items": [c for c in cards if c["severity"] == level.id],
        }
        for level in runtime.policy.severities
    ]
    return {
        "open_count": len(cards),
        "by_severity": by_severity,
        "unacknowledged": [c for c in cards if Status(c["status"]).awaiting_ack],
        "overdue": [c for c in cards if c["update_overdue"]],
        "now_on_call": panels.on_call_now(runtime),
    }


def describe(event: Event) -> str:
    """One line for a timeline entry (notes render their Markdown body apart)."""
    d = event.data
    match event.type:
        case "declared":
            return f"declared {d.get('severity')}: {d.get('title')}"
        case "triaged":
            text = f"triage proposed {d.get('proposed_severity')} / {d.get('proposed_type')}"
            if d.get("overridden"):
                text += f"; set {d.get('severity')} / {d.get('type')} ({d.get('override_reason')})"
            return text
        case "acknowledged":
            return "acknowledged"
        case "status_changed":
            reason = f" ({d['reason']})" if d.get("reason") else ""
            return f"status {d.get('from')} → {d.get('to')}{reason}"
        case "severity_changed":
            reason = f" ({d['reason']})" if d.get("reason") else ""
            return f"severity {d.get('from')} → {d.get('to')}{reason}"
        case "type_changed":
            return f"type {d.get('from')} → {d.get('to')}"
        case "role_assigned":
            role = d.get("role")
            if d.get("person"):
                return f"{d.get('person')} is {role}"
            return f"{role} unassigned"
        case "note_added":
            return "note" + (" (backdated)" if d.get("backdated") else "")
        case "resolved":
            return "resolved"
        case "closed":
            return "closed"
        case "reopened":
            return f"reopened: {d.get('reason')}"
        case "details_updated":
            return "details updated: " + ", ".join(sorted(d))
        case "postmortem_scheduled":
            moved = f" (moved: {d.get('reason')})" if d.get("reason") else ""
            return f"post-mortem scheduled, owner {d.get('owner')}, due {d.get('due_at')}{moved}"
        case "initial_update_drafted":
            return f"initial update drafted. {d.get('prompt', '')}"
        case "root_cause_made_public":
            return "root cause included in the public resolution (policy option)"
        case "notification_sent":
            return f"notified {d.get('recipient')} via {d.get('channel')}"
        case "notification_failed":
            return f"notifying {d.get('recipient')} failed"
        case _:
            return event.type.replace("_", " ")


def event_item(event: Event) -> dict[str, Any]:
    data = dict(event.data)
    body = None
    if event.type == "note_added":
        body = str(data.get("text", ""))
    elif event.type in ("resolved", "declared") and data.get("summary"):
        body = str(data["summary"])
    return {
        "seq": event.seq,
        "type": event.type,
        "actor": event.actor,
        "at": event.occurred_at,
        "text": describe(event),
        "body": body,
        "checklist": data.get("checklist") if event.type == "resolved" else None,
    }


TIMELINE_PAGE = 200


def timeline_tail(
    runtime: Runtime, public_id: str, *, after_seq: int = 0, limit: int | None = TIMELINE_PAGE
) -> list[Event]:
    """The newest events (after `after_seq`), oldest first; reads only what is shown."""
    i, e = tables.incidents, tables.events
    query = (
        select(e.c.seq, e.c.type, e.c.actor, e.c.occurred_at, e.c.recorded_at, e.c.data)
        .join(i, i.c.id == e.c.incident_id)
        .where(i.c.public_id == public_id.strip().upper(), e.c.seq > after_seq)
        .order_by(e.c.seq.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    with runtime.db.read() as conn:
        rows = conn.execute(query).all()
    return [
        Event(r.type, r.actor, r.occurred_at, r.data, recorded_at=r.recorded_at, seq=r.seq)
        for r in reversed(rows)
    ]


def incident_page(
    runtime: Runtime, public_id: str, *, after_seq: int = 0, show_all: bool = False
) -> dict[str, Any]:
    """The war room's data; with `after_seq`, only the events after it are read."""
    now = runtime.clock.now()
    state = runtime.incidents.get(public_id)
    view = incident_view(state, runtime.policy, now)
    limit = None if show_all or after_seq else TIMELINE_PAGE
    events = timeline_tail(runtime, public_id, after_seq=after_seq, limit=limit)
    level = runtime.policy.severity(state.severity)
    allowed = set(view["allowed_moves"])
    last_update = state.last_update_at
    return {
        "state": state,
        "view": view,
        "level": level,
        "version": state.event_count,
        "events": [event_item(e) for e in events],
        "hidden_events": 0 if after_seq else max(0, state.event_count - len(events)),
        "last_seq": events[-1].seq if events else after_seq,
        "moves": [m for m in WORKING_MOVES if m in allowed and m != state.status.value],
        "can_ack": state.status.awaiting_ack,
        "can_resolve": "resolved" in allowed,
        "can_close": "closed" in allowed,
        "can_reopen": "reopened" in allowed,
        "last_update_at": last_update,
        "next_update_due": next_update_due(state, runtime.policy),
        "checklist": runtime.policy.resolution_checklist,
        "role_choices": ROLE_CHOICES,
        "roles_key": ";".join(f"{k}={v}" for k, v in sorted(state.roles.items()))
        + "|"
        + ",".join(view["roles_missing"]),
        "role_titles": {role.value: ROLE_TITLES[role] for role in Role},
        "severities": runtime.policy.severities,
        "chat_channels": _chat_channels(runtime, state.public_id),
        **panels.incident_panels(runtime, state),
    }


def _chat_channels(runtime: Runtime, public_id: str) -> list[dict[str, Any]]:
    """The incident's chat channels (warroom.chat), for the header."""
    return runtime.chat.channels_of(public_id)
