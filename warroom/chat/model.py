"""Incident channels, pure: channel names, the summary card, what of the timeline is posted,
the effects planned for new events, and chat commands parsed. Nothing here does I/O or reads
the clock."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.chat.config import ChatConfig
from warroom.core import outbox
from warroom.core.vocab import ROLE_TITLES, Role
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.views import next_update_due
from warroom.policy import Policy
from warroom.policy.schema import normalise_severity

OPEN = "chat.open"
SYNC = "chat.sync"
POST = "chat.post"
ARCHIVE = "chat.archive"
UNARCHIVE = "chat.unarchive"
KINDS = (OPEN, SYNC, POST, ARCHIVE, UNARCHIVE)

# What "key" verbosity posts: the events that change what responders must know.
KEY_EVENTS = frozenset(
    {
        "acknowledged",
        "status_changed",
        "severity_changed",
        "role_assigned",
        "status_update_published",
        "paged",
        "escalated",
        "mitigation_applied",
        "resolved",
        "closed",
        "reopened",
    }
)
# Never posted: the channel's own bookkeeping, or what the channel already shows.
QUIET_EVENTS = frozenset({"declared", "notification_sent", "notification_failed"})

INCIDENT_ID = re.compile(r"^INC-\d{8}-\d{3,}$", re.IGNORECASE)


@dataclass(frozen=True)
class Message:
    """A chat message as plain text (each platform escapes it for its own markup)."""

    title: str
    lines: tuple[str, ...] = ()
    # Show an "Acknowledge" button acting on this (e.g. "incident:INC-...").
    ack: str | None = None
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "lines": list(self.lines), "ack": self.ack, "link": self.link}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Message:
        return Message(
            title=str(data.get("title", "")),
            lines=tuple(str(x) for x in data.get("lines", ())),
            ack=data.get("ack"),
            link=data.get("link"),
        )

    def plain(self) -> str:
        text = "\n".join((self.title, *self.lines))
        return f"{text}\n{self.link}" if self.link else text


# ---- names and the summary card ------------------------------------------------------------


def slug(text: str, limit: int = 30) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:limit].strip("-") or "incident"


def channel_name(template: str, state: IncidentState) -> str:
    """`inc-20261206-001-checkout` from the template; lowercase, at most 80 characters (the
    smallest limit of the platforms: Slack allows 80)."""
    _, date, seq = state.public_id.split("-", 2)
    title_slug = slug(state.title)
    values = {
        "date": date,
        "seq": seq,
        "id": state.public_id.lower(),
        "slug": title_slug,
        "severity": slug(state.severity, 20),
        "service": slug(state.services[0], 40) if state.services else title_slug,
    }
    name = re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), ""), template)
    name = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return re.sub(r"-{2,}", "-", name)[:80].strip("-") or state.public_id.lower()


def role_title(role: str) -> str:
    try:
        return ROLE_TITLES[Role(role)]
    except ValueError:
        return role


def call_link(config: ChatConfig, state: IncidentState, policy: Policy) -> str | None:
    """The incident's video call (config `call`), at the severities it names."""
    call = config.call
    if call is None:
        return None
    if call.severities:
        level = policy.severity(state.severity)
        wanted = {normalise_severity(s) for s in call.severities}
        if not any(normalise_severity(k) in wanted for k in (level.id, *level.aliases)):
            return None
    _, date, seq = state.public_id.split("-", 2)
    values = {
        "date": date,
        "seq": seq,
        "id": state.public_id.lower(),
        "slug": slug(state.title),
        "severity": slug(state.severity, 20),
        "service": slug(state.services[0], 40) if state.services else slug(state.title),
    }
    return re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), ""), call.url)


def summary_card(
    state: IncidentState, policy: Policy, url: str, call: str | None = None
) -> Message:
    """Severity, status, commander, roles, next update due, the call, war-room link."""
    level = policy.severity(state.severity)
    due = next_update_due(state, policy)
    roles = [
        f"{role_title(role)}: {person}"
        for role, person in sorted(state.roles.items())
        if role != Role.COMMANDER.value
    ]
    lines = [
        f"Severity: {level.id} ({level.name})",
        f"Status: {state.status.value}",
        f"Commander: {state.roles.get(Role.COMMANDER.value) or 'unassigned'}",
        f"Roles: {', '.join(roles) or 'none'}",
        f"Next update due: {due.strftime('%Y-%m-%d %H:%M UTC') if due else 'none'}",
    ]
    if call:
        lines.append(f"Call: {call}")
    return Message(title=f"{state.public_id}: {state.title}", lines=tuple(lines), link=url)


