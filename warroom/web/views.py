"""What the pages show, assembled from the incident service and the policy (reads only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warroom.core import vocab
from warroom.core.errors import WarroomError
from warroom.core.runtime import Runtime
from warroom.core.vocab import ROLE_TITLES, TYPE_TITLES, IncidentType, Role, Status
from warroom.incidents import schemas
from warroom.incidents.conditions import SYSTEM_FLAGS, TRIAGE_FLAGS
from warroom.incidents.model import IncidentState
from warroom.incidents.views import incident_view, next_update_due
from warroom.web import panels, timeline

ROLE_CHOICES = [(role.value, ROLE_TITLES[role]) for role in Role]
TYPE_CHOICES = [(t.value, TYPE_TITLES[t]) for t in IncidentType]
# Moves the status form offers; acknowledge, resolve, close and reopen have their own forms.
WORKING_MOVES = ("investigating", "identified", "mitigating", "monitoring")
TRIAGE_QUESTIONS: list[tuple[str, str]] = [(q.key, q.text) for q in vocab.TRIAGE_QUESTIONS]


def open_states(runtime: Runtime) -> list[IncidentState]:
    """Open incidents, most severe first, newest first within a severity."""
    page = runtime.incidents.search(schemas.ListFilter(open=True, limit=500))
    states = [runtime.incidents.get(item["id"]) for item in page.items]
    return sorted(
        states, key=lambda s: (severity_rank(runtime, s.severity), -s.declared_at.timestamp())
    )


def severity_rank(runtime: Runtime, severity: str) -> int:
    try:
        return runtime.policy.rank(severity)
    except WarroomError:
        return 99


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
        "paging_problems": paging_problems(runtime),
    }


def paging_problems(runtime: Runtime, incident: str | None = None) -> list[dict[str, Any]]:
    """Open incidents whose page reached nobody; `policy_exists` says whether the policy they
    name can be linked to (a mapping may name one that does not exist)."""
    problems = runtime.oncall.escalation.paging_problems(incident)
    if not problems:
        return problems
    known = {p["name"] for p in runtime.oncall.list_policies()}
    return [{**p, "policy_exists": p.get("policy") in known} for p in problems]


TIMELINE_PAGE = 200


def incident_page(
    runtime: Runtime, public_id: str, *, after_seq: int = 0, show_all: bool = False
) -> dict[str, Any]:
    """The war room's data; with `after_seq`, only the events recorded after it are read."""
    now = runtime.clock.now()
    state = runtime.incidents.get(public_id)
    view = incident_view(state, runtime.policy, now)
    events = runtime.incidents.timeline(state.public_id, after_seq=after_seq)
    shown = events if show_all or after_seq else events[-TIMELINE_PAGE:]
    entries = timeline.entries(shown)
    level = runtime.policy.severity(state.severity)
    allowed = set(view["allowed_moves"])
    last_update = state.last_update_at
    panel_context = panels.incident_panels(runtime, state)
    context: dict[str, Any] = {
        "state": state,
        "view": view,
        "level": level,
        "version": state.event_count,
        "events": entries,
        "timeline": timeline.grouped(entries),
        "hidden_events": len(events) - len(shown),
        "last_seq": max((e.seq or 0 for e in events), default=after_seq),
        "moves": [m for m in WORKING_MOVES if m in allowed and m != state.status.value],
        "can_ack": state.status.awaiting_ack,
        "can_resolve": "resolved" in allowed,
        "can_close": "closed" in allowed,
        "can_reopen": "reopened" in allowed,
        "last_update_at": last_update,
        "next_update_due": next_update_due(state, runtime.policy),
        "checklist": runtime.policy.resolution_checklist,
        "cause_required": runtime.policy.resolve_requires_root_cause,
        "role_choices": ROLE_CHOICES,
        "roles_key": ";".join(f"{k}={v}" for k, v in sorted(state.roles.items()))
        + "|"
        + ",".join(view["roles_missing"]),
        "role_titles": {role.value: ROLE_TITLES[role] for role in Role},
        "severities": runtime.policy.severities,
        "chat_channels": _chat_channels(runtime, state.public_id),
        **panel_context,
        **flag_context(runtime, state),
    }
    context["must_stops"] = must_stops(state)
    context["paging_problems"] = paging_problems(runtime, state.public_id)
    context["on_incident_page"] = True
    context["next_steps"] = next_steps(context, events, now)
    context["next_key"] = "|".join(
        f"{n['kind']}:{n['tone']}:{n.get('role', '')}" for n in context["next_steps"]
    )
    return context


