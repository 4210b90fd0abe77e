"""Paging and escalation as durable outbox timers, re-checked when they fire.

The reactor (pure) plans timers when incident events happen:
- declared / reopened: page per the severity's `paging` (all_hands, page, notify, none) through
  the service's escalation policy (`oncall.escalate`, one row per level and loop);
- declared / reopened / severity changed: the policy's time-based rules (`oncall.rule`);
- flag_set / impact change: condition rules, and their clock's reminders and deadline;
- any change: the update-cadence reminder and its missed-update escalation.
Handlers re-check at fire time (still unacknowledged? still no update? flag still set?), then in
one transaction mark the step fired (so a re-run after a crash does nothing twice), enqueue the
notifications (`oncall.notify`: contact methods with delays and fallback) and the next step,
and record `paged` / `escalated` / `reminder` on the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from warroom.core import outbox
from warroom.core.auth import SYSTEM
from warroom.core.db import DriverRows, driver_time, transaction_memo
from warroom.core.errors import NotFound
from warroom.core.runtime import Runtime
from warroom.core.upsert import Upsert
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.service import Reactor
from warroom.incidents.views import next_update_due
from warroom.notify.effects import deliver_notify
from warroom.oncall import links, tables
from warroom.oncall.service import OncallService
from warroom.policy import Policy
from warroom.policy.schema import normalise_severity
from warroom.worker import Outcome

T = TypeVar("T")

log = logging.getLogger("warroom.oncall")

ESCALATE = "oncall.escalate"
RULE = "oncall.rule"
NOTIFY = "oncall.notify"
BACKLOG = "oncall.backlog"
# The first page step of an incident with no escalation policy known when it was declared:
# it looks again when it fires (one may have been mapped since) and otherwise reports that
# nobody was paged. Not urgent: the pages of incidents that can page go first.
UNMAPPED = "oncall.unmapped"
KINDS = (ESCALATE, RULE, NOTIFY, BACKLOG, UNMAPPED)
PAGING_RANK = {"none": 0, "notify": 1, "page": 2, "all_hands": 3}
# A target reaching whoever the incident's escalation policy pages first (when an incident
# has no commander yet, they hear what the commander would).
FIRST_LEVEL = "oncall:first-level"


def _sev_in(severity: str, severities: Sequence[str]) -> bool:
    return normalise_severity(severity) in {normalise_severity(s) for s in severities}


def _matches(policy: Policy, severity: str, severities: Sequence[str]) -> bool:
    level = policy.severity(severity)
    return any(_sev_in(key, severities) for key in (level.id, *level.aliases))


# ---- the reactor (pure) --------------------------------------------------------------------


def plan(
    policy: Policy,
    *,
    escalation_policy: str | None,
    incident_id: int,
    before: IncidentState | None,
    after: IncidentState,
    events: Sequence[Event],
    now: datetime,
) -> list[outbox.Effect]:
    effects: list[outbox.Effect] = []
    public = after.public_id
    gen = after.reopen_count
    base = {"incident": public, "incident_id": incident_id, "generation": gen}
    types = {e.type for e in events}
    started = before is None or "reopened" in types
    anchor = after.declared_at if gen == 0 else now

    def rule(key: str, due: datetime, /, **payload: Any) -> None:
        effects.append(
            outbox.Effect(RULE, {**base, **payload}, due, incident_id=incident_id, dedup_key=key)
        )

    paging = policy.severity(after.severity).paging
    # A severity raised to a paging level while still unacknowledged pages too.
    raised = (
        before is not None
        and "severity_changed" in types
        and after.status.awaiting_ack
        and PAGING_RANK[paging] > PAGING_RANK[policy.severity(before.severity).paging]
    )
    # The escalation policy is looked up again when the step fires: one mapped meanwhile
    # (API, CLI, web) applies, and a missing one is reported rather than silently skipped.
    if (started or raised) and after.is_open and paging != "none":
        run = policy.severity(after.severity).id
        effects.append(
            outbox.Effect(
                ESCALATE if escalation_policy else UNMAPPED,
                {**base, "level": 0, "loop": 0, "paging": paging, "run": run},
                now,
                incident_id=incident_id,
                dedup_key=f"esc:{incident_id}:{gen}:{run}:0:0",
            )
        )
    if (started or "severity_changed" in types) and after.is_open:
        for time_rule in policy.escalation.time_based:
            if _matches(policy, after.severity, time_rule.severities):
                rule(
                    f"time:{incident_id}:{gen}:{time_rule.id}",
                    anchor + time_rule.after,
                    rule="time",
                    rule_id=time_rule.id,
                )
    for event in events:
        if event.type != "flag_set" or not event.data.get("value", True):
            continue
        flag = str(event.data.get("flag"))
        stamp = event.occurred_at.isoformat()
        for cond in policy.escalation.condition_based:
            if cond.when != flag:
                continue
            rule(f"cond:{incident_id}:{cond.id}:{stamp}", now, rule="condition", rule_id=cond.id)
            if cond.clock is not None:
                for n, offset in enumerate(cond.clock.reminders):
                    rule(
                        f"clock:{incident_id}:{cond.id}:{stamp}:{n}",
                        event.occurred_at + offset,
                        rule="clock",
                        rule_id=cond.id,
                        step=n,
                        set_at=stamp,
                    )
                rule(
                    f"clock:{incident_id}:{cond.id}:{stamp}:deadline",
                    event.occurred_at + cond.clock.deadline,
                    rule="clock",
                    rule_id=cond.id,
                    step="deadline",
                    set_at=stamp,
                )
    level = policy.severity(after.severity)
    delay = policy.escalation.missing_roles_after
    required = (started or "severity_changed" in types) and bool(level.roles_required)
    if required and after.is_open and delay is not None:
        rule(
            f"roles:{incident_id}:{gen}:{level.id}",
            (anchor if started else now) + delay,
            rule="missing_roles",
            severity=level.id,
        )
    if before is not None:
        for event in events:
            person = event.data.get("person")
            if event.type == "role_assigned" and person:
                rule(
                    f"role:{incident_id}:{event.data.get('role')}:{event.occurred_at.isoformat()}",
                    now,
                    rule="role_assigned",
                    role=str(event.data.get("role")),
                    person=str(person),
                    actor=event.actor,
                )
    if before is None and level.add_to_backlog:
        effects.append(
            outbox.Effect(
                BACKLOG,
                {**base, "severity": level.id},
                now,
                incident_id=incident_id,
                dedup_key=f"backlog:{incident_id}",
            )
        )
    revenue = after.impact.revenue_per_hour
    previous = before.impact.revenue_per_hour if before is not None else None
    for cond in policy.escalation.condition_based:
        if cond.when != "revenue_per_hour" or cond.threshold is None or revenue is None:
            continue
        if revenue >= cond.threshold and (previous is None or previous < cond.threshold):
            rule(
                f"cond:{incident_id}:{cond.id}:{now.isoformat()}",
                now,
                rule="condition",
                rule_id=cond.id,
            )
    # The cadence timers depend only on these fields: other events would plan the same ones.
    if after.is_open and (before is None or _cadence_inputs(before) != _cadence_inputs(after)):
        due = next_update_due(after, policy)
        interval = policy.severity(after.severity).update_interval
        if due is not None:
            rule(
                f"cadence:{incident_id}:{due.isoformat()}", due, rule="cadence", due=due.isoformat()
            )
        if interval is not None:
            last = after.last_update_at or after.declared_at
            late = last + interval * policy.escalation.missed_update_factor
            rule(
                f"cadence-missed:{incident_id}:{last.isoformat()}:{after.severity}",
                late,
                rule="cadence_missed",
                last=last.isoformat(),
            )
    return effects


def _cadence_inputs(state: IncidentState) -> tuple[Any, ...]:
    """What the update-cadence timers of an incident are computed from."""
    return (
        state.is_open,
        state.severity,
        state.declared_at,
        state.last_update_at,
        state.next_update_at,
    )


# ---- notifications to one person -----------------------------------------------------------


def person_effects(
    service: OncallService,
    conn: Connection,
    *,
    person: str,
    severity: str | None,
    title: str,
    body: str,
    reason: str,
    incident: str | None,
    incident_id: int | None,
    base: datetime,
    subject: str | None,
    key: str,
    now: datetime,
) -> list[outbox.Effect]:
    """One `oncall.notify` per contact-method delay group; each falls back to later methods.

    Methods with a delay are only used if the page is still unacknowledged by then (`subject`).
    """
    methods = _once(conn, ("methods", person, severity), service.person_methods, person, severity)
    if not methods:
        return [
            outbox.Effect(
                NOTIFY,
                {
                    "urls": [],
                    "title": title,
                    "body": body,
                    "format": "text",
                    "recipient": person,
                    "reason": f"{reason} (no contact methods)",
                    "incident": incident,
                    "guard": None,
                },
                base,
                incident_id=incident_id,
                dedup_key=f"{key}:none",
            )
        ]
    text = body
    if subject is not None:
        key_ = _once(conn, ("link-secret",), links.secret)
        text = f"{body}\n\nAcknowledge: {service.ack_url(conn, subject, person, now, key_)}"
    effects = []
    for n, method in enumerate(methods):
        urls = [m["url"] for m in methods[n:]]  # this method first, the later ones as fallback
        delay = int(method.get("delay", 0))
        effects.append(
            outbox.Effect(
                NOTIFY,
                {
                    "urls": urls,
                    "title": title,
                    "body": text,
                    "format": "text",
                    "recipient": person,
                    "reason": reason,
                    "incident": incident,
                    "guard": subject if delay > 0 else None,
                    "method": method["name"],
                },
                base + timedelta(minutes=delay),
                incident_id=incident_id,
                dedup_key=f"{key}:{method['name']}",
            )
        )
        if n == 0 and all(int(m.get("delay", 0)) == 0 for m in methods):
            break  # all at once: the first carries the others as fallback
    return effects


def still_unacknowledged(runtime: Runtime, subject: str) -> bool:
    kind, _, rest = subject.partition(":")
    if kind == "page":
        with runtime.db.read() as conn:
            row = conn.execute(
                select(tables.pages.c.acknowledged_at).where(tables.pages.c.id == int(rest))
            ).first()
        return row is not None and row.acknowledged_at is None
    public, _, gen = rest.rpartition(":")
    try:
        state = runtime.incidents.get(public)
    except NotFound:
        return False
    return state.status.awaiting_ack and str(state.reopen_count) == gen


def deliver_oncall_notify(runtime: Runtime, effect: outbox.ClaimedEffect) -> outbox.Delivered:
    """A page's notification, unless its page was acknowledged meanwhile (see `deliver_notify`)."""
    guard = effect.payload.get("guard")
    if guard and not still_unacknowledged(runtime, str(guard)):
        return outbox.Delivered(Outcome(True, "skipped: acknowledged"))
    return deliver_notify(runtime, effect)


