"""The post-mortem draft, written from what the timeline recorded (pure: no I/O, no clock).

The facts (summary, impact, timeline with MTTx, alerts, changes, runbook steps, mitigations,
roles and responders) come from the incident's state and events. The sections only people can
write (root cause, contributing factors, five whys, ...) are headings with prompts. The wording
is blameless: it describes what the systems and the process did, never who is at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.core.actors import actor_name, identity, is_system
from warroom.core.durations import format_duration
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.mttx import breakdown

# How the draft shows an actor or a typed name (the post-mortem service passes the one that
# knows the directory's display names).
Namer = Callable[[str], str]
_WORKED = frozenset({"success", "succeeded", "worked", "resolved", "mitigated", "ok", "effective"})

# Sections people fill in, in order, with the prompt shown under each (the default template;
# the policy's `postmortem_template.sections` chooses and orders them).
HUMAN_SECTIONS: tuple[tuple[str, str], ...] = (
    ("Root cause", "What in the system allowed this to happen? Describe mechanisms, not people."),
    ("Contributing factors", "- (e.g. a missing alert, a test gap, deploy timing)"),
    (
        "Five whys",
        "1. Why did users see the problem?\n2. Why?\n3. Why?\n4. Why?\n5. Why?",
    ),
    ("What went well", "- "),
    ("What went wrong", "- "),
    ("Where we got lucky", "- "),
    ("Lessons learned", "- "),
)
# Prompts of the other sections a process's template can ask for.
MORE_PROMPTS: dict[str, str] = {
    "why it was not caught earlier": "What let it through review, testing and monitoring?",
    "what went poorly": "- ",
    "reputation impact": (
        "How did customers, partners and the public see it (support tickets, social media, press)?"
    ),
    "data impact": "Was data lost, corrupted or exposed? Which data, how much, and is it back?",
    "revenue impact": "What did it cost beyond the estimate above (refunds, credits, churn)?",
    "sla impact": "Which commitments to customers were broken, and what follows (credits)?",
    "monitoring improvements": "Which monitoring gaps did this reveal, and what closes them?",
    "prevention measures": "How do we prevent this from happening again?",
}
REVIEW_MEETING = "Review meeting"
FACILITATOR_PLACEHOLDER = "{facilitator}"
ATTENDEES_PLACEHOLDER = "{attendees}"
PREVENTION_AREAS = ("Monitoring", "Testing", "Process", "Infrastructure")
PREVENTION_PROMPTS = {
    "Monitoring": "What signal would have caught this sooner?",
    "Testing": "What test would have stopped it before production?",
    "Process": "What change to how we work would prevent or shorten it?",
    "Infrastructure": "What change to the platform would contain it?",
}
DEFAULT_SECTIONS = (*(title for title, _ in HUMAN_SECTIONS), "Prevention")


def prompt_of(title: str) -> str:
    """The prompt drafted under a section people write."""
    key = title.strip().lower()
    for known, prompt in HUMAN_SECTIONS:
        if known.lower() == key:
            return prompt
    if key == "prevention":
        return "\n\n".join(f"### {a}\n\n{PREVENTION_PROMPTS[a]}" for a in PREVENTION_AREAS)
    if key == REVIEW_MEETING.lower():
        return review_meeting_text(None)
    return MORE_PROMPTS.get(key, "- ")


@dataclass(frozen=True)
class ReviewMeeting:
    """The scheduled post-incident review meeting."""

    starts_at: datetime
    duration: timedelta
    facilitator: str
    attendees: tuple[str, ...]


def review_meeting_text(meeting: ReviewMeeting | None) -> str:
    """The Review meeting section: placeholders until the meeting is scheduled."""
    if meeting is None:
        return (
            "- **Date:** not scheduled yet (`warroom postmortem meeting`)\n"
            f"- **Facilitator:** {FACILITATOR_PLACEHOLDER}\n"
            f"- **Attendees:** {ATTENDEES_PLACEHOLDER}"
        )
    return (
        f"- **Date:** {_time(meeting.starts_at)} ({format_duration(meeting.duration)})\n"
        f"- **Facilitator:** {meeting.facilitator}\n"
        f"- **Attendees:** {', '.join(meeting.attendees)}"
    )


_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\[[ xX]?\]\s*)?")
_LABEL = re.compile(r"^\*\*[^*]+\*\*:?\s*")
# A line (after its list marker and bold label) that is only a placeholder, as process
# templates write them: {name}, {{ name }}, [Name 1], TODO / TBD.
_PLACEHOLDER = re.compile(
    r"^(?:\{\{[^}]*\}\}|\{[a-z_][a-z0-9_]*\}|\[[^\]]+\]|(?:TODO|TBD|FIXME)\b.*)$",
    re.IGNORECASE,
)


def unfilled(body: str, required: Sequence[str]) -> list[dict[str, str]]:
    """The required sections still blank or holding their prompt or a placeholder."""
    present = {heading.lower(): text for heading, text in sections(body)}
    problems = []
    for title in required:
        text = present.get(title.strip().lower())
        if text is None:
            problems.append({"section": title, "problem": "missing"})
            continue
        prompt_lines = {line.strip() for line in prompt_of(title).splitlines()}
        written = []
        placeholder = False
        for raw in text.splitlines():
            line = raw.strip()
            content = _LIST_MARKER.sub("", line, count=1).strip()
            if content and _PLACEHOLDER.match(_LABEL.sub("", content, count=1).strip()):
                placeholder = True
                continue
            if not line or line in prompt_lines or line.startswith("###"):
                continue
            if content:
                written.append(content)
        if placeholder:
            problems.append({"section": title, "problem": "still holds a template placeholder"})
        elif not written:
            problems.append({"section": title, "problem": "blank (only the prompt)"})
    return problems


@dataclass(frozen=True)
class ActionItemLine:
    """An action item as the draft lists it."""

    id: int
    title: str
    owner: str | None
    due_at: datetime | None
    priority: int
    type: str
    status: str


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (one line, pipes escaped)."""
    text = str(value if value is not None else "")
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "not recorded"


