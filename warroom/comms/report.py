"""The incident report: built from the folded state and the timeline, as Markdown or HTML.

It renders what is present: runbook steps, mitigations and responders come from events that
other packages write (`runbook_step_ran`, `mitigation_applied`, `role_assigned`,
`acknowledged`); a section with nothing recorded says so.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from warroom.core.durations import format_duration
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.mttx import breakdown
from warroom.policy import Policy

_PHASE_TITLES = {
    "time_to_detect": "Detection (impact began → detected)",
    "time_to_acknowledge": "Response (detected → acknowledged)",
    "time_to_mitigate": "Mitigation (acknowledged → mitigated)",
    "time_to_resolve": "Resolution (mitigated → resolved)",
    "mttr": "Total time to resolve",
}

_html_env = Environment(
    loader=PackageLoader("warroom.comms", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _describe(event: Event) -> str:
    data = event.data
    kind = event.type
    if kind == "declared":
        return f"Incident declared: {data.get('severity')} {data.get('title')}"
    if kind in ("status_changed", "severity_changed", "type_changed"):
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return (
            f"{kind.replace('_', ' ').capitalize()}: {data.get('from')} → {data.get('to')}{reason}"
        )
    if kind == "note_added":
        return f"Note: {data.get('text', '')}"
    if kind == "role_assigned":
        return f"{data.get('role')}: {data.get('person') or '(cleared)'}"
    if kind == "acknowledged":
        return f"Acknowledged by {event.actor}"
    if kind == "status_update_published":
        return f"Status update ({data.get('status')}): {data.get('impact')} / {data.get('action')}"
    if kind == "mitigation_applied":
        outcome = f" → {data.get('outcome')}" if data.get("outcome") else ""
        return f"Mitigation: {data.get('action', '')}{outcome}"
    if kind == "runbook_step_ran":
        outcome = data.get("status", data.get("outcome", ""))
        step = data.get("title") or data.get("step", "")
        return f"Runbook {data.get('runbook', '?')}: {step} ({outcome})"
    if kind == "resolved":
        return f"Resolved: {data.get('summary', '')}"
    if kind in ("notification_sent", "notification_failed"):
        channel = data.get("channel") or ", ".join(data.get("channels", []))
        return f"{kind.replace('_', ' ')} to {data.get('recipient', '')} via {channel}"
    simple = ", ".join(
        f"{k}={v}" for k, v in data.items() if isinstance(v, str | int | float | bool)
    )
    return f"{kind.replace('_', ' ')}" + (f": {simple}" if simple else "")


def build(
    state: IncidentState, events: Sequence[Event], policy: Policy, now: datetime
) -> dict[str, Any]:
    """The report's content as plain data."""
    parts = breakdown(state, policy.mttr_from)
    seconds = parts.seconds()
    mttx = [
        {"phase": _PHASE_TITLES[name], "value": format_duration_s(seconds.get(name))}
        for name in (*(p for p in parts.phases), "mttr")
    ]
    end = state.resolved_at or now
    updates = [e for e in events if e.type == "status_update_published"]
    latest = updates[-1].data if updates else {}
    causes = [str(e.data["cause"]) for e in updates if e.data.get("cause")]
    mitigations = [
        {
            "at": _when(e.occurred_at),
            "action": str(e.data.get("action", "")),
            "outcome": str(e.data.get("outcome", "")),
            "by": e.actor,
        }
        for e in events
        if e.type == "mitigation_applied"
    ]
    runbooks: dict[str, list[str]] = {}
    for e in events:
        if e.type == "runbook_step_ran":
            name = str(e.data.get("runbook") or e.data.get("runbook_id") or "runbook")
            step = str(e.data.get("title") or e.data.get("step") or "")
            outcome = str(e.data.get("status") or e.data.get("outcome") or "")
            runbooks.setdefault(name, []).append(f"{step} ({outcome})" if outcome else step)
    responders: dict[str, set[str]] = {}
    for role, person in state.roles.items():
        responders.setdefault(person, set()).add(role.replace("_", " "))
    for e in events:
        if e.type == "role_assigned" and e.data.get("person"):
            responders.setdefault(str(e.data["person"]), set()).add(
                str(e.data.get("role", "")).replace("_", " ")
            )
        elif e.type == "acknowledged":
            responders.setdefault(e.actor, set()).add("acknowledged")
    impact = state.impact
    metrics = []
    if impact.users_affected is not None:
        metrics.append(("Users affected", str(impact.users_affected)))
    if impact.revenue_per_hour is not None:
        metrics.append(("Revenue at risk per hour", f"{impact.revenue_per_hour:,.0f}"))
    if impact.customer_facing is not None:
        metrics.append(("Customer-facing", "yes" if impact.customer_facing else "no"))
    if impact.data_at_risk is not None:
        metrics.append(("Data at risk", "yes" if impact.data_at_risk else "no"))
    metrics.append(("Status updates published", str(len(updates))))
    metrics.append(("Timeline events", str(len(events))))
    level = policy.severity(state.severity)
    return {
        "sla": sla_rows(state, policy, now),
        "id": state.public_id,
        "title": state.title,
        "severity": f"{level.id} ({level.name})",
        "status": state.status.value,
        "type": state.type,
        "services": ", ".join(state.services) or "-",
        "started_at": _when(state.started_at),
        "resolved_at": _when(state.resolved_at),
        "duration": format_duration(end - state.started_at)
        + ("" if state.resolved_at else " (still open)"),
        "mttx": mttx,
        "mttx_flags": parts.flags,
        "summary": state.summary or state.title,
        "timeline": [
            {"at": _when(e.occurred_at), "actor": e.actor, "text": _describe(e)} for e in events
        ],
        "customer_impact": str(latest.get("impact") or "") or "Not recorded.",
        "root_cause": (causes[-1] if causes else "") or "Not yet determined.",
        "resolution": state.resolution_summary or "",
        "mitigations": mitigations,
        "metrics": metrics,
        "runbooks": [{"name": k, "steps": v} for k, v in runbooks.items()],
        "responders": [
            {"name": k, "roles": ", ".join(sorted(v))} for k, v in sorted(responders.items())
        ],
        "postmortem": dict(state.postmortem) if state.postmortem else None,
        "generated_at": _when(now),
    }