# ---- firing steps -------------------------------------------------------------------------


_FIRE = DriverRows(
    Upsert(
        lambda insert: (
            insert(tables.fired)
            .values(key=bindparam("key"), fired_at=bindparam("fired_at"))
            .on_conflict_do_nothing(index_elements=["key"])
        )
    )
)


def _mark_fired(conn: Connection, effect: outbox.ClaimedEffect, now: datetime) -> bool:
    """Record the step as fired; False when it already was (a re-run after a crash)."""
    key = effect.dedup_key or f"outbox:{effect.id}"
    fired_at = driver_time(conn.dialect, now)
    return _FIRE.execute(conn, [{"key": key[:255], "fired_at": fired_at}]) == 1


def _once(conn: Connection, key: tuple[Any, ...], read: Callable[..., T], *args: Any) -> T:
    """`read(conn, *args)` once per transaction: a round of escalation steps shares one, and
    reads the same policies, people and link key for each page."""
    memo = transaction_memo(conn)
    if key not in memo:
        memo[key] = read(conn, *args)
    value: T = memo[key]
    return value


def _service(runtime: Runtime) -> OncallService:
    service: OncallService = runtime.oncall
    return service


def _title(state: IncidentState) -> str:
    recurred = " (recurred)" if state.reopen_count else ""
    return f"[{state.severity}] {state.public_id}: {state.title}{recurred}"