def _iso_time(value: Any) -> str:
    """A recorded ISO time as the draft writes times (the text itself if it is not one)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return _time(moment)


def _hm(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else "n/a"


def _first(data: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if value not in (None, "", [], {}):
            return str(value)
    return ""


def alert_name(data: Mapping[str, Any]) -> str:
    labels = data.get("labels") or {}
    name = _first(data, "alertname", "name", "title", "summary")
    if not name and isinstance(labels, Mapping):
        name = str(labels.get("alertname", ""))
    return name or "alert"


def describe(event: Event, name: Namer = actor_name) -> str:
    """One blameless line for a timeline event (people shown by `name`)."""
    d = event.data
    t = event.type
    if t == "declared":
        return f"Incident declared as {d.get('severity')} ({d.get('source', 'manual')})"
    if t == "triaged":
        return f"Triage recorded: {d.get('severity')} / {d.get('type')}"
    if t == "acknowledged":
        return "Incident acknowledged"
    if t == "status_changed":
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return f"Status {d.get('from')} → {d.get('to')}{reason}"
    if t == "severity_changed":
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return f"Severity {d.get('from')} → {d.get('to')}{reason}"
    if t == "role_assigned":
        if d.get("person"):
            return f"{name(str(d.get('person')))} took the {d.get('role')} role"
        return f"The {d.get('role')} role was cleared"
    if t == "note_added":
        return f"Note: {d.get('text', '')}"
    if t == "alert_attached":
        fp = f" (fingerprint {d['fingerprint']})" if d.get("fingerprint") else ""
        return f"Alert {alert_name(d)} attached{fp}"
    if t == "deploy_correlated":
        return "Change correlated: " + change_text(d)
    if t == "mitigation_applied":
        return f"Mitigation tried: {d.get('action', '')} → {d.get('outcome', 'unknown')}"
    if t == "runbook_step_ran":
        return (
            f"Runbook {d.get('runbook', '')} step {d.get('step', '')} "
            f"({d.get('kind', 'step')}): {d.get('status', '')}"
        )
    if t == "status_update_published":
        return "Status update published" + (
            f": {_first(d, 'message', 'body', 'text')}"
            if _first(d, "message", "body", "text")
            else ""
        )
    if t == "notification_sent":
        return (
            f"Notified {d.get('recipient', '')} via {d.get('channel', '')} ({d.get('reason', '')})"
        )
    if t == "notification_failed":
        return f"Notification to {d.get('recipient', '')} failed"
    if t == "escalated":
        targets = d.get("targets") or d.get("notify") or d.get("to") or ""
        if isinstance(targets, list | tuple):
            targets = ", ".join(str(x) for x in targets)
        reason = _first(d, "reason", "rule", "action")
        return f"Escalated to {targets}" + (f" ({reason})" if reason else "")
    if t == "resolved":
        return f"Resolved: {d.get('summary', '')}"
    if t == "closed":
        return "Incident closed"
    if t == "reopened":
        return f"Reopened: {d.get('reason', '')}"
    if t == "milestone_corrected":
        return f"Milestone {d.get('milestone')} corrected to {d.get('at')}"
    if t == "postmortem_scheduled":
        moved = (
            f" (moved from {_iso_time(d.get('previous_due_at'))}: {d.get('reason')})"
            if d.get("previous_due_at")
            else ""
        )
        owner = name(str(d.get("owner"))) if d.get("owner") else "unassigned"
        return f"Post-mortem scheduled: owner {owner}, due {_iso_time(d.get('due_at'))}{moved}"
    if t == "postmortem_published":
        return "Post-mortem published"
    if t == "postmortem_review_scheduled":
        return (
            f"Review meeting scheduled for {d.get('starts_at')}, "
            f"facilitated by {name(str(d.get('facilitator') or ''))}"
        )
    if t == "initial_update_drafted":
        return "Initial update drafted; the responders were prompted to publish it"
    if t == "root_cause_made_public":
        return "Root cause included in the public resolution text (policy option)"
    if t == "follow_up_required":
        return f"Follow-up required: {d.get('title', '')}"
    if t == "details_updated":
        return "Details updated: " + ", ".join(sorted(d))
    if t == "flag_set":
        return f"Flag {d.get('flag')} set to {d.get('value')}"
    return t.replace("_", " ").capitalize()


def change_text(d: Mapping[str, Any]) -> str:
    parts = [
        _first(d, "kind", "change_kind", "type"),
        _first(d, "service"),
        _first(d, "version", "revision", "ref"),
        _first(d, "summary", "description", "title"),
    ]
    return " ".join(p for p in parts if p) or "a recent change"


@dataclass(frozen=True)
class Facts:
    """What the draft states, gathered from state and events (also used by tests and exports)."""

    duration: timedelta | None
    revenue_estimate: float | None
    introduced_at: datetime | None
    alerts: list[Event]
    changes: list[Event]
    runbook_steps: list[Event]
    mitigations: list[Event]
    responders: list[str]  # one actor per person (agents apart), in the order they acted


def gather(state: IncidentState, events: Sequence[Event]) -> Facts:
    by_type: dict[str, list[Event]] = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event)
    end = state.resolved_at
    duration = end - state.started_at if end and end >= state.started_at else None
    rate = state.impact.revenue_per_hour
    revenue = (
        round(rate * duration.total_seconds() / 3600, 2)
        if rate is not None and duration is not None
        else None
    )
    changes = by_type.get("deploy_correlated", [])
    introduced: datetime | None = state.started_at
    for change in changes:
        raw = change.data.get("deployed_at") or change.data.get("at")
        try:
            moment = datetime.fromisoformat(str(raw)) if raw else None
        except ValueError:
            moment = None
        if (
            moment is not None
            and moment.tzinfo is not None
            and (introduced is None or moment < introduced)
        ):
            introduced = moment
    responders: list[str] = []
    seen: set[str] = set()
    for event in events:
        # One entry per person: `user:bob` (a login), `token:bob` (their API token) and `bob`
        # (a role holder, the local CLI) are the same person; agents stay agents.
        actors = [event.actor]
        if event.type == "role_assigned" and event.data.get("person"):
            actors.append(str(event.data["person"]))
        for actor in actors:
            key = identity(actor)
            if key and not is_system(actor) and key not in seen:
                seen.add(key)
                responders.append(actor)
    return Facts(
        duration=duration,
        revenue_estimate=revenue,
        introduced_at=introduced,
        alerts=by_type.get("alert_attached", []),
        changes=changes,
        runbook_steps=by_type.get("runbook_step_ran", []),
        mitigations=by_type.get("mitigation_applied", []),
        responders=responders,
    )


def _money(value: float) -> str:
    return f"{value:,.2f}"


def render(
    state: IncidentState,
    events: Sequence[Event],
    *,
    owner: str | None,
    due_at: datetime | None,
    requirement: str,
    action_items: Sequence[ActionItemLine] = (),
    mttr_from: str = "started_at",
    human_sections: Sequence[str] = DEFAULT_SECTIONS,
    sla_impact: str | None = None,
    meeting: ReviewMeeting | None = None,
    name: Namer = actor_name,
) -> str:
    """The Markdown draft of the post-mortem (people shown by `name`)."""
    facts = gather(state, events)
    mttx = breakdown(state, mttr_from)
    out: list[str] = []
    add = out.append
    add(f"# Post-mortem: {state.public_id} — {state.title}")
    add("")
    add(
        "> Blameless review: we describe what happened and how the system and our process "
        "allowed it, so we can improve them. People acted on what they knew at the time."
    )
    add("")
    add(f"- **Severity:** {state.severity}")
    add(f"- **Type:** {state.type.replace('_', ' ')}")
    add(f"- **Services:** {', '.join(state.services) or 'none recorded'}")
    shown_owner = name(owner) if owner else "unassigned"
    add(f"- **Post-mortem:** {requirement}; owner {shown_owner}; due {_time(due_at)}")
    add("")
    add("## Summary")
    add("")
    add(state.title + ("." if not state.title.endswith(".") else ""))
    if state.summary:
        add("")
        add(state.summary)
    if state.resolution_summary:
        add("")
        add(f"**Resolution:** {state.resolution_summary}")
    add("")
    add("## Impact")
    add("")
    impact = state.impact
    users = f"{impact.users_affected:,}" if impact.users_affected is not None else "not recorded"
    add(f"- **Users affected:** {users}")
    if impact.customer_facing is not None:
        add(f"- **Customer-facing:** {'yes' if impact.customer_facing else 'no'}")
    if impact.data_at_risk is not None:
        add(f"- **Data at risk:** {'yes' if impact.data_at_risk else 'no'}")
    add(
        f"- **Duration of impact:** {_duration(facts.duration)} "
        f"({_time(state.started_at)} to {_time(state.resolved_at)})"
    )
    if facts.revenue_estimate is not None and impact.revenue_per_hour is not None:
        hours = (facts.duration or timedelta(0)).total_seconds() / 3600
        add(
            f"- **Revenue estimate:** {_money(facts.revenue_estimate)} "
            f"({_money(impact.revenue_per_hour)} per hour × {hours:.2f} h)"
        )
    else:
        add("- **Revenue estimate:** no revenue rate recorded")
    if sla_impact:
        add(f"- **SLA impact:** {sla_impact}")
    add("")
    add("## Timeline")
    add("")
    add("| Milestone | Time |")
    add("|---|---|")
    add(f"| Introduced | {_time(facts.introduced_at)} |")
    add(f"| Impact began | {_time(state.started_at)} |")
    add(f"| Detected | {_time(state.detected_at)} |")
    add(f"| Acknowledged | {_time(state.acknowledged_at)} |")
    add(f"| Mitigated | {_time(state.mitigated_at)} |")
    add(f"| Resolved | {_time(state.resolved_at)} |")
    add("")
    add("| Phase | Duration |")
    add("|---|---|")
    labels = {
        "time_to_detect": "Time to detect",
        "time_to_acknowledge": "Time to acknowledge",
        "time_to_mitigate": "Time to mitigate",
        "time_to_resolve": "Time from mitigation to resolution",
    }
    for phase, value in mttx.phases.items():
        add(f"| {labels[phase]} | {_duration(value)} |")
    add(f"| Time to resolve (from {mttr_from.removesuffix('_at')}) | {_duration(mttx.total)} |")
    if mttx.flags:
        add("")
        add("Data notes: " + "; ".join(mttx.flags))
    add("")
    add("| Time (UTC) | Event | By |")
    add("|---|---|---|")
    for event in events:
        who = name(event.actor)
        add(f"| {_hm(event.occurred_at)} | {cell(describe(event, name))} | {cell(who)} |")
    add("")
    add("## Alerts that fired")
    add("")
    if facts.alerts:
        for e in facts.alerts:
            fp = e.data.get("fingerprint")
            add(
                f"- {_hm(e.occurred_at)} {alert_name(e.data)}"
                + (f" (fingerprint `{fp}`)" if fp else "")
                + (f" from {e.data['source']}" if e.data.get("source") else "")
            )
    else:
        add("No alerts were attached to this incident (it was detected another way).")
    add("")
    add("## Changes correlated")
    add("")
    if facts.changes:
        for e in facts.changes:
            add(f"- {_hm(e.occurred_at)} {change_text(e.data)}")
    else:
        add("No change was correlated with this incident.")
    add("")
    add("## Runbooks and steps run")
    add("")
    if facts.runbook_steps:
        add("| Time (UTC) | Runbook | Step | Kind | Result |")
        add("|---|---|---|---|---|")
        for e in facts.runbook_steps:
            d = e.data
            add(
                f"| {_hm(e.occurred_at)} | {cell(d.get('runbook'))} | {cell(d.get('step'))} "
                f"| {cell(d.get('kind'))} | {cell(d.get('status'))} |"
            )
    else:
        add("No runbook steps were recorded.")
    worked = [e for e in facts.mitigations if str(e.data.get("outcome", "")).lower() in _WORKED]
    if facts.runbook_steps or worked:
        used = sorted(
            {str(e.data.get("runbook")) for e in facts.runbook_steps if e.data.get("runbook")}
        )
        add("")
        add(
            f"Keep what worked: `warroom postmortem runbook {state.public_id}` drafts a new "
            "runbook from these steps"
            + (
                f"; add `--extend <file>` to extend the one used ({', '.join(used)})."
                if used
                else "."
            )
        )
    add("")
    add("## Mitigations tried")
    add("")
    if facts.mitigations:
        add("| Time (UTC) | Action | Outcome |")
        add("|---|---|---|")
        for e in facts.mitigations:
            add(
                f"| {_hm(e.occurred_at)} | {cell(e.data.get('action'))} "
                f"| {cell(e.data.get('outcome'))} |"
            )
    else:
        add("No mitigation was recorded.")
    add("")
    add("## Roles and responders")
    add("")
    if state.roles:
        for role, person in state.roles.items():
            add(f"- **{role.replace('_', ' ')}:** {cell(name(person))}")
    else:
        add("- No roles were assigned.")
    responders = ", ".join(name(actor) for actor in facts.responders)
    add(f"- **Responders:** {responders or 'none recorded'}")
    add("")
    add("## Action items")
    add("")
    if action_items:
        add("| # | Action | Type | Owner | Due | Priority | Status |")
        add("|---|---|---|---|---|---|---|")
        for item in action_items:
            due = item.due_at.strftime("%Y-%m-%d") if item.due_at else "-"
            add(
                f"| {item.id} | {cell(item.title)} | {item.type} "
                f"| {cell(name(item.owner) if item.owner else '-')} "
                f"| {due} | P{item.priority} | {item.status} |"
            )
    else:
        add("None yet: add them with `warroom actions add " + state.public_id + "`.")
    add("")
    for title in human_sections:
        add(f"## {title}")
        add("")
        if title.lower() == REVIEW_MEETING.lower():
            add(review_meeting_text(meeting))
        else:
            add(prompt_of(title))
        add("")
    return "\n".join(out).rstrip() + "\n"


# The sections `render` writes from the incident's record (the rest are people's).
GENERATED_SECTIONS = (
    "Summary",
    "Impact",
    "Timeline",
    "Alerts that fired",
    "Changes correlated",
    "Runbooks and steps run",
    "Mitigations tried",
    "Roles and responders",
    "Action items",
)


def generated_headings(body: str, human_sections: Sequence[str] = DEFAULT_SECTIONS) -> list[str]:
    """The document's sections written from the record (refreshed on every read)."""
    human = {title.strip().lower() for title in human_sections}
    generated = {title.lower() for title in GENERATED_SECTIONS} - human
    return [heading for heading, _ in sections(body) if heading.lower() in generated]