def topic(state: IncidentState, url: str) -> str:
    commander = state.roles.get(Role.COMMANDER.value) or "unassigned"
    return f"[{state.severity}] {state.status.value} · IC {commander} · {url}"


def summary_fingerprint(state: IncidentState, policy: Policy) -> str:
    due = next_update_due(state, policy)
    data = [
        state.title,
        state.severity,
        state.status.value,
        sorted(state.roles.items()),
        due.isoformat() if due else None,
    ]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def responders(state: IncidentState, events: Sequence[Event]) -> list[str]:
    """People to have in the channel: role holders and those these events paged."""
    people = list(dict.fromkeys(state.roles.values()))
    for event in events:
        if event.type in ("paged", "escalated"):
            for person in event.data.get("notified", ()):
                if person not in people:
                    people.append(str(person))
    return people


# ---- the timeline mirror ---------------------------------------------------------------------


def mirror(event: Event, verbosity: str, incident: str) -> Message | None:
    """The message posted for a timeline event at this verbosity, or None."""
    if verbosity == "none" or event.type in QUIET_EVENTS:
        return None
    if event.data.get("source") == "chat" and event.type == "note_added":
        return None  # it came from the channel
    if verbosity == "key" and event.type not in KEY_EVENTS:
        return None
    d = event.data
    who = event.actor
    kind = event.type
    if kind == "acknowledged":
        return Message(f"{who} acknowledged {incident}")
    if kind == "status_changed":
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return Message(f"{who} moved {incident} to {d.get('to')}{reason}")
    if kind == "severity_changed":
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return Message(f"{who} changed severity {d.get('from')} → {d.get('to')}{reason}")
    if kind == "role_assigned":
        title = role_title(str(d.get("role")))
        if d.get("person"):
            return Message(f"{who} made {d['person']} {title}")
        return Message(f"{who} unassigned {title}")
    if kind == "status_update_published":
        internal = d.get("internal") or d.get("text") or ""
        lines = tuple(str(internal).splitlines()[:12]) if internal else ()
        return Message(f"Status update by {who}: {d.get('status', '')}", lines)
    if kind in ("paged", "escalated"):
        people = ", ".join(d.get("notified", ())) or "nobody"
        verb = "Paged" if kind == "paged" else "Escalated to"
        extra = (f"unreached: {', '.join(d['unreached'])}",) if d.get("unreached") else ()
        return Message(f"{verb} {people}", extra, ack=f"incident:{incident}")
    if kind == "resolved":
        summary = str(d.get("summary") or "")
        return Message(f"{who} resolved {incident}", (summary,) if summary else ())
    if kind == "closed":
        return Message(f"{who} closed {incident}")
    if kind == "reopened":
        return Message(f"{who} reopened {incident}: {d.get('reason', '')}")
    if kind == "note_added":
        return Message(f"Note by {who}", (str(d.get("text", "")),))
    if kind == "mitigation_applied":
        return Message(f"{who} applied a mitigation: {d.get('action') or d.get('name') or ''}")
    return Message(f"{kind.replace('_', ' ')} by {who}")