def sla_rows(state: IncidentState, policy: Policy, now: datetime) -> list[dict[str, str]]:
    """The severity's targets and whether they were met; an unset one says so."""
    from warroom.incidents.views import incident_view

    rows = []
    for name, entry in incident_view(state, policy, now)["targets"].items():
        if "due_at" not in entry:
            rows.append({"target": name, "label": entry["label"], "verdict": "not measured"})
            continue
        met = entry.get("met")
        verdict = "SLA met" if met else "SLA missed" if met is False else "pending"
        if entry.get("overdue"):
            verdict = "SLA missed (still open)"
        rows.append({"target": name, "label": entry["label"], "verdict": verdict})
    return rows


def format_duration_s(value: float | None) -> str:
    if value is None:
        return "-"
    from datetime import timedelta

    return format_duration(timedelta(seconds=value))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def md(text: str) -> str:
    """User text made inert in Markdown (no markup, no raw HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", html.unescape(str(text))).replace("\n", " ")


def to_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Incident Report: {report['id']}",
        "",
        f"**Incident ID:** {report['id']}  ",
        f"**Title:** {md(report['title'])}  ",
        f"**Severity:** {report['severity']}  ",
        f"**Status:** {report['status']}  ",
        f"**Services:** {md(report['services'])}  ",
        f"**Started:** {report['started_at']}  ",
        f"**Resolved:** {report['resolved_at']}  ",
        f"**Duration:** {report['duration']}",
        "",
        "## MTTR breakdown",
        "",
        "| Phase | Time |",
        "|---|---|",
        *[f"| {row['phase']} | {row['value']} |" for row in report["mttx"]],
    ]
    if report["mttx_flags"]:
        lines += ["", "Notes: " + "; ".join(md(f) for f in report["mttx_flags"])]
    lines += ["", "| SLA target | Target | Status |", "|---|---|---|"]
    lines += [f"| {r['target']} | {md(r['label'])} | {r['verdict']} |" for r in report["sla"]]
    lines += ["", "## Summary", "", md(report["summary"]), "", "## Timeline", ""]
    lines += [
        f"- **{row['at']}** ({md(row['actor'])}): {md(row['text'])}" for row in report["timeline"]
    ]
    lines += ["", "## Customer Impact", "", md(report["customer_impact"])]
    lines += ["", "## Root Cause", "", md(report["root_cause"])]
    lines += ["", "## Mitigation", ""]
    if report["resolution"]:
        lines.append(f"What fixed it: {md(report['resolution'])}")
        lines.append("")
    if report["mitigations"]:
        lines += [
            f"- {m['at']}: {md(m['action'])}" + (f" → {md(m['outcome'])}" if m["outcome"] else "")
            for m in report["mitigations"]
        ]
    elif not report["resolution"]:
        lines.append("No mitigation recorded.")
    lines += ["", "## Metrics", ""]
    lines += [f"- {name}: {md(value)}" for name, value in report["metrics"]]
    lines += ["", "## Runbooks Used", ""]
    if report["runbooks"]:
        for runbook in report["runbooks"]:
            lines.append(f"- {md(runbook['name'])}: " + "; ".join(md(s) for s in runbook["steps"]))
    else:
        lines.append("None recorded.")
    lines += ["", "## Responders", ""]
    if report["responders"]:
        lines += [f"- {md(r['name'])} ({md(r['roles'])})" for r in report["responders"]]
    else:
        lines.append("None recorded.")
    if report["postmortem"]:
        pm = report["postmortem"]
        lines += [
            "",
            "## Post-mortem",
            "",
            f"Status: {md(str(pm.get('status')))}; owner: {md(str(pm.get('owner')))}; "
            f"due: {md(str(pm.get('due_at')))}",
        ]
    lines += ["", f"_Generated by warroom at {report['generated_at']}._", ""]
    return "\n".join(lines)


def to_html(report: dict[str, Any]) -> str:
    return _html_env.get_template("report.html").render(report=report)


def save(data_dir: Path, report: dict[str, Any], text: str, fmt: str, now: datetime) -> Path:
    folder = data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"incident-{report['id']}-{now.strftime('%Y%m%d')}.{fmt}"
    path.write_text(text, "utf-8")
    return path
