"""The war room's timeline as a responder reads it: each event with its details, in the
order things happened, people apart from the system, and repetitive system events grouped.

Pure: events in, display entries out (no database, no clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from warroom.core.actors import actor_name, is_system
from warroom.incidents.model import Event

# Recorded this long after it happened: the entry says so (a backdated note, a late import).
BACKDATED_AFTER_SECONDS = 120
# Runs of these system events (at least GROUP_MIN in a row) fold into one line, so the notes
# and decisions stand out.
REPETITIVE = frozenset(
    {
        "paged",
        "escalated",
        "reminder",
        "notification_sent",
        "notification_failed",
        "alert_acknowledged",
        "deploy_correlated",
        "postmortem_reminder_sent",
    }
)
GROUP_MIN = 3
# Labels of an alert worth showing beside its name (the rest are on the Alerts page).
ALERT_LABELS = ("service", "region", "cluster", "namespace", "instance", "env", "severity")


def _person(value: Any) -> str:
    text = str(value or "")
    return actor_name(text) if ":" in text and not text.startswith("role:") else text


@dataclass
class Entry:
    """One timeline line: what happened, by whom, when, and the details that matter."""

    seq: int
    type: str
    actor: str
    at: datetime
    text: str
    category: str  # "people" or "system"
    recorded_at: datetime | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    checklist: Mapping[str, Any] | None = None
    tone: str = ""  # "bad", "good" or "" (colours the entry's edge)


@dataclass
class Group:
    """A run of repetitive system events shown as one foldable line."""

    type: str
    entries: list[Entry]

    @property
    def seq(self) -> int:
        return self.entries[0].seq

    @property
    def summary(self) -> str:
        counts: dict[str, int] = {}
        for entry in self.entries:
            counts[entry.type] = counts.get(entry.type, 0) + 1
        return ", ".join(
            f"{n} {_PLURAL.get(kind, kind.replace('_', ' '))}" for kind, n in counts.items()
        )

    @property
    def first(self) -> datetime:
        return self.entries[0].at

    @property
    def last(self) -> datetime:
        return self.entries[-1].at


_PLURAL = {
    "paged": "pages",
    "escalated": "escalations",
    "reminder": "reminders",
    "notification_sent": "notifications sent",
    "notification_failed": "notifications failed",
    "alert_acknowledged": "alert acknowledgements",
    "deploy_correlated": "suspected changes",
    "postmortem_reminder_sent": "post-mortem reminders",
}


def _join(values: Iterable[Any]) -> str:
    return ", ".join(_person(v) for v in values if v) or "nobody"


def _reason(d: Mapping[str, Any]) -> str:
    return f" — {d['reason']}" if d.get("reason") else ""


def _paging(kind: str, d: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]], str]:
    who = _join(d.get("notified") or [])
    level = d.get("level")
    if kind == "reminder":
        text = f"reminder sent to {who}"
    elif kind == "paged":
        text = f"paged {who}" + (f" (level {level})" if level else "")
    else:
        text = f"escalated to {who}" + (f" (level {level})" if level else "")
    details: list[tuple[str, str]] = []
    if d.get("policy"):
        details.append(("Escalation policy", str(d["policy"])))
    if d.get("loop") and int(d["loop"]) > 1:
        details.append(("Round", str(d["loop"])))
    if d.get("targets"):
        details.append(("Targets", ", ".join(str(t) for t in d["targets"])))
    if d.get("unreached"):
        details.append(("Not reached", _join(d["unreached"])))
    if d.get("action"):
        details.append(("Rule", str(d["action"]).replace("_", " ")))
    if d.get("due_at"):
        details.append(("Update was due", str(d["due_at"])[:16].replace("T", " ") + " UTC"))
    if d.get("next_at"):
        details.append(("Next level at", str(d["next_at"])[:16].replace("T", " ") + " UTC"))
    if d.get("problem"):
        details.append(("Problem", str(d["problem"])))
    tone = "bad" if d.get("problem") or (d.get("unreached") and not d.get("notified")) else ""
    return text, details, tone


def describe(event: Event) -> Entry:
    """The display entry of one event: a headline and its details."""
    d: Mapping[str, Any] = event.data
    kind = event.type
    details: list[tuple[str, str]] = []
    body: str | None = None
    tone = ""
    text: str
    match kind:
        case "declared":
            text = f"declared {d.get('severity')}: {d.get('title')}"
            if d.get("services"):
                details.append(("Services", ", ".join(d["services"])))
            body = str(d.get("summary") or "") or None
            tone = "bad"
        case "triaged":
            if d.get("proposed_severity") is None:  # every answer unknown: nothing proposed
                text = f"triage with every answer unknown; {d.get('severity')} chosen"
            else:
                text = f"triage proposed {d.get('proposed_severity')} / {d.get('proposed_type')}"
            if d.get("overridden"):
                text += f"; set {d.get('severity')} / {d.get('type')}"
                details.append(("Override reason", str(d.get("override_reason") or "")))
        case "acknowledged":
            text = "acknowledged" + (" from the page link" if d.get("via") == "link" else "")
        case "status_changed":
            text = f"status {d.get('from')} → {d.get('to')}{_reason(d)}"
        case "severity_changed":
            text = f"severity {d.get('from')} → {d.get('to')}{_reason(d)}"
            tone = "bad"
        case "type_changed":
            text = f"type {d.get('from')} → {d.get('to')}".replace("_", " ")
        case "role_assigned":
            role = str(d.get("role", "")).replace("_", " ")
            if d.get("person"):
                text = f"{d.get('person')} is {role}"
                if d.get("previous"):
                    details.append(("Instead of", str(d["previous"])))
            else:
                text = f"{role} unassigned"
        case "note_added":
            text = "note"
            body = str(d.get("text", ""))
        case "details_updated":
            text = "details updated"
            for key, value in sorted(d.items()):
                shown = ", ".join(value) if isinstance(value, list) else str(value)
                details.append((key.replace("_", " ").capitalize(), shown))
        case "resolved":
            text = "resolved"
            body = str(d.get("summary") or "") or None
            details.append(("Root cause", str(d.get("root_cause") or "")))
            details.append(("Permanent fix", str(d.get("permanent_fix") or "")))
            tone = "good"
        case "closed":
            text = "closed"
            tone = "good"
        case "reopened":
            text = f"reopened{_reason(d)}"
            tone = "bad"
        case "paged" | "escalated" | "reminder":
            text, details, tone = _paging(kind, d)
        case "notification_sent":
            text = f"notified {_person(d.get('recipient'))} via {d.get('channel')}"
            if d.get("reason"):
                details.append(("Why", str(d["reason"])))
            tone = "good"
        case "notification_failed":
            text = f"could not notify {_person(d.get('recipient'))}"
            if d.get("channels"):
                details.append(("Tried", ", ".join(d["channels"])))
            if d.get("error"):
                details.append(("Error", str(d["error"])))
            tone = "bad"
        case "alert_attached":
            text = f"alert attached: {d.get('summary') or d.get('alert')}"
            details.append(("Alert", str(d.get("alert", ""))))
            if d.get("service"):
                details.append(("Service", str(d["service"])))
            if d.get("source_severity"):
                details.append(("Source severity", f"{d['source_severity']} → {d.get('severity')}"))
            if d.get("integration"):
                details.append(("From", str(d["integration"])))
            for key in ALERT_LABELS:
                value = (d.get("labels") or {}).get(key)
                if value and key not in ("service", "severity"):
                    details.append((key.capitalize(), str(value)))
        case "alert_acknowledged":
            text = f"alert {d.get('alert')} acknowledged at its source"
        case "deploy_correlated":
            what = (
                "infrastructure change"
                if d.get("kind") == "infra"
                else str(d.get("kind", "change"))
            )
            text = f"suspected {what}: {d.get('service')} {d.get('version') or ''}".rstrip()
            if d.get("reason"):
                details.append(("Why", str(d["reason"])))
            if d.get("by"):
                details.append(("By", _person(d["by"])))
            if d.get("score") is not None:
                details.append(("Score", f"{float(d['score']):.2f}"))
        case "runbook_step_ran":
            number = f"step {d['step_number']}: " if d.get("step_number") else ""
            text = f"runbook {d.get('runbook')} {number}{d.get('title') or d.get('step')}"
            details.append(("Result", str(d.get("status") or "done").replace("_", " ")))
            if d.get("automatic"):
                details.append(("Ran", "automatically"))
            if d.get("output"):
                details.append(("Output", str(d["output"])[:2000]))
            if d.get("note"):
                details.append(("Note", str(d["note"])))
            tone = "bad" if d.get("status") in ("failed", "error") else ""
        case "approval_requested":
            text = f"approval requested for {d.get('runbook')} / {d.get('title') or d.get('step')}"
            if d.get("approvers"):
                details.append(("Who may approve", ", ".join(map(str, d["approvers"]))))
        case "approval_granted":
            text = f"approved {d.get('runbook')} / {d.get('title') or d.get('step')}"
        case "mitigation_applied":
            text = f"mitigation {str(d.get('action', '')).replace('_', ' ')}: {d.get('outcome')}"
            if d.get("description"):
                details.append(("What was done", str(d["description"])))
            if d.get("source"):
                details.append(
                    ("Recorded", "by hand" if d["source"] == "manual" else str(d["source"]))
                )
            tone = {"succeeded": "good", "failed": "bad"}.get(str(d.get("outcome")), "")
        case "mitigation_suggested":
            text = f"suggested: {str(d.get('action', '')).replace('_', ' ')}"
            if d.get("why"):
                details.append(("Why", str(d["why"])))
            if d.get("command"):
                details.append(("Command", str(d["command"])))
        case "verification_started":
            text = "verification started"
            if d.get("ends_at"):
                details.append(("Runs until", str(d["ends_at"])[:16].replace("T", " ") + " UTC"))
            if d.get("trigger"):
                details.append(("Because", str(d["trigger"]).replace("_", " ")))
            checks = [f"{c.get('service')} {c.get('check')}" for c in d.get("checks") or []]
            if checks:
                details.append(("Checks", ", ".join(checks)))
        case "verification_passed":
            manual = d.get("verification") == "manual"
            text = "stability confirmed by hand" if manual else "verification passed: stable"
            body = str(d.get("note") or "") or None
            tone = "good"
        case "verification_regressed":
            text = "verification regressed"
            failures = [
                f"{f.get('service')} {f.get('check')}: {f.get('status')}"
                for f in d.get("failures") or []
            ]
            if failures:
                details.append(("Failing", "; ".join(failures)))
            if d.get("suggestion"):
                details.append(("Suggested", str(d["suggestion"])))
            tone = "bad"
        case "verification_inconclusive":
            text = "verification inconclusive"
            if d.get("reason"):
                details.append(("Why", str(d["reason"])))
        case "flag_set":
            flag = str(d.get("flag", "")).replace("_", " ")
            text = f"{flag}: {'yes' if d.get('value') else 'no'}{_reason(d)}"
        case "stop_raised":
            text = f"MUST STOP: {d.get('text') or d.get('rule')}"
            if d.get("reason"):
                details.append(("Why", str(d["reason"])))
            tone = "bad"
        case "stop_acknowledged":
            text = f"MUST STOP acknowledged: {d.get('text') or d.get('rule')}"
            details.append(("Decision", str(d.get("decision") or "")))
        case "status_update_published":
            text = f"status update published ({d.get('status')})"
            if d.get("impact"):
                details.append(("Impact", str(d["impact"])))
            if d.get("action"):
                details.append(("Doing", str(d["action"])))
            if d.get("next_update_at"):
                details.append(
                    ("Next update", str(d["next_update_at"])[:16].replace("T", " ") + " UTC")
                )
            audience = d.get("audience") or {}
            sent = list(audience.get("stakeholders") or [])
            if audience.get("public"):
                sent.append("status page")
            if sent:
                details.append(("Sent to", ", ".join(sent)))
        case "postmortem_scheduled":
            text = f"post-mortem scheduled, owner {_person(d.get('owner'))}"
            if d.get("due_at"):
                details.append(("Due", str(d["due_at"])[:16].replace("T", " ") + " UTC"))
            if d.get("reason"):
                details.append(("Moved because", str(d["reason"])))
        case "initial_update_drafted":
            text = "initial status update drafted"
            if d.get("prompt"):
                details.append(("Next", str(d["prompt"])))
        case "root_cause_made_public":
            text = "root cause included in the public resolution (policy option)"
        case "postmortem_submitted":
            text = "post-mortem submitted for review"
            if d.get("reviewers"):
                details.append(("Reviewers", _join(d["reviewers"])))
        case "postmortem_changes_requested":
            text = f"post-mortem returned to draft{_reason(d)}"
        case "postmortem_published":
            text = "post-mortem published"
            tone = "good"
        case "postmortem_overdue":
            text = "post-mortem overdue"
            tone = "bad"
        case "follow_up_required":
            text = f"action item: {d.get('title') or d.get('action') or 'follow-up'}"
            if d.get("owner"):
                details.append(("Owner", _person(d["owner"])))
            if d.get("due_at"):
                details.append(("Due", str(d["due_at"])[:10]))
        case "hotfix_recorded" | "hotfix_deployed":
            verb = "recorded" if kind == "hotfix_recorded" else "deployed"
            text = f"hotfix {d.get('hotfix')} {verb}"
            if d.get("description"):
                details.append(("What", str(d["description"])))
        case "hotfix_rollout":
            if d.get("stage") == "full":
                text = f"hotfix {d.get('hotfix')} promoted from its canary to everyone"
                tone = "good"
            else:
                text = f"hotfix {d.get('hotfix')} canary halted"
                tone = "bad"
            details.append(("Note", str(d.get("note") or "")))
        case "hotfix_pr_requested":
            text = f"emergency pull request asked for hotfix {d.get('hotfix')}"
            details.append(("Branch", f"{d.get('head')} → {d.get('base')} ({d.get('repo')})"))
        case "hotfix_pr_opened":
            text = f"emergency pull request #{d.get('number')} opened for hotfix {d.get('hotfix')}"
            details.append(("Link", str(d.get("url") or "")))
        case "hotfix_pr_labelled":
            labels = ", ".join(str(label) for label in d.get("labels") or [])
            text = f"pull request #{d.get('number')} labelled {labels}"
        case "hotfix_pr_ready":
            asked = [*d.get("reviewers", []), *(f"team {t}" for t in d.get("team_reviewers", []))]
            text = f"pull request #{d.get('number')}: review requested"
            details.append(("From", ", ".join(str(a) for a in asked) or "nobody"))
            unmapped = ", ".join(str(r) for r in d.get("unmapped_reviewers") or [])
            details.append(("Not on GitHub", unmapped))
        case "hotfix_pr_failed":
            again = "; retrying" if d.get("retrying") else ""
            text = f"emergency pull request for hotfix {d.get('hotfix')} failed{again}"
            details.append(("GitHub", str(d.get("error") or "")))
            tone = "bad"
        case "milestone_corrected":
            text = f"{str(d.get('milestone', 'time')).replace('_', ' ')} corrected"
            if d.get("to"):
                details.append(("Now", str(d["to"])[:16].replace("T", " ") + " UTC"))
            if d.get("reason"):
                details.append(("Why", str(d["reason"])))
        case _:
            text = kind.replace("_", " ")
    recorded = event.recorded_at
    late = (
        recorded is not None
        and (recorded - event.occurred_at).total_seconds() > BACKDATED_AFTER_SECONDS
    )
    return Entry(
        seq=event.seq or 0,
        type=kind,
        actor=actor_name(event.actor),
        at=event.occurred_at,
        text=text,
        category="system" if is_system(event.actor) else "people",
        recorded_at=recorded if late else None,
        details=[(label, value) for label, value in details if value],
        body=body,
        checklist=d.get("checklist") if kind == "resolved" else None,
        tone=tone,
    )


def entries(events: Sequence[Event]) -> list[Entry]:
    """Display entries in the order things happened (`occurred_at`, then recording order)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.seq or 0))
    return [describe(event) for event in ordered]


def grouped(items: Sequence[Entry]) -> list[Entry | Group]:
    """Fold runs of at least GROUP_MIN repetitive system events into one `Group` each."""
    out: list[Entry | Group] = []
    run: list[Entry] = []

    def flush() -> None:
        if len(run) >= GROUP_MIN:
            out.append(Group(run[0].type, list(run)))
        else:
            out.extend(run)
        run.clear()

    for entry in items:
        if entry.category == "system" and entry.type in REPETITIVE:
            run.append(entry)
        else:
            flush()
            out.append(entry)
    flush()
    return out
