"""The post-mortems package's reactor, outbox handlers and after-commit hooks.

Reactor (pure, runs inside each incident transaction) plans:
- `postmortem_create` when an incident is resolved (the post-mortem is also created right after
  the resolve commits; the effect is the crash-safe backstop, both are idempotent);
- `postmortem_reminder` before and `postmortem_overdue` at the due date of each schedule;
- `follow_up_item` for each `follow_up_required` event (exactly one action item per event);
- `similar_lookup` for incidents an integration declared (alert intake).
Right after a person declares an incident, similar past incidents (if any) are looked up and put
on its timeline as `similar_incidents_suggested` (in the request, after commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from warroom.core import outbox
from warroom.core.auth import SYSTEM
from warroom.core.errors import NotFound, WarroomError
from warroom.core.outbox import EffectHandler, Outcome
from warroom.core.runtime import Runtime
from warroom.core.vocab import Status
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.service import Reactor
from warroom.policy.schema import duration_text
from warroom.postmortems.config import PostmortemsConfig
from warroom.postmortems.plugin import _config
from warroom.postmortems.service import (
    SYNC_KIND,
    ActionItemService,
    PostmortemService,
    _incident_row,
    _parse,
    follow_up_key,
)

log = logging.getLogger("warroom.postmortems")

CREATE, REMIND, OVERDUE, FOLLOW_UP, SIMILAR = (
    "postmortem_create",
    "postmortem_reminder",
    "postmortem_overdue",
    "follow_up_item",
    "similar_lookup",
)


def plan_effects(
    config: PostmortemsConfig,
    *,
    incident_id: int,
    after: IncidentState,
    events: Sequence[Event],
    now: datetime,
) -> list[outbox.Effect]:
    """What to schedule for newly appended events (pure)."""
    effects: list[outbox.Effect] = []
    public_id = after.public_id
    for event in events:
        if event.type == "resolved":
            effects.append(
                outbox.Effect(
                    CREATE,
                    {"incident": public_id},
                    now,
                    incident_id=incident_id,
                    dedup_key=f"pm-create:{incident_id}:{after.reopen_count}",
                )
            )
        elif event.type == "postmortem_scheduled":
            due = _parse(event.data.get("due_at"))
            if due is None:
                continue
            base = {"incident": public_id, "due_at": due.isoformat()}
            for before in config.reminders_before:
                at = due - before
                if at <= now:
                    continue
                effects.append(
                    outbox.Effect(
                        REMIND,
                        {**base, "before": duration_text(before)},
                        at,
                        incident_id=incident_id,
                        dedup_key=f"pm-remind:{incident_id}:{due.isoformat()}:{int(before.total_seconds())}",
                    )
                )
            effects.append(
                outbox.Effect(
                    OVERDUE,
                    base,
                    max(due, now),
                    incident_id=incident_id,
                    dedup_key=f"pm-overdue:{incident_id}:{due.isoformat()}",
                )
            )
        elif event.type == "declared" and event.data.get("source", "manual") != "manual":
            # Declared by an integration (no request to answer): look up similar incidents in
            # the worker. Declarations by people get them right after commit, in the request.
            effects.append(
                outbox.Effect(
                    SIMILAR,
                    {"incident": public_id},
                    now,
                    incident_id=incident_id,
                    dedup_key=f"similar:{incident_id}",
                )
            )
        elif event.type == "follow_up_required":
            effects.append(
                outbox.Effect(
                    FOLLOW_UP,
                    {
                        "incident": public_id,
                        "key": follow_up_key(incident_id, event),
                        "data": dict(event.data),
                    },
                    now,
                    incident_id=incident_id,
                    dedup_key=follow_up_key(incident_id, event),
                )
            )
    return effects


# ---- outbox handlers -------------------------------------------------------------------


def handle_create(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    service: PostmortemService = runtime.postmortems
    try:
        created = service.ensure(SYSTEM, str(effect.payload["incident"]))
    except NotFound:
        return Outcome(True, "incident gone")
    return Outcome(True, "created" if created else "not required")


def _still_pending(runtime: Runtime, payload: dict[str, Any]) -> IncidentState | None:
    """The incident if its post-mortem is still unpublished and due at the planned time."""
    try:
        state = runtime.incidents.get(str(payload["incident"]))
    except NotFound:
        return None
    pm = state.postmortem or {}
    if pm.get("status") == "published":
        return None
    if _parse(pm.get("due_at")) != _parse(payload.get("due_at")):
        return None  # rescheduled since; the new schedule has its own timers
    return state


def _notify(
    runtime: Runtime,
    urls: Sequence[str],
    *,
    state: IncidentState,
    title: str,
    body: str,
    recipient: str,
    reason: str,
    key: str,
) -> list[outbox.Effect]:
    if not urls:
        return []
    from warroom.notify.effects import notify_effect

    return [
        notify_effect(
            urls=list(urls),
            title=title,
            body=body,
            recipient=recipient,
            reason=reason,
            due_at=runtime.clock.now(),
            incident=state.public_id,
            dedup_key=key,
        )
    ]


def _record(runtime: Runtime, public_id: str, event: Event, effects: list[outbox.Effect]) -> None:
    with runtime.db.write() as conn:
        incident = _incident_row(conn, public_id)
        runtime.incidents.mutate_in(conn, public_id, lambda _s, _n: [event])
        if effects:
            outbox.enqueue(
                conn,
                [
                    outbox.Effect(e.kind, e.payload, e.due_at, int(incident.id), e.dedup_key)
                    for e in effects
                ],
                runtime.clock.now(),
            )


def handle_reminder(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    state = _still_pending(runtime, effect.payload)
    if state is None:
        return Outcome(True, "no longer needed")
    config = _config(runtime)
    pm = state.postmortem or {}
    owner = str(pm.get("owner") or "")
    now = runtime.clock.now()
    data = {"owner": owner, "due_at": effect.payload["due_at"], "before": effect.payload["before"]}
    effects = _notify(
        runtime,
        config.reminder_urls,
        state=state,
        title=f"Post-mortem for {state.public_id} is due in {effect.payload['before']}",
        body=f"{state.title}: the post-mortem (owner {owner}) is due {effect.payload['due_at']}.",
        recipient=owner,
        reason="postmortem_reminder",
        key=f"notify:{effect.dedup_key}",
    )
    _record(
        runtime,
        state.public_id,
        Event("postmortem_reminder_sent", SYSTEM.actor, now, data),
        effects,
    )
    return Outcome(True, "reminded")


def handle_overdue(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    state = _still_pending(runtime, effect.payload)
    if state is None:
        return Outcome(True, "no longer needed")
    config = _config(runtime)
    pm = state.postmortem or {}
    owner = str(pm.get("owner") or "")
    now = runtime.clock.now()
    data = {
        "owner": owner,
        "due_at": effect.payload["due_at"],
        "escalate_to": list(config.escalate_to),
    }
    effects = _notify(
        runtime,
        config.escalation_urls,
        state=state,
        title=f"Post-mortem for {state.public_id} is overdue",
        body=(
            f"{state.title}: the post-mortem owned by {owner} was due {effect.payload['due_at']} "
            "and is not published."
        ),
        recipient=", ".join(config.escalate_to),
        reason="postmortem_overdue",
        key=f"notify:{effect.dedup_key}",
    )
    _record(runtime, state.public_id, Event("postmortem_overdue", SYSTEM.actor, now, data), effects)
    return Outcome(True, "escalated")


def handle_follow_up(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    items: ActionItemService = runtime.action_items
    payload = effect.payload
    data = dict(payload.get("data") or {})
    kind = str(data.get("type") or "prevent")
    if kind not in ("prevent", "mitigate", "detect", "process"):
        kind = "process"
    title = str(data.get("title") or "Follow-up").strip()[:500] or "Follow-up"
    extra = {k: v for k, v in data.items() if k not in ("title", "type")}
    description = "\n".join(f"{k}: {v}" for k, v in sorted(extra.items()))
    try:
        with runtime.db.write() as conn:
            incident = _incident_row(conn, str(payload["incident"]))
            item_id = items.insert(
                conn,
                int(incident.id),
                {
                    "title": title,
                    "type": kind,
                    "description": description,
                    "priority": 1 if data.get("gate") else 2,
                },
                source=str(data.get("source") or "follow_up_required"),
                source_key=str(payload["key"]),
            )
            if item_id < 0:  # made by an earlier run of this effect
                return Outcome(True, f"action item {-item_id} exists")
            runtime.incidents.mutate_in(
                conn,
                str(payload["incident"]),
                lambda _s, now: [
                    Event(
                        "action_item_created",
                        SYSTEM.actor,
                        now,
                        {"id": item_id, "title": title, "type": kind, "source": "follow_up"},
                    )
                ],
            )
    except NotFound:
        return Outcome(True, "incident gone")
    return Outcome(True, f"action item {item_id}")


def suggest_similar(runtime: Runtime, public_id: str) -> int:
    """Put the best similar past incidents on a new incident's timeline; returns how many."""
    from warroom.postmortems.similarity import SimilarityService

    service: SimilarityService = runtime.similarity
    try:
        matches = service.suggestions(public_id, limit=3)
    except NotFound:
        return 0
    if not matches:
        return 0
    data = {"matches": matches}
    with suppress(NotFound):
        runtime.incidents.append_events(
            SYSTEM,
            public_id,
            [Event("similar_incidents_suggested", SYSTEM.actor, runtime.clock.now(), data)],
        )
    return len(matches)


