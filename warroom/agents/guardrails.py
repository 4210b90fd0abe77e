"""How a refusal is told to an agent (pure): the rule's name and what to do about it.

The rules themselves are enforced beside authentication (warroom.core.guardrails).
"""

from __future__ import annotations

from typing import Any


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