def section(body: str, title: str) -> str:
    """The text under a `## title` heading (up to the next `## `), prompts included."""
    lines = body.splitlines()
    wanted = title.strip().lower()
    collecting = False
    found: list[str] = []
    for line in lines:
        if line.startswith("## "):
            if collecting:
                break
            collecting = line[3:].strip().lower() == wanted
            continue
        if collecting:
            found.append(line)
    return "\n".join(found).strip()


def written_root_cause(body: str) -> str:
    """The root cause people wrote (empty while it still holds only the prompt)."""
    text = section(body, "Root cause")
    prompt = dict(HUMAN_SECTIONS)["Root cause"]
    return "" if text == prompt else text


BLAMEFUL = re.compile(
    r"\b(blame[sd]?|fault|careless(ness)?|negligen(t|ce)|incompeten(t|ce)|stupid|"
    r"should have known|human error|screwed up)\b",
    re.IGNORECASE,
)


def blame_warnings(body: str) -> list[str]:
    """Phrases that point at people rather than systems (shown as review hints)."""
    found = []
    for number, line in enumerate(body.splitlines(), start=1):
        for match in BLAMEFUL.finditer(line):
            found.append(f"line {number}: '{match.group(0)}' — describe the system, not a person")
    return found


def _split(body: str) -> list[tuple[str, str]]:
    """(heading, text) pairs for `## ` sections; the part before the first is heading ''."""
    parts: list[tuple[str, list[str]]] = [("", [])]
    for line in body.splitlines():
        if line.startswith("## "):
            parts.append((line[3:].strip(), []))
        else:
            parts[-1][1].append(line)
    return [(heading, "\n".join(lines)) for heading, lines in parts]