def handle_similar(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    found = suggest_similar(runtime, str(effect.payload["incident"]))
    return Outcome(True, f"{found} similar")


def similar_in(runtime: Runtime, conn: Connection, effect: outbox.ClaimedEffect) -> Outcome:
    """`handle_similar` inside the worker's shared transaction (its event and its completion
    commit together, with the other effects of the round)."""
    from warroom.postmortems.similarity import SimilarityService

    service: SimilarityService = runtime.similarity
    if not service.ready():  # never build a large index inside the shared write transaction
        return Outcome(False, "the similar-incident index is still being built", retryable=True)
    public_id = str(effect.payload["incident"])
    try:
        matches = service.suggestions(public_id, limit=3)
    except NotFound:
        return Outcome(True, "0 similar")
    if not matches:
        return Outcome(True, "0 similar")
    data = {"matches": matches}
    event = Event("similar_incidents_suggested", SYSTEM.actor, runtime.clock.now(), data)
    try:
        runtime.incidents.mutate_in(conn, public_id, lambda _state, _now: [event])
    except NotFound:
        return Outcome(True, "incident gone")
    return Outcome(True, f"{len(matches)} similar")


def handle_sync(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    from warroom.postmortems.trackers import sync_item

    result = sync_item(runtime, int(effect.payload["item_id"]), str(effect.payload["tracker"]))
    return Outcome(result.ok, result.message, retryable=result.retryable)


HANDLERS = [
    EffectHandler(CREATE, handle_create),
    EffectHandler(REMIND, handle_reminder),
    EffectHandler(OVERDUE, handle_overdue),
    EffectHandler(FOLLOW_UP, handle_follow_up),
    EffectHandler(SIMILAR, handle_similar, in_transaction=similar_in),
    EffectHandler(SYNC_KIND, handle_sync),
]


# ---- reactor and hooks -----------------------------------------------------------------


def reactor(runtime: Runtime) -> Reactor:
    """Plans the effects above for newly appended events (`plan_effects`)."""
    config = _config(runtime)

    def react(
        *,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> list[outbox.Effect]:
        return plan_effects(config, incident_id=incident_id, after=after, events=events, now=now)

    return react


def after_commit_hooks(runtime: Runtime) -> list[Callable[[IncidentState], None]]:
    """Right after an incident commits: create the post-mortem of a resolved incident, and
    suggest similar past incidents for one a person just declared."""

    def create_after_resolve(state: IncidentState) -> None:
        if state.status is not Status.RESOLVED or state.last_event_at != state.resolved_at:
            return
        if runtime.policy.severity(state.severity).postmortem.requirement == "optional":
            return
        try:
            runtime.postmortems.ensure(SYSTEM, state.public_id)
        except WarroomError:  # the outbox effect retries
            log.exception("creating the post-mortem for %s failed", state.public_id)

    def similar_after_declare(state: IncidentState) -> None:
        # Just declared: the `declared` event, plus `triaged` when triage answers came with it.
        just_declared = state.event_count == 1 or (
            state.event_count == 2 and state.triage is not None
        )
        if not just_declared or state.status is not Status.TRIGGERED:
            return
        if not runtime.similarity.ready():
            return  # a large index is still being built in the background
        try:
            suggest_similar(runtime, state.public_id)
        except WarroomError:
            log.exception("similar-incident lookup for %s failed", state.public_id)

    return [create_after_resolve, similar_after_declare]


def refresh_patterns_after_publish(runtime: Runtime) -> Callable[[str], None]:
    """After a post-mortem is published: rewrite critical-patterns.md."""
    from warroom.postmortems.patterns import write_critical_patterns

    def refresh_patterns(_public_id: str) -> None:
        try:
            write_critical_patterns(runtime)
        except (OSError, WarroomError):
            log.exception("writing critical-patterns.md failed")

    return refresh_patterns
