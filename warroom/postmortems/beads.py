"""Export incidents and action items to a beads issue file (`.beads/issues.jsonl`).

Field names follow beads' JSONL issue records (steveyegge/beads `internal/types`): `id`,
`title`, `description`, `status` (open|in_progress|blocked|closed), `priority` (0-4),
`issue_type` (bug|feature|task|epic|chore), `assignee`, `created_at`, `updated_at`,
`closed_at`, `close_reason`, `external_ref`, `labels`, `dependencies` (`issue_id`,
`depends_on_id`, `type`, `created_at`, `created_by`). As the incident process describes: the
incident is a bug with priority from severity (SEV1 → 0 … SEV4 → 3) and labels
`incident,sev-N`; action items are tasks (priority 1-2, label `post-mortem`) that depend
`discovered-from` the incident; resolving closes the bug with a reason. Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from warroom.core.durations import format_duration
from warroom.core.vocab import Status
from warroom.incidents.model import IncidentState


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC, as Go's time.Time marshals it."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def bead_id(prefix: str, *parts: str) -> str:
    """A stable hash id like beads' own (`inc-a1b2c3`)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest[:6]}"


def _status(state: IncidentState) -> str:
    if state.status in (Status.RESOLVED, Status.CLOSED):
        return "closed"
    if state.status is Status.TRIGGERED:
        return "open"
    return "in_progress"


def incident_issue(state: IncidentState, *, rank: int, prefix: str) -> dict[str, Any]:
    """The incident as a beads bug."""
    impact = state.impact
    lines = [state.summary or state.title]
    if impact.users_affected is not None:
        lines.append(f"Users affected: {impact.users_affected}")
    if state.services:
        lines.append(f"Services: {', '.join(state.services)}")
    lines.append(f"warroom incident {state.public_id} ({state.severity})")
    issue: dict[str, Any] = {
        "id": bead_id(prefix, state.public_id),
        "title": f"[SEV-{rank}] {state.title}",
        "description": "\n".join(lines),
        "status": _status(state),
        "priority": min(max(rank - 1, 0), 4),
        "issue_type": "bug",
        "created_at": timestamp(state.declared_at),
        "updated_at": timestamp(state.last_event_at or state.declared_at),
        "external_ref": state.public_id,
        "labels": ["incident", f"sev-{rank}"],
    }
    if state.roles.get("commander"):
        issue["assignee"] = state.roles["commander"]
    if issue["status"] == "closed" and state.resolved_at is not None:
        duration = state.resolved_at - state.started_at
        reason = state.resolution_summary or "Resolved"
        issue["closed_at"] = timestamp(state.resolved_at)
        issue["close_reason"] = f"{reason} (duration {format_duration(duration)})"
    return issue


def action_issue(item: Mapping[str, Any], *, incident_bead: str, prefix: str) -> dict[str, Any]:
    """An action item as a beads task discovered from the incident."""
    bead = bead_id(prefix, "action", str(item["id"]))
    status = {"open": "open", "in_progress": "in_progress"}.get(str(item["status"]), "closed")
    description = str(item.get("description") or "")
    extra = [f"Type: {item['type']}"]
    if item.get("due_at"):
        extra.append(f"Due: {str(item['due_at'])[:10]}")
    issue: dict[str, Any] = {
        "id": bead,
        "title": str(item["title"]),
        "description": "\n".join(x for x in [description, *extra] if x),
        "status": status,
        "priority": 1 if int(item["priority"]) <= 1 else 2,
        "issue_type": "task",
        "created_at": timestamp(_dt(item["created_at"])),
        "updated_at": timestamp(_dt(item["updated_at"])),
        "external_ref": f"warroom-action-{item['id']}",
        "labels": ["post-mortem"],
        "dependencies": [
            {
                "issue_id": bead,
                "depends_on_id": incident_bead,
                "type": "discovered-from",
                "created_at": timestamp(_dt(item["created_at"])),
                "created_by": "warroom",
            }
        ],
    }
    if item.get("owner"):
        issue["assignee"] = str(item["owner"])
    if status == "closed":
        closed = item.get("done_at") or item["updated_at"]
        issue["closed_at"] = timestamp(_dt(closed))
        issue["close_reason"] = "Done" if item["status"] == "done" else "Won't do"
    return issue


def _dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def merge(existing_lines: Iterable[str], issues: Sequence[Mapping[str, Any]]) -> list[str]:
    """The file's lines with our issues replaced by id (others kept as they were)."""
    ours = {str(issue["id"]): issue for issue in issues}
    out: list[str] = []
    seen: set[str] = set()
    for line in existing_lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            out.append(line.rstrip("\n"))
            continue
        key = str(record.get("id")) if isinstance(record, dict) else ""
        if key in ours:
            out.append(dumps(ours[key]))
            seen.add(key)
        else:
            out.append(line.rstrip("\n"))
    out += [dumps(issue) for key, issue in ours.items() if key not in seen]
    return out


def dumps(issue: Mapping[str, Any]) -> str:
    return json.dumps(issue, ensure_ascii=False, separators=(",", ":"))