# ---- the reactor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Planner:
    """Plans the chat effects of new incident events (a pure incident reactor)."""

    config: ChatConfig
    policy: Policy
    platforms: tuple[str, ...]
    _eligible: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        wanted = {normalise_severity(s) for s in self.config.severities}
        object.__setattr__(self, "_eligible", frozenset(wanted))

    def archive_rule(self) -> tuple[str, timedelta]:
        """After which event, and how long after it, the channel is archived: the policy's
        `communications.archive_channel` when the process says, else `archive_after` of the
        chat config after closing."""
        rule = self.policy.communications.archive_channel
        if rule is not None:
            return rule.when, rule.after
        return "closed", self.config.archive_delay

    def eligible(self, state: IncidentState) -> bool:
        if not self._eligible:
            return True
        level = self.policy.severity(state.severity)
        return any(normalise_severity(k) in self._eligible for k in (level.id, *level.aliases))

    def __call__(
        self,
        *,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> list[outbox.Effect]:
        if not self.platforms:
            return []
        if not self.eligible(after) and (before is None or not self.eligible(before)):
            return []
        effects: list[outbox.Effect] = []
        public = after.public_id
        newly = before is None or not self.eligible(before)
        people = responders(after, events)
        changed = before is None or summary_fingerprint(before, self.policy) != (
            summary_fingerprint(after, self.policy)
        )
        paged = any(e.type in ("paged", "escalated") for e in events)
        for platform in self.platforms:
            base = {"incident": public, "platform": platform}
            if newly and after.is_open:
                effects.append(
                    outbox.Effect(
                        OPEN,
                        base,
                        now,
                        incident_id=incident_id,
                        dedup_key=f"{OPEN}:{incident_id}:{platform}",
                    )
                )
            elif changed or paged or "role_assigned" in {e.type for e in events}:
                mark = summary_fingerprint(after, self.policy) + ":" + ",".join(sorted(people))
                effects.append(
                    outbox.Effect(
                        SYNC,
                        {**base, "people": people},
                        now,
                        incident_id=incident_id,
                        dedup_key=f"{SYNC}:{incident_id}:{platform}:{mark}",
                    )
                )
            for event in events:
                message = mirror(event, self.config.verbosity, public)
                if message is not None:
                    effects.append(
                        outbox.Effect(
                            POST,
                            {**base, "message": message.to_dict()},
                            now,
                            incident_id=incident_id,
                        )
                    )
            if any(e.type == "reopened" for e in events):
                # An archived channel opens again with its incident (a no-op when it is open).
                effects.append(
                    outbox.Effect(
                        UNARCHIVE,
                        {**base, "generation": after.reopen_count},
                        now,
                        incident_id=incident_id,
                        dedup_key=f"{UNARCHIVE}:{incident_id}:{platform}:{after.reopen_count}",
                    )
                )
            archive = self.archive_rule()
            if any(e.type == archive[0] for e in events):
                effects.append(
                    outbox.Effect(
                        ARCHIVE,
                        {**base, "generation": after.reopen_count, "when": archive[0]},
                        now + archive[1],
                        incident_id=incident_id,
                        dedup_key=f"{ARCHIVE}:{incident_id}:{platform}:{after.reopen_count}",
                    )
                )
        return effects


# ---- commands --------------------------------------------------------------------------------

VERBS = (
    "help",
    "declare",
    "ack",
    "status",
    "severity",
    "role",
    "note",
    "update",
    "page",
    "resolve",
    "whoami",
)


@dataclass(frozen=True)
class Command:
    verb: str
    incident: str | None = None
    args: tuple[str, ...] = ()
    text: str = ""


class CommandError(ValueError):
    """A command that cannot be understood (answered with its usage)."""


USAGE = {
    "help": "help — this list",
    "declare": "declare SEVERITY TITLE… — declare an incident (a channel opens for it)",
    "ack": "ack [INC-…] — acknowledge the incident",
    "status": "status STATUS [reason…] — investigating, identified, mitigating, monitoring",
    "severity": "severity SEVERITY [reason…] — change the severity",
    "role": "role ROLE PERSON|me|none — assign a role (commander, scribe, …)",
    "note": "note TEXT… — add a note to the timeline",
    "update": "update STATUS IMPACT… | ACTION… — publish a status update",
    "page": "page PERSON|team:NAME|schedule:NAME MESSAGE… — page someone",
    "resolve": "resolve [+ITEM…] SUMMARY… — resolve; +ITEM confirms a checklist item",
    "whoami": "whoami — the warroom person you act as",
}


def help_text() -> str:
    return "warroom commands:\n" + "\n".join(USAGE[v] for v in VERBS)


def parse_command(text: str) -> Command:
    """`ack`, `note the DB is back`, `ack INC-20261206-001`, ... (without the prefix)."""
    try:
        words = shlex.split(text.strip())
    except ValueError:
        words = text.strip().split()
    if not words:
        return Command("help")
    verb = words[0].lower()
    if verb not in VERBS:
        raise CommandError(f"unknown command {words[0]!r}\n{help_text()}")
    rest = words[1:]
    incident = None
    if rest and INCIDENT_ID.match(rest[0]):
        incident = rest[0].upper()
        rest = rest[1:]
    # The free text keeps its original spacing: everything after the arguments parsed.
    needs = {"declare": 1, "status": 1, "severity": 1, "role": 2, "page": 1, "update": 1}
    count = needs.get(verb, 0)
    if len(rest) < count:
        raise CommandError(f"usage: {USAGE[verb]}")
    args = tuple(rest[:count])
    free = " ".join(rest[count:]).strip()
    if verb in ("note", "declare", "page") and not free:
        raise CommandError(f"usage: {USAGE[verb]}")
    if verb == "update" and "|" not in free:
        raise CommandError(f"usage: {USAGE[verb]}")
    return Command(verb, incident, args, free)


def strip_prefix(text: str, prefix: str) -> str | None:
    """The command text after `prefix` (e.g. `!warroom`), or None when not a command."""
    stripped = text.strip()
    if stripped == prefix or stripped.startswith(prefix + " "):
        return stripped[len(prefix) :].strip()
    return None
