"""Hotfixes: recorded with their quality gates, deployed only when the gates allow it.

Timeline events: `hotfix_recorded`, `hotfix_gates_updated`, `hotfix_deployed`, and
`follow_up_required` for every gate skipped for now.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warroom.agents.guardrails import refuse_self_approval, require_agent_permission
from warroom.core.auth import Principal
from warroom.core.errors import Conflict, GuardFailed, InvalidInput, NotFound
from warroom.incidents.model import Event, IncidentState
from warroom.policy import Policy
from warroom.workbench import hotfix
from warroom.workbench.mitigation_service import MitigationService
from warroom.workbench.schemas import GateIn, HotfixIn

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime


class HotfixService:
    """The hotfix protocol: gates per severity, the deploy guard, follow-ups."""

    def __init__(self, runtime: Runtime, mitigations: MitigationService) -> None:
        self.runtime = runtime
        self.mitigations = mitigations

    def _hotfixes(self, public_id: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for event in self.runtime.incidents.timeline(public_id, order="recorded"):
            data = event.data
            name = str(data.get("hotfix", ""))
            if event.type == "hotfix_recorded":
                found[name] = {
                    "hotfix": name,
                    "author": data.get("author", ""),
                    "description": data.get("description", ""),
                    "link": data.get("link", ""),
                    "answers": dict(data.get("answers", {})),
                    "deployed": False,
                    "followed_up": set(),
                }
            elif event.type == "hotfix_gates_updated" and name in found:
                found[name]["answers"].update(data.get("answers", {}))
            elif event.type == "hotfix_deployed" and name in found:
                found[name]["deployed"] = True
            elif (
                event.type == "follow_up_required"
                and data.get("source") == "hotfix_gate"
                and name in found
            ):
                found[name]["followed_up"].add(data.get("gate"))
        return found

    def _gate_rules(self, state: IncidentState) -> dict[str, str]:
        return dict(self.runtime.policy.severity(state.severity).hotfix_gates)

    def _evaluate(
        self, state: IncidentState, answers: Mapping[str, Any], author: str
    ) -> list[hotfix.GateResult]:
        try:
            return hotfix.evaluate(self._gate_rules(state), answers, author=author)
        except hotfix.GateProblem as exc:
            raise InvalidInput(str(exc), code="hotfix_gate") from None

    def _hotfix_view(self, state: IncidentState, entry: Mapping[str, Any]) -> dict[str, Any]:
        results = self._evaluate(state, entry["answers"], str(entry["author"]))
        return {
            "hotfix": entry["hotfix"],
            "author": entry["author"],
            "description": entry["description"],
            "link": entry["link"],
            "severity": state.severity,
            "gates": [r.to_dict() for r in results],
            "deploy_blockers": hotfix.deploy_blockers(results, str(entry["author"])),
            "deployed": entry["deployed"],
        }

    def list_hotfixes(self, public_id: str) -> list[dict[str, Any]]:
        state = self.runtime.incidents.get(public_id)
        return [self._hotfix_view(state, h) for h in self._hotfixes(public_id).values()]

    def record_hotfix(
        self, principal: Principal, public_id: str, request: HotfixIn
    ) -> dict[str, Any]:
        """Record a hotfix and run its quality gates; skipped gates become follow-ups."""
        principal.require("responder")
        answers = {k: v.model_dump() for k, v in request.gates.items()}
        _guard_agent_review(self.runtime.policy, principal, answers, request.author)

        def build(state: IncidentState, now: datetime) -> list[Event]:
            if request.name in self._hotfixes(public_id):
                raise Conflict(f"hotfix {request.name} is already recorded", code="duplicate")
            results = self._evaluate(state, answers, request.author)
            data = {
                "hotfix": request.name,
                "author": request.author.strip(),
                "description": request.description,
                "link": request.link,
                "answers": answers,
                "gates": [r.to_dict() for r in results],
            }
            events = [Event("hotfix_recorded", principal.actor, now, data)]
            events += [
                Event("follow_up_required", principal.actor, now, item)
                for item in hotfix.follow_ups(results, request.name)
            ]
            return events

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return self._hotfix_view(state, self._hotfixes(public_id)[request.name])

    def update_gates(
        self, principal: Principal, public_id: str, name: str, request: GateIn
    ) -> dict[str, Any]:
        principal.require("responder")
        answers = {k: v.model_dump() for k, v in request.gates.items()}

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None:
                raise NotFound(f"no hotfix {name} on {public_id}")
            if entry["deployed"]:
                raise Conflict(f"hotfix {name} is already deployed", code="already_deployed")
            _guard_agent_review(self.runtime.policy, principal, answers, str(entry["author"]))
            merged = {**entry["answers"], **answers}
            results = self._evaluate(state, merged, str(entry["author"]))
            events = [
                Event(
                    "hotfix_gates_updated",
                    principal.actor,
                    now,
                    {"hotfix": name, "answers": answers, "gates": [r.to_dict() for r in results]},
                )
            ]
            events += [
                Event("follow_up_required", principal.actor, now, item)
                for item in hotfix.follow_ups(results, name)
                if item["gate"] not in entry["followed_up"]
            ]
            return events

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return self._hotfix_view(state, self._hotfixes(public_id)[name])

    def deploy_hotfix(self, principal: Principal, public_id: str, name: str) -> dict[str, Any]:
        """Refused unless reviewed by someone other than its author and the gates allow it."""
        principal.require("responder")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None:
                raise NotFound(f"no hotfix {name} on {public_id}")
            if entry["deployed"]:
                raise Conflict(f"hotfix {name} is already deployed", code="already_deployed")
            author = str(entry["author"])
            results = self._evaluate(state, entry["answers"], author)
            blockers = hotfix.deploy_blockers(results, author)
            if blockers:
                raise GuardFailed(
                    f"hotfix {name} cannot be deployed: " + "; ".join(blockers),
                    code="hotfix_gates",
                    details={"blockers": blockers, "gates": [r.to_dict() for r in results]},
                )
            review = next(r for r in results if r.gate == "review")
            data = {
                "hotfix": name,
                "author": author,
                "reviewed_by": review.by,
                "gates": [r.to_dict() for r in results],
            }
            return [Event("hotfix_deployed", principal.actor, now, data)]

        self.runtime.incidents.mutate(principal, public_id, build)
        mitigation_data = {
            "action": "hotfix",
            "outcome": "pending",
            "description": f"hotfix {name} deployed",
            "source": "hotfix",
            "hotfix": name,
            "by": principal.actor,
        }
        state = self.mitigations.record(principal, public_id, mitigation_data, [])
        return self._hotfix_view(state, self._hotfixes(public_id)[name])


def _guard_agent_review(
    policy: Policy, principal: Principal, answers: dict[str, Any], author: str
) -> None:
    """An agent's hotfix review: only with the policy's permission, in its own name, and never
    of its own hotfix (enforced here, not left to the prompt)."""
    review = answers.get("review")
    if not principal.is_agent or not review or review.get("status") != "passed":
        return
    require_agent_permission(principal, policy, "may_approve", "review a hotfix")
    if author.strip() in (principal.actor, principal.actor.removeprefix("agent:")):
        refuse_self_approval(principal, principal.actor, "hotfix")
    review["by"] = principal.actor  # an agent cannot sign a review with someone else's name
