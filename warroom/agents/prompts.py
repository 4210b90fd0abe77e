"""Role prompts for agents, built from the policy in force (pure: policy and incident in).

Each prompt carries the facts the role needs from the policy (severities, targets, update
cadence, roles required, escalation, checklist) and the agent's limits, so an assistant works
the team's process rather than a generic one.
"""

from __future__ import annotations

from typing import Any, Literal

from warroom.core.vocab import ROLE_TITLES, TYPE_TITLES
from warroom.policy import Policy
from warroom.policy.schema import duration_text

RoleName = Literal["commander", "investigator", "communications"]

_PURPOSE: dict[RoleName, str] = {
    "commander": (
        "You are the incident commander. You coordinate; you do not fix. Assess the severity "
        "with the policy's triage, make sure every role the severity requires is filled, keep "
        "the status accurate, see that updates go out on the cadence, watch the escalation "
        "clock, and decide when the incident is resolved against the checklist."
    ),
    "investigator": (
        "You are the investigator. Find what is broken and why, fast enough to mitigate: "
        "stop the bleeding first (rollback, feature flag, config change, scaling; a hotfix "
        "last), root cause second. Record every finding, hypothesis and decision as a note."
    ),
    "communications": (
        "You are the communications lead. Keep stakeholders informed on the policy's cadence "
        "with short, factual updates; never speculate about causes and never promise a time "
        "you cannot keep. You draft; publishing publicly follows the policy's agent rules."
    ),
}


def _severities(policy: Policy) -> list[str]:
    lines = []
    for level in policy.severities:
        aliases = f" ({', '.join(level.aliases)})" if level.aliases else ""
        update = (
            f"update every {duration_text(level.update_interval)}"
            if level.update_interval
            else "no fixed update cadence"
        )
        roles = ", ".join(r.value for r in level.roles_required) or "none"
        pm = level.postmortem
        postmortem = pm.requirement + (
            f" within {duration_text(pm.due_within)}" if pm.due_within else ""
        )
        lines.append(
            f"- {level.id}{aliases} {level.name}: {level.definition or '-'} "
            f"Response {level.response_target.label}; resolution {level.resolution_target.label}; "
            f"{update}; roles required: {roles}; paging: {level.paging}; "
            f"public updates: {'yes' if level.public_update else 'no'}; "
            f"post-mortem: {postmortem}."
        )
    return lines


def _escalation(policy: Policy) -> list[str]:
    lines = []
    for rule in policy.escalation.time_based:
        lines.append(
            f"- {', '.join(rule.severities)} still {rule.condition} after "
            f"{duration_text(rule.after)}: notify {', '.join(rule.notify)}"
            + (f" ({rule.action})" if rule.action else "")
        )
    for cond in policy.escalation.condition_based:
        when = (
            f"revenue at risk ≥ {cond.threshold:g}/h"
            if cond.when == "revenue_per_hour"
            else f"flag {cond.when}"
        )
        clock = (
            f"; deadline {duration_text(cond.clock.deadline)} ({cond.clock.name})"
            if cond.clock
            else ""
        )
        lines.append(
            f"- {when}: notify {', '.join(cond.notify)}"
            + (f" ({cond.action})" if cond.action else "")
            + clock
        )
    factor = policy.escalation.missed_update_factor
    lines.append(f"- an update missed by {factor:g}× its interval escalates to the commander")
    return lines


def _limits(policy: Policy) -> list[str]:
    agents = policy.agents
    lines = [
        "- Your token's scopes limit your tools; a refused tool call names the rule that "
        "refused it. Never work around a refusal: stop, tell a person which rule refused "
        "what, and ask how to proceed.",
        "- You never approve your own work (a hotfix, a runbook step)"
        + ("." if agents.may_approve else ", and you approve nothing: a person approves."),
        "- Public status updates: "
        + (
            "you may publish them."
            if agents.may_publish_public
            else "you draft them; a person publishes."
        ),
    ]
    if agents.close_requires_published_postmortem:
        lines.append(
            "- You may close an incident whose post-mortem is required only after the "
            "post-mortem is published."
        )
    lines.append(
        "- Stop and surface to a person when: every mitigation option is exhausted, the "
        "incident recurs after resolution, data loss or a security breach is involved, or the "
        "resolution target will be missed."
    )
    return lines


