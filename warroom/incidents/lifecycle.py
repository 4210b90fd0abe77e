"""The lifecycle as data: which status may move to which, and the guards on each move.

`check_move` is pure: it takes the current state, the target, what the person supplied and the
policy, and either returns or raises. A refused move changes nothing and names the unmet guard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warroom.core.errors import Conflict, GuardFailed
from warroom.core.vocab import Status
from warroom.incidents.model import IncidentState

if TYPE_CHECKING:
    from warroom.policy import Policy

S = Status
_WORKING = (S.INVESTIGATING, S.IDENTIFIED, S.MITIGATING, S.MONITORING)

# Forward moves may skip steps (a false alarm goes straight to resolved); working statuses may
# also move back (a regression sends monitoring back to investigating).
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    S.TRIGGERED: frozenset({S.ACKNOWLEDGED, *_WORKING, S.RESOLVED}),
    S.ACKNOWLEDGED: frozenset({*_WORKING, S.RESOLVED}),
    S.INVESTIGATING: frozenset({S.IDENTIFIED, S.MITIGATING, S.MONITORING, S.RESOLVED}),
    S.IDENTIFIED: frozenset({S.INVESTIGATING, S.MITIGATING, S.MONITORING, S.RESOLVED}),
    S.MITIGATING: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.MONITORING: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MITIGATING, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.ACKNOWLEDGED, *_WORKING, S.RESOLVED}),
}


@dataclass(frozen=True)
class MoveRequest:
    """What the person supplied with a move."""

    target: Status
    reason: str | None = None
    resolution_summary: str | None = None
    # checklist item id -> {"confirmed": True} or {"waived": "reason"}
    checklist: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Made by an AI assistant (agent token): the policy's `agents` rules apply too.
    by_agent: bool = False
    # When the move happens (time-based guards: the monitoring window).
    at: datetime | None = None
    # A reason to resolve before the monitoring window passed, from a role the policy allows
    # (checked by the service before the move).
    verification_waiver: str | None = None
    root_cause: str | None = None
    permanent_fix: str | None = None


@dataclass(frozen=True)
class UnmetGuard:
    guard: str
    message: str
    details: Any = None


Guard = Callable[[IncidentState, MoveRequest, "Policy"], UnmetGuard | None]


def _needs_resolution_summary(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    if request.resolution_summary and request.resolution_summary.strip():
        return None
    return UnmetGuard("resolution_summary", "resolving needs a resolution summary")


def _needs_root_cause_and_fix(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    """The resolution phase's outputs (seed 004): root cause identified, fix deployed."""
    if not policy.resolve_requires_root_cause:
        return None
    missing = [
        name
        for name, value in (
            ("root_cause", request.root_cause),
            ("permanent_fix", request.permanent_fix),
        )
        if not (value and value.strip())
    ]
    if not missing:
        return None
    texts = {
        "root_cause": "the root cause identified",
        "permanent_fix": "the permanent fix deployed",
    }
    return UnmetGuard(
        "root_cause_and_fix",
        "this process resolves only with "
        + " and ".join(texts[name] for name in missing)
        + " (policy resolve_requires_root_cause): give "
        + " and ".join(f"--{name.replace('_', '-')}" for name in missing),
        {"missing": missing},
    )