def flag_context(runtime: Runtime, state: IncidentState) -> dict[str, Any]:
    """The flags panel: the incident's flags with reasons, and the names a person may set
    (triage and policy flags; warroom's own system flags are shown but not offered)."""
    policy = runtime.policy
    known = {flag for flag, _why in TRIAGE_FLAGS.values()}
    known |= {rule.when for rule in policy.escalation.condition_based if rule.threshold is None}
    known |= {flag for rule in policy.stop_rules for flag in rule.flags}
    known |= set(state.flags)
    return {
        "flag_rows": [
            {
                "name": name,
                "value": value,
                "reason": state.flag_reasons.get(name, ""),
                "system": name in SYSTEM_FLAGS,
            }
            for name, value in sorted(state.flags.items())
        ],
        "flag_choices": sorted(known - SYSTEM_FLAGS),
        "flags_key": ";".join(f"{k}={int(v)}" for k, v in sorted(state.flags.items())),
    }


def must_stops(state: IncidentState) -> list[dict[str, Any]]:
    """Raised MUST STOPs, the war room's banner: each waits for a person's decision."""
    return [
        {"rule": rule, "text": str(stop.get("text") or rule),
         "reason": str(stop.get("reason") or ""),
         "at": _moment(stop["raised_at"]) if stop.get("raised_at") else None}
        for rule, stop in sorted(state.stops.items())
    ]  # fmt: skip


def _moment(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment


def next_steps(context: dict[str, Any], events: list[Any], now: datetime) -> list[dict[str, Any]]:
    """What is waiting on the responders, most urgent first, each cleared by one action.

    Kinds: `ack` (nobody acknowledged: the pages go on), `role` (a role the severity needs),
    `update` (the next status update, due or overdue), `verification` (running or regressed),
    `postmortem` (due or overdue). Each has `text`, a `tone` (`bad` or empty) and, for the
    page's ticking clocks, `at` with `mode` ("since", "until" or "progress" with `window`).
    """
    state: IncidentState = context["state"]
    out: list[dict[str, Any]] = []
    if context["can_ack"]:
        paged = sorted(
            {
                str(p)
                for e in events
                if e.type in ("paged", "escalated")
                for p in e.data.get("notified") or []
            }
        )
        reopened = [e.occurred_at for e in events if e.type == "reopened"]
        reopen = bool(reopened) and state.status == Status.REOPENED
        out.append({
            "kind": "ack", "tone": "bad",
            "text": "Nobody has acknowledged — " + ("reopened" if reopen else "declared"),
            "at": reopened[-1] if reopen else state.declared_at, "mode": "since",
            "after": f"; paged {', '.join(paged)}" if paged else "",
        })  # fmt: skip
    if state.is_open:
        titles = context["role_titles"]
        missing = list(context["view"]["roles_missing"])
        if missing:
            names = ", ".join(titles.get(role, role).lower() for role in missing)
            out.append({
                "kind": "role", "tone": "bad", "roles": [(r, titles.get(r, r)) for r in missing],
                "role": ",".join(missing),
                "text": f"No {names} (required for {state.severity})",
            })  # fmt: skip
        due = context["next_update_due"]
        if due is not None:
            out.append({
                "kind": "update", "tone": "bad" if due < now else "",
                "text": "Next status update", "at": due, "mode": "until",
            })  # fmt: skip
    verification = context.get("verification")
    if verification and state.is_open:
        if verification["phase"] == "running" and verification.get("started_at"):
            out.append({
                "kind": "verification", "tone": "",
                "text": "Verification running:", "at": _moment(verification["started_at"]),
                "mode": "progress", "window": int(verification.get("window_seconds") or 0),
            })  # fmt: skip
        elif verification["phase"] == "regressed":
            out.append({"kind": "verification", "tone": "bad",
                        "text": "Verification regressed: the fix did not hold"})  # fmt: skip
    postmortem = context.get("postmortem")
    if postmortem and postmortem.get("status") != "published" and postmortem.get("due_at"):
        due_at = _moment(postmortem["due_at"])
        owner = (
            f" (owner {postmortem.get('owner_name') or postmortem['owner']})"
            if postmortem.get("owner")
            else ""
        )
        out.append({
            "kind": "postmortem", "tone": "bad" if due_at < now else "",
            "text": f"Post-mortem{owner} due", "at": due_at, "mode": "until",
        })  # fmt: skip
    if context["can_close"]:
        out.append({"kind": "close", "tone": "",
                    "text": "Resolved, and nothing holds it open: close the incident"})  # fmt: skip
    return out


def _chat_channels(runtime: Runtime, public_id: str) -> list[dict[str, Any]]:
    """The incident's chat channels (warroom.chat), for the header."""
    return runtime.chat.channels_of(public_id)