def _incident(incident: dict[str, Any]) -> list[str]:
    roles = incident.get("roles") or {}
    lines = [
        f"{incident.get('id')}: {incident.get('title')}",
        f"- severity {incident.get('severity')}, type {incident.get('type')}, "
        f"status {incident.get('status')}",
        f"- services: {', '.join(incident.get('services') or []) or 'none recorded'}",
        "- roles: " + (", ".join(f"{r}={p}" for r, p in roles.items()) or "none assigned"),
    ]
    if incident.get("roles_missing"):
        lines.append(f"- roles still to fill: {', '.join(incident['roles_missing'])}")
    if incident.get("next_update_due_at"):
        lines.append(f"- next update due at {incident['next_update_due_at']}")
    for name, target in (incident.get("targets") or {}).items():
        if target.get("due_at"):
            lines.append(f"- {name} target {target.get('label')}: due {target['due_at']}")
    lines.append(f"- allowed moves: {', '.join(incident.get('allowed_moves') or []) or 'none'}")
    return lines


_FOCUS: dict[RoleName, list[str]] = {
    "commander": [
        "1. Read the incident (get_incident) and its timeline; confirm or record the triage.",
        "2. Fill every role the severity requires (assign_role); acknowledge if triggered.",
        "3. Keep the status true (set_status) and note every decision (add_note).",
        "4. Resolve only with a summary and the checklist confirmed or waived with reasons.",
        "5. Page who you need (who_is_on_call, page); approve nothing you asked for yourself.",
        "6. Schedule the post-mortem when the policy requires one; draft it (draft_postmortem); "
        "close afterwards.",
    ],
    "investigator": [
        "1. Read the timeline; note the symptoms, the first bad signal, recent changes "
        "(suspected_changes) and similar past incidents (similar_incidents).",
        "2. Work the mitigation options in order (suggest_mitigations, run_runbook_step; a "
        "dangerous step waits for another responder's approval); note each try and its "
        "result (add_note).",
        "3. Move the status as you learn (identified, mitigating, monitoring).",
        "4. Set the condition flags the policy escalates on when they become true.",
    ],
    "communications": [
        "1. Read the incident and the timeline before every update.",
        "2. Update on the cadence: Status, Impact, Current action, ETA (or 'investigating'), "
        "Next update time.",
        "3. Render each update with draft_status_update; publish_status_update sends it "
        "(public=false for internal-only; a public one needs the policy's permission).",
    ],
}


def role_prompt(role: RoleName, policy: Policy, incident: dict[str, Any] | None = None) -> str:
    """The full prompt for one role under this policy (and this incident, if given)."""
    sections = [
        f"# warroom: {role}",
        _PURPOSE[role],
        f"## The policy: {policy.name}",
        policy.description.strip() or "(no description)",
        "### Severities",
        *_severities(policy),
    ]
    if role in ("commander", "investigator"):
        sections += ["### Triage rules (first match decides)"]
        sections += [
            f"- {rule.when.describe()} → {rule.severity}" for rule in policy.triage.severity_rules
        ]
        sections += [
            f"- {rule.when.describe()} → type {TYPE_TITLES[rule.type]}"
            for rule in policy.triage.type_rules
        ]
    sections += ["### Escalation", *_escalation(policy)]
    if policy.resolution_checklist:
        sections += ["### Resolution checklist"]
        sections += [f"- {item.id}: {item.text}" for item in policy.resolution_checklist]
    sections += [
        "### Roles",
        ", ".join(f"{r.value} ({title})" for r, title in ROLE_TITLES.items()),
        "## Your limits",
        *_limits(policy),
        "## How to work",
        *_FOCUS[role],
    ]
    if incident is not None:
        sections += ["## The incident", *_incident(incident)]
    return "\n".join(sections)
