"""Server-side rules for agents, and how a refusal is told to the agent (pure).

Packages call `require_agent_permission` before an agent publishes or approves, and
`refuse_self_approval` before anyone approves; both raise `Forbidden` with the rule's name in
`details["rule"]`, which the MCP tools hand back to the agent to show a person.
"""

from __future__ import annotations

from typing import Any, Literal

from warroom.core.auth import Principal
from warroom.core.errors import Forbidden
from warroom.policy import Policy

AgentPermission = Literal["may_publish_public", "may_approve"]


def require_agent_permission(
    principal: Principal, policy: Policy, permission: AgentPermission, action: str
) -> None:
    """Refuse `action` for an agent unless the policy's `agents.<permission>` grants it."""
    if not principal.is_agent or getattr(policy.agents, permission):
        return
    raise Forbidden(
        f"{principal.actor} may not {action}: the policy does not grant agents {permission} "
        f"(policy agents.{permission}); a person must do it",
        code="agent_not_permitted",
        details={"rule": f"policy.agents.{permission}", "actor": principal.actor},
    )


def refuse_self_approval(principal: Principal, author: str, what: str) -> None:
    """Nobody, agent or person, approves their own work (a hotfix, a runbook step)."""
    if principal.actor == author:
        raise Forbidden(
            f"{principal.actor} cannot approve its own {what}; someone else must approve it",
            code="self_approval",
            details={"rule": "no_self_approval", "actor": principal.actor},
        )


def rule_of(code: str, details: Any) -> str:
    """The name of the rule behind a refusal, for a person to look up."""
    if isinstance(details, dict):
        if isinstance(details.get("rule"), str):
            return str(details["rule"])
        unmet = details.get("unmet")
        if isinstance(unmet, list) and unmet:
            guards = [str(u.get("guard")) for u in unmet if isinstance(u, dict)]
            return "lifecycle guard: " + ", ".join(guards)
    return {
        "forbidden": "token scopes",
        "unauthorized": "authentication",
        "illegal_transition": "lifecycle transition table",
        "invalid_input": "input validation",
        "unknown_severity": "policy severities",
        "not_found": "existence",
        "rate_limited": "rate limit",
    }.get(code, code)


def refusal_text(code: str, message: str, rule: str) -> str:
    """What the agent reads: the rule, the reason, and what to do about it."""
    return (
        f"REFUSED by warroom ({code}; rule: {rule}): {message}\n"
        "This rule is enforced by the server. Do not try to work around it: tell a person "
        "which rule refused the action and let them decide."
    )