def merge_human_sections(
    fresh: str, previous: str, human_sections: Sequence[str] = DEFAULT_SECTIONS
) -> str:
    """The fresh draft with every section people write taken from the previous text."""
    human = {title.lower() for title in human_sections}
    old = {heading.lower(): text for heading, text in _split(previous) if heading}
    fresh_parts = _split(fresh)
    fresh_names = {heading.lower() for heading, _ in fresh_parts}
    out: list[str] = []
    for heading, text in fresh_parts:
        if heading:
            out.append(f"## {heading}")
            out.append(
                old[heading.lower()]
                if heading.lower() in human and heading.lower() in old
                else text
            )
        else:
            out.append(text)
    for heading, text in _split(previous):
        if heading and heading.lower() not in fresh_names:
            out.append(f"## {heading}")
            out.append(text)
    return "\n".join(out).rstrip() + "\n"


def preamble(body: str) -> str:
    """The text before the first `## ` section (title, blameless note, key facts)."""
    return _split(body)[0][1].strip("\n")


def sections(body: str) -> list[tuple[str, str]]:
    """The document's `## ` sections as (heading, text), in order (the preamble left out)."""
    return [(heading, text.strip("\n")) for heading, text in _split(body) if heading]


def replace_section(body: str, heading: str, text: str) -> str:
    """The document with the text under `## heading` replaced; other sections untouched.

    Raises KeyError when there is no such section. A line starting with `## ` inside `text`
    would start a new section, so it is refused with ValueError.
    """
    if any(line.startswith("## ") for line in text.splitlines()):
        raise ValueError("a section's text cannot contain a '## ' heading line")
    parts = _split(body)
    wanted = heading.strip().lower()
    index = next((n for n, (h, _) in enumerate(parts) if h and h.lower() == wanted), None)
    if index is None:
        raise KeyError(heading)
    out: list[str] = []
    for n, (h, old) in enumerate(parts):
        if h:
            out.append(f"## {h}")
        out.append("\n" + text.strip("\n") + "\n" if n == index else old)
    return "\n".join(out).rstrip() + "\n"
