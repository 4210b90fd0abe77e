"""Server-side rules for agents and for approvals, beside authentication (pure).

Packages call `require_agent_permission` before an agent publishes or approves, and
`refuse_self_approval` before anyone approves; both raise `Forbidden` with the rule's name in
`details["rule"]`, which the MCP tools hand back to the agent to show a person
(warroom.agents.guardrails words the refusal).
"""

from __future__ import annotations

from typing import Literal

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
