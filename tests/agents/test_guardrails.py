"""The agent rules, pure: policy permissions, self-approval, the agent close guard, rule names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from warroom.agents.guardrails import refusal_text, rule_of
from warroom.core.auth import Principal
from warroom.core.errors import Conflict, Forbidden, GuardFailed
from warroom.core.guardrails import refuse_self_approval, require_agent_permission
from warroom.core.vocab import Status
from warroom.incidents.lifecycle import MoveRequest, check_move
from warroom.incidents.model import Event, IncidentState, fold
from warroom.policy.loader import load_preset, parse_policy

AGENT = Principal(name="agent:triage-bot", scopes=frozenset({"responder"}), kind="agent")
PERSON = Principal(name="token:alice", scopes=frozenset({"responder"}))
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _policy(**agents: bool) -> Any:
    # "scheduled" suffices for people here, so the agents-only rule is what is under test.
    return parse_policy(
        {"extends": "default", "postmortem_close_requires": "scheduled", "agents": agents}
    )


@pytest.mark.parametrize(
    ("principal", "agents", "refused"),
    [
        (AGENT, {}, True),
        (AGENT, {"may_publish_public": True}, False),
        (PERSON, {}, False),
    ],
)
def test_publishing_publicly_needs_the_policy_for_agents(
    principal: Principal, agents: dict[str, bool], refused: bool
) -> None:
    policy = _policy(**agents)
    if not refused:
        require_agent_permission(principal, policy, "may_publish_public", "publish publicly")
        return
    with pytest.raises(Forbidden) as caught:
        require_agent_permission(principal, policy, "may_publish_public", "publish publicly")
    assert caught.value.code == "agent_not_permitted"
    assert caught.value.details["rule"] == "policy.agents.may_publish_public"
    assert "agent:triage-bot may not publish publicly" in caught.value.message


def test_approving_is_off_for_agents_by_default() -> None:
    assert load_preset("default").agents.may_approve is False
    with pytest.raises(Forbidden, match="may_approve"):
        require_agent_permission(AGENT, load_preset("default"), "may_approve", "approve a step")
    require_agent_permission(AGENT, _policy(may_approve=True), "may_approve", "approve a step")


def test_nobody_approves_their_own_work() -> None:
    with pytest.raises(Forbidden) as caught:
        refuse_self_approval(AGENT, "agent:triage-bot", "hotfix")
    assert caught.value.details["rule"] == "no_self_approval"
    refuse_self_approval(AGENT, "token:alice", "hotfix")


def _resolved(severity: str, postmortem: dict[str, Any] | None) -> IncidentState:
    data = {
        "public_id": "INC-20261123-001",
        "title": "Checkout failing",
        "severity": severity,
        "type": "service_outage",
        "services": [],
    }
    state = fold([Event("declared", "alice", T0, data)])
    return replace(state, status=Status.RESOLVED, postmortem=postmortem)


SCHEDULED = {"status": "scheduled", "owner": "alice", "due_at": "2026-11-25T10:00:00+00:00"}
PUBLISHED = {"status": "published"}


@pytest.mark.parametrize(
    ("severity", "postmortem", "by_agent", "agents", "unmet"),
    [
        ("SEV2", SCHEDULED, False, {}, []),
        ("SEV2", SCHEDULED, True, {}, ["agent_postmortem"]),
        ("SEV2", PUBLISHED, True, {}, []),
        ("SEV2", None, True, {}, ["postmortem", "agent_postmortem"]),
        ("SEV2", None, False, {}, ["postmortem"]),
        ("SEV2", SCHEDULED, True, {"close_requires_published_postmortem": False}, []),
        ("SEV3", None, True, {}, []),  # recommended, not required
    ],
)
def test_agent_close_guard(
    severity: str,
    postmortem: dict[str, Any] | None,
    by_agent: bool,
    agents: dict[str, bool],
    unmet: list[str],
) -> None:
    state = _resolved(severity, postmortem)
    move = MoveRequest(target=Status.CLOSED, by_agent=by_agent)
    if not unmet:
        check_move(state, move, _policy(**agents))
        return
    with pytest.raises(GuardFailed) as caught:
        check_move(state, move, _policy(**agents))
    assert [u["guard"] for u in caught.value.details["unmet"]] == unmet


@pytest.mark.parametrize(
    ("code", "details", "rule"),
    [
        ("guard_failed", {"unmet": [{"guard": "postmortem"}]}, "lifecycle guard: postmortem"),
        ("agent_not_permitted", {"rule": "policy.agents.may_approve"}, "policy.agents.may_approve"),
        ("forbidden", None, "token scopes"),
        ("illegal_transition", {"from": "closed"}, "lifecycle transition table"),
        ("something_new", None, "something_new"),
    ],
)
def test_rule_names(code: str, details: Any, rule: str) -> None:
    assert rule_of(code, details) == rule


def test_refusal_text_tells_the_agent_not_to_work_around_it() -> None:
    text = refusal_text("guard_failed", "resolving needs a summary", "lifecycle guard: x")
    assert text.startswith("REFUSED by warroom (guard_failed; rule: lifecycle guard: x): ")
    assert "tell a person" in text


def test_illegal_moves_stay_conflicts_for_agents() -> None:
    state = replace(_resolved("SEV4", None), status=Status.CLOSED)
    with pytest.raises(Conflict):
        check_move(
            state, MoveRequest(target=Status.RESOLVED, by_agent=True), load_preset("default")
        )