def _people_for(
    service: OncallService,
    conn: Connection,
    state: IncidentState,
    targets: Sequence[str],
    now: datetime,
) -> tuple[list[str], list[str]]:
    """(people reached, targets that reach nobody)."""
    people: list[str] = []
    unreached: list[str] = []
    for target in targets:
        kind, _, name = target.partition(":")
        if kind == "role":
            holder = state.roles.get(name)
            found = service.resolve(conn, f"person:{holder}", now) if holder else []
        elif target == FIRST_LEVEL:
            name_ = service.policy_for_services(state.services, conn)
            policy = service.policy(conn, name_) if name_ else None
            first = list(policy["levels"][0]["targets"]) if policy else []
            found, _ = _people_for(service, conn, state, first, now)
        else:
            found = (
                _once(conn, ("person", target), service.resolve, target, now)
                if kind == "person"
                else service.resolve(conn, target, now, state.services, once_per_transaction=True)
            )
        if not found:
            unreached.append(target)
        people += [p for p in found if p not in people]
    return people, unreached


def handle_escalate(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    with runtime.db.write() as conn:
        return escalate_in(runtime, conn, effect)


def escalate_in(runtime: Runtime, conn: Connection, effect: outbox.ClaimedEffect) -> Outcome:
    """Fire one escalation step inside the caller's transaction (the worker batches them)."""
    p = effect.payload
    service = _service(runtime)
    try:
        # Locked (on PostgreSQL) until commit: an acknowledgement cannot slip in between
        # this re-check and the page being recorded.
        loaded = runtime.incidents.load_in(conn, str(p["incident"]), lock=True)
    except NotFound:
        return Outcome(True, "incident gone")
    state = loaded.state
    if not state.status.awaiting_ack or state.reopen_count != int(p["generation"]):
        return Outcome(True, "skipped: acknowledged or superseded")
    level_no, loop = int(p["level"]), int(p["loop"])
    paging = str(p.get("paging", "page"))
    now = runtime.clock.now()
    if not _mark_fired(conn, effect, now):
        return Outcome(True, "already fired")
    name = _once(conn, ("policy-for", state.services), _policy_name, service, state.services)
    policy = _once(conn, ("policy", name), service.policy, name) if name else None
    effects: list[outbox.Effect] = []
    data: dict[str, Any] = {
        "policy": name,
        "level": level_no + 1,
        "loop": loop + 1,
        "paging": paging,
    }
    if policy is None:
        data["problem"] = (
            f"escalation policy {name!r} not found"
            if name
            else "no escalation policy for the incident's services"
        )
        targets: list[str] = []
    else:
        level = policy["levels"][level_no]
        targets = list(level["targets"])
    first = level_no == 0 and loop == 0
    all_hands = paging == "all_hands" and first
    if all_hands:
        # Every level of the policy and every role holder, the commander first.
        if policy is not None:
            targets = [t for lvl in policy["levels"] for t in lvl["targets"]]
        roles = ["commander", *(r for r in state.roles if r != "commander")]
        targets = list(dict.fromkeys([*targets, *(f"role:{r}" for r in roles)]))
    elif first and runtime.policy.severity(state.severity).notify_commander:
        targets.append("role:commander")
    people, unreached = _people_for(service, conn, state, targets, now)
    round_robin = policy is not None and policy["levels"][level_no].get("mode") == "round_robin"
    if round_robin and people and not all_hands:
        pick = (int(p["incident_id"]) + loop) % len(people)
        people = [people[pick]]
    subject = f"incident:{state.public_id}:{state.reopen_count}"
    for person in people:
        effects += person_effects(
            service,
            conn,
            person=person,
            severity=state.severity,
            title=_title(state),
            body=_page_body(state),
            reason=f"{'page' if level_no == 0 and loop == 0 else 'escalation'} "
            f"level {level_no + 1}",
            incident=state.public_id,
            incident_id=int(p["incident_id"]),
            base=effect.due_at,
            subject=subject,
            key=f"n:{effect.dedup_key}:{person}",
            now=now,
        )
    silent = [
        person
        for person in people
        if not _once(
            conn,
            ("methods", person, state.severity),
            service.person_methods,
            person,
            state.severity,
        )
    ]
    warnings: list[Event] = []
    if people and len(silent) < len(people):
        _clear_problem(conn, state.public_id)
    elif first and paging in ("page", "all_hands"):
        more, warning = _cannot_page(
            runtime, service, conn, state, effect, data, targets, unreached, silent, now
        )
        effects += more
        warnings.append(warning)
    if policy is not None and paging != "notify":
        levels = policy["levels"]
        delay = timedelta(minutes=int(levels[level_no].get("delay_minutes", 15)))
        nxt: tuple[int, int] | None = None
        if level_no + 1 < len(levels):
            nxt = (level_no + 1, loop)
        elif loop < int(policy.get("repeat", 0)):
            nxt = (0, loop + 1)
        if nxt is not None:
            effects.append(
                outbox.Effect(
                    ESCALATE,
                    {**p, "level": nxt[0], "loop": nxt[1]},
                    effect.due_at + delay,
                    incident_id=int(p["incident_id"]),
                    dedup_key=(
                        f"esc:{p['incident_id']}:{p['generation']}:{p.get('run')}:{nxt[1]}:{nxt[0]}"
                    ),
                )
            )
            data["next_at"] = (effect.due_at + delay).isoformat()
    data.update(targets=targets, notified=people, unreached=unreached)
    kind = "paged" if level_no == 0 and loop == 0 else "escalated"
    outbox.enqueue(conn, effects, now)
    runtime.incidents.append_in(conn, loaded, [Event(kind, SYSTEM.actor, now, data), *warnings])
    return Outcome(True, f"{kind}: {', '.join(people) or 'nobody'}")


def _policy_name(conn: Connection, service: OncallService, services: tuple[str, ...]) -> str | None:
    return service.policy_for_services(services, conn)


def _page_body(state: IncidentState) -> str:
    """The page's text: the summary, and that it recurred when it was reopened."""
    body = state.summary or state.title
    if state.reopen_count:
        times = "once" if state.reopen_count == 1 else f"{state.reopen_count} times"
        body = f"Recurred: {state.public_id} was resolved and reopened ({times}).\n\n{body}"
    return body


def _problem_text(
    data: dict[str, Any], targets: list[str], unreached: list[str], silent: list[str]
) -> str:
    if "problem" in data:
        return str(data["problem"])
    if silent:
        return (
            f"nobody with a contact method: {', '.join(silent)} "
            f"{'has' if len(silent) == 1 else 'have'} none"
        )
    if targets:
        return f"the escalation policy's first level reaches nobody ({', '.join(unreached)})"
    return "the escalation policy's first level has no targets"


def _cannot_page(
    runtime: Runtime,
    service: OncallService,
    conn: Connection,
    state: IncidentState,
    effect: outbox.ClaimedEffect,
    data: dict[str, Any],
    targets: list[str],
    unreached: list[str],
    silent: list[str],
    now: datetime,
) -> tuple[list[outbox.Effect], Event]:
    """An incident that must page reached nobody: say so on the timeline, keep the warning
    for the dashboard (`paging_problems`), and notify the first fallback contact that reaches
    someone with a contact method."""
    problem = _problem_text(data, targets, unreached, silent)
    fallback, fallback_people = None, []
    for contact in service.section.fallback_contacts:
        if contact not in runtime.policy.contacts:
            continue
        found = service.resolve(
            conn, f"contact:{contact}", now, state.services, once_per_transaction=True
        )
        found = [person for person in found if service.person_methods(conn, person, state.severity)]
        if found:
            fallback, fallback_people = contact, found
            break
    effects: list[outbox.Effect] = []
    for person in fallback_people:
        effects += person_effects(
            service,
            conn,
            person=person,
            severity=state.severity,
            title=f"Nobody was paged for {_title(state)}",
            body=f"{state.public_id} must page, but nobody could be paged: {problem}. "
            f"You are the {fallback.replace('_', ' ') if fallback else 'fallback'} contact: "
            "find someone to respond, then fix the on-call setup "
            "(warroom oncall service set SERVICE POLICY).",
            reason=f"fallback: nobody paged ({fallback})",
            incident=state.public_id,
            incident_id=int(effect.payload["incident_id"]),
            base=now,
            subject=None,
            key=f"fallback:{effect.dedup_key}:{person}",
            now=now,
        )
    detail = {
        "policy": data.get("policy"),
        "targets": targets,
        "unreached": unreached,
        "without_contact_methods": silent,
        "fallback_contact": fallback,
        "fallback_notified": fallback_people,
    }
    t = tables.paging_problems
    conn.execute(delete(t).where(t.c.incident == state.public_id))
    conn.execute(
        insert(t).values(
            incident=state.public_id,
            generation=state.reopen_count,
            problem=problem,
            detail=detail,
            created_at=now,
        )
    )
    return effects, Event("paging_failed", SYSTEM.actor, now, {"problem": problem, **detail})


def _clear_problem(conn: Connection, incident: str) -> None:
    _CLEAR_PROBLEM.execute(conn, [{"incident": incident}])


_CLEAR_PROBLEM = DriverRows(
    delete(tables.paging_problems).where(tables.paging_problems.c.incident == bindparam("incident"))
)


def _rule_applies(
    runtime: Runtime, state: IncidentState, p: dict[str, Any]
) -> tuple[bool, list[str], dict[str, Any]]:
    """Whether a planned rule timer still applies, whom it notifies, and what to record."""
    policy = runtime.policy
    kind = p["rule"]
    if kind == "time":
        found = [r for r in policy.escalation.time_based if r.id == p["rule_id"]]
        if not found or state.reopen_count != int(p["generation"]):
            return False, [], {}
        time_rule = found[0]
        if not _matches(policy, state.severity, time_rule.severities):
            return False, [], {}
        pending = {
            "unacknowledged": state.status.awaiting_ack,
            "unmitigated": state.mitigated_at is None and state.is_open,
            "unresolved": state.is_open,
        }[time_rule.condition]
        info = {
            "rule": time_rule.id,
            "kind": "time_based",
            "condition": time_rule.condition,
            "after": str(time_rule.after),
            "action": time_rule.action,
        }
        return pending, list(time_rule.notify), info
    conds = [c for c in policy.escalation.condition_based if c.id == p.get("rule_id")]
    if kind in ("condition", "clock"):
        if not conds:
            return False, [], {}
        cond = conds[0]
        if cond.when == "revenue_per_hour":
            revenue = state.impact.revenue_per_hour
            holds = revenue is not None and cond.threshold is not None and revenue >= cond.threshold
        else:
            holds = bool(state.flags.get(cond.when))
        info = {
            "rule": cond.id,
            "kind": "condition_based",
            "when": cond.when,
            "action": cond.action,
        }
        if state.flag_reasons.get(cond.when):  # e.g. which stop, or the next mitigation option
            info["detail"] = state.flag_reasons[cond.when]
        if kind == "clock" and cond.clock is not None:
            if cond.clock.stop_flag and state.flags.get(cond.clock.stop_flag):
                return False, [], {}
            set_at = datetime.fromisoformat(str(p["set_at"]))
            deadline = set_at + cond.clock.deadline
            info.update(
                clock=cond.clock.name, deadline=deadline.isoformat(), step=str(p.get("step"))
            )
            info["kind"] = "clock_deadline" if p.get("step") == "deadline" else "clock_reminder"
        return holds, list(cond.notify), info
    if kind == "missing_roles":
        level = policy.severity(state.severity)
        missing = [r.value for r in level.roles_required if r.value not in state.roles]
        holds = state.is_open and bool(missing) and level.id == p.get("severity")
        commander = "role:commander" if state.roles.get("commander") else FIRST_LEVEL
        return (
            holds,
            [commander],
            {
                "kind": "missing_roles",
                "missing": missing,
                "required": [r.value for r in level.roles_required],
            },
        )
    if kind == "role_assigned":
        role, person = str(p["role"]), str(p["person"])
        actor = str(p.get("actor", "")).partition(":")
        by_themselves = (actor[2] or actor[0]) == person
        holds = state.is_open and state.roles.get(role) == person and not by_themselves
        return holds, [f"role:{role}"], {"kind": "role_notice", "role": role, "person": person}
    if kind == "cadence":
        due = next_update_due(state, policy)
        promised = datetime.fromisoformat(str(p["due"]))
        holds = state.is_open and due is not None and due <= promised
        comms = (
            "role:communications_lead"
            if state.roles.get("communications_lead")
            else ("role:commander")
        )
        return holds, [comms], {"kind": "update_reminder", "due_at": promised.isoformat()}
    if kind == "cadence_missed":
        last = (state.last_update_at or state.declared_at).isoformat()
        holds = state.is_open and last == p["last"]
        targets = ["role:commander"]
        targets += [f"contact:{c}" for c in ("engineering_manager",) if c in policy.contacts]
        return (
            holds,
            targets,
            {
                "kind": "missed_update",
                "last_update_at": p["last"],
                "factor": policy.escalation.missed_update_factor,
            },
        )
    return False, [], {}


def handle_rule(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    p = dict(effect.payload)
    service = _service(runtime)
    try:
        state = runtime.incidents.get(str(p["incident"]))
    except NotFound:
        return Outcome(True, "incident gone")
    holds, targets, info = _rule_applies(runtime, state, p)
    if not holds:
        return Outcome(True, "skipped: condition no longer holds")
    now = runtime.clock.now()
    with runtime.db.write() as conn:
        people, unreached = _people_for(service, conn, state, targets, now)
        if not people and info["kind"] == "update_reminder":
            return Outcome(True, "nobody to remind (no communications lead or commander)")
        if not _mark_fired(conn, effect, now):
            return Outcome(True, "already fired")
        label = info.get("clock") or info.get("action") or info["kind"].replace("_", " ")
        effects: list[outbox.Effect] = []
        for person in people:
            effects += person_effects(
                service,
                conn,
                person=person,
                severity=state.severity,
                title=f"{_title(state)} — {label}",
                body=_rule_body(state, info),
                reason=str(info["kind"]),
                incident=state.public_id,
                incident_id=int(p["incident_id"]),
                base=now,
                subject=None,
                key=f"n:{effect.dedup_key}:{person}",
                now=now,
            )
        outbox.enqueue(conn, effects, now)
        kind = {
            "update_reminder": "reminder",
            "clock_reminder": "reminder",
            "missing_roles": "reminder",
            "role_notice": "role_notified",
        }.get(info["kind"], "escalated")
        data = {**info, "targets": targets, "notified": people, "unreached": unreached}
        runtime.incidents.mutate_in(
            conn, state.public_id, lambda _s, t: [Event(kind, SYSTEM.actor, t, data)]
        )
    return Outcome(True, f"{kind}: {', '.join(people) or 'nobody'}")


def _rule_body(state: IncidentState, info: dict[str, Any]) -> str:
    kind = info["kind"]
    if kind == "update_reminder":
        return f"A status update for {state.public_id} is due ({info['due_at']})."
    if kind == "missed_update":
        return f"No status update for {state.public_id} since {info['last_update_at']}."
    if kind == "missing_roles":
        roles = ", ".join(r.replace("_", " ") for r in info["missing"])
        return (
            f"{state.public_id} ({state.severity}) still has no {roles}: the policy requires "
            f"them. Assign them: warroom assign {state.public_id} ROLE PERSON."
        )
    if kind == "role_notice":
        return (
            f"You are now the {info['role'].replace('_', ' ')} of {state.public_id}: {state.title}."
        )
    if kind in ("clock_reminder", "clock_deadline"):
        return f"{info['clock']}: deadline {info['deadline']}. {info.get('action', '')}"
    detail = f" {info['detail']}" if info.get("detail") else ""
    return f"{info.get('action') or 'Escalation'} ({info['rule']}).{detail}"


def handle_backlog(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    with runtime.db.write() as conn:
        return backlog_in(runtime, conn, effect)


def backlog_in(runtime: Runtime, conn: Connection, effect: outbox.ClaimedEffect) -> Outcome:
    """The severity says "add to backlog": an action item for the incident, once."""
    p = effect.payload
    try:
        loaded = runtime.incidents.load_in(conn, str(p["incident"]), lock=True)
    except NotFound:
        return Outcome(True, "incident gone")
    state = loaded.state
    level = runtime.policy.severity(state.severity)
    due = level.response_target.duration
    items = runtime.action_items
    item_id = items.insert(
        conn,
        loaded.id,
        {
            "title": f"{state.title} ({state.public_id})",
            "description": f"Added to the backlog: {state.severity} ({level.name}) is fixed "
            f"in the normal flow of work ({level.response_target.label}).",
            "priority": 4,
            "type": "mitigate",
            "due_at": state.declared_at + due if due is not None else None,
        },
        source="policy",
        source_key=f"backlog:{state.public_id}",
    )
    if item_id < 0:
        return Outcome(True, "already in the backlog")
    now = runtime.clock.now()
    data = {"action_item": item_id, "severity": state.severity}
    runtime.incidents.append_in(conn, loaded, [Event("added_to_backlog", SYSTEM.actor, now, data)])
    return Outcome(True, f"action item {item_id}")


def reactor(runtime: Runtime) -> Reactor:
    """The paging reactor: plans escalation steps, pages and policy rules for new events."""
    service = _service(runtime)

    def react(
        *,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> list[outbox.Effect]:
        return plan(
            runtime.policy,
            escalation_policy=service.escalation.policy_for_services_cached(after.services),
            incident_id=incident_id,
            before=before,
            after=after,
            events=events,
            now=now,
        )

    return react