def _needs_checklist(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    missing: list[str] = []
    bad_waivers: list[str] = []
    for item in policy.resolution_checklist:
        answer = request.checklist.get(item.id)
        if answer is None:
            missing.append(item.id)
        elif answer.get("confirmed") is True:
            continue
        elif not str(answer.get("waived") or "").strip():
            bad_waivers.append(item.id)
    if not missing and not bad_waivers:
        return None
    texts = {item.id: item.text for item in policy.resolution_checklist}
    parts = []
    if missing:
        parts.append("unconfirmed: " + "; ".join(f"{i} ({texts[i]})" for i in missing))
    if bad_waivers:
        parts.append("waived without a reason: " + ", ".join(bad_waivers))
    return UnmetGuard(
        "resolution_checklist",
        "the resolution checklist is incomplete (confirm each item or waive it with a reason): "
        + "; ".join(parts),
        {"missing": missing, "waived_without_reason": bad_waivers},
    )


def _needs_postmortem(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    level = policy.severity(state.severity)
    if level.postmortem.requirement != "required":
        return None
    postmortem = state.postmortem or {}
    status = postmortem.get("status")
    if policy.postmortem_close_requires == "published":
        if status == "published":
            return None
        message = f"{state.severity} requires a published post-mortem before closing"
    else:
        if status == "published" or (
            status == "scheduled" and postmortem.get("owner") and postmortem.get("due_at")
        ):
            return None
        message = (
            f"{state.severity} requires a post-mortem scheduled (owner and due date) "
            "or published before closing"
        )
    return UnmetGuard("postmortem", message, {"postmortem": dict(postmortem) or None})


def _agent_needs_published_postmortem(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    if not request.by_agent or not policy.agents.close_requires_published_postmortem:
        return None
    if policy.postmortem_close_requires == "published":
        return None  # the general post-mortem guard already demands it of everyone
    if policy.severity(state.severity).postmortem.requirement != "required":
        return None
    postmortem = state.postmortem or {}
    if postmortem.get("status") == "published":
        return None
    return UnmetGuard(
        "agent_postmortem",
        f"an agent may close a {state.severity} incident only once its required post-mortem "
        "is published (policy agents.close_requires_published_postmortem); ask a person",
        {"postmortem": dict(postmortem) or None},
    )


def _needs_verification(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    """Monitoring before resolve: a passed verification and the severity's window elapsed
    since mitigation, unless waived with a reason."""
    if not policy.resolve_requires_verification:
        return None
    window = policy.severity(state.severity).verification_window
    if window is None:
        return None
    if request.verification_waiver and request.verification_waiver.strip():
        return None
    hint = (
        " (or waive it with a reason, as "
        + " or ".join(role.value for role in policy.verification_waiver_roles)
        + ")"
    )
    details: dict[str, Any] = {
        "window_seconds": window.total_seconds(),
        "mitigated_at": state.mitigated_at.isoformat() if state.mitigated_at else None,
        "verification_passed": bool(state.flags.get("verification_passed")),
        "verification_regressed": bool(state.flags.get("verification_regressed")),
    }
    if state.flags.get("verification_regressed"):
        return UnmetGuard(
            "verification",
            f"{state.severity} requires a stable verification before resolving, and the last "
            "one regressed" + hint,
            details,
        )
    if state.mitigated_at is None:
        return UnmetGuard(
            "verification",
            f"{state.severity} requires monitoring after mitigation before resolving: record "
            "the mitigation that worked (warroom mitigation record ... --outcome succeeded) or "
            "move to monitoring, then watch for the verification window" + hint,
            details,
        )
    ends = state.mitigated_at + window
    details["window_ends_at"] = ends.isoformat()
    if request.at is not None and request.at < ends:
        return UnmetGuard(
            "verification",
            f"{state.severity} requires {_minutes(window)} of monitoring after mitigation "
            f"before resolving; the window ends at {ends.isoformat()}" + hint,
            details,
        )
    if state.flags.get("verification_passed"):
        return None
    return UnmetGuard(
        "verification",
        f"{state.severity} requires a passed verification after mitigation before resolving "
        "(wait for the verification checks, or confirm it: warroom verify confirm)" + hint,
        details,
    )


def _needs_finished_rollout(
    state: IncidentState, request: MoveRequest, policy: Policy
) -> UnmetGuard | None:
    """A hotfix deployed to its canary share is promoted to the full rollout (after its
    monitor window) or halted before the incident is resolved."""
    if not state.flags.get("canary_in_progress"):
        return None
    return UnmetGuard(
        "canary_rollout",
        "a hotfix is still on its canary: watch its monitor window, then promote it to the "
        "full rollout or halt it (warroom hotfix rollout INCIDENT NAME --stage full|halted)",
        {"reason": state.flag_reasons.get("canary_in_progress")},
    )


def _minutes(window: Any) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes} minutes" if minutes else "a verification"


def _needs_reason(state: IncidentState, request: MoveRequest, policy: Policy) -> UnmetGuard | None:
    if request.reason and request.reason.strip():
        return None
    return UnmetGuard("reason", "reopening needs a reason")


GUARDS: Mapping[Status, tuple[Guard, ...]] = {
    S.RESOLVED: (
        _needs_resolution_summary,
        _needs_root_cause_and_fix,
        _needs_checklist,
        _needs_verification,
        _needs_finished_rollout,
    ),
    S.CLOSED: (_needs_postmortem, _agent_needs_published_postmortem),
    S.REOPENED: (_needs_reason,),
}


def allowed_moves(status: Status) -> frozenset[Status]:
    return TRANSITIONS[status]


def unmet_guards(state: IncidentState, request: MoveRequest, policy: Policy) -> list[UnmetGuard]:
    """Every guard the move fails (empty when it may go ahead)."""
    results = (guard(state, request, policy) for guard in GUARDS.get(request.target, ()))
    return [result for result in results if result is not None]


def check_move(state: IncidentState, request: MoveRequest, policy: Policy) -> None:
    """Raise if the move is illegal or any guard is unmet."""
    if request.target not in TRANSITIONS[state.status]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[state.status])) or "none"
        raise Conflict(
            f"{state.public_id} cannot move from {state.status.value} to {request.target.value} "
            f"(allowed: {allowed})",
            code="illegal_transition",
            details={"from": state.status.value, "to": request.target.value, "allowed": allowed},
        )
    unmet = unmet_guards(state, request, policy)
    if unmet:
        raise GuardFailed(
            " ; ".join(u.message for u in unmet),
            details={
                "unmet": [
                    {"guard": u.guard, "message": u.message, "details": u.details} for u in unmet
                ]
            },
        )
