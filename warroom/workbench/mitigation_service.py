"""Mitigations: suggestions from the policy's decision tree, outcomes, exhaustion.

A mitigation tried is a `mitigation_applied` event; the latest outcome per action counts. When
every suggested option was tried and failed, the `mitigation_exhausted` flag is set (and
cleared again by a later success).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import InvalidInput
from warroom.incidents.model import Event, IncidentState
from warroom.workbench import mitigation
from warroom.workbench.change_service import ChangeService
from warroom.workbench.schemas import MitigationIn

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime


class MitigationService:
    """Suggests mitigations and records their outcomes."""

    def __init__(self, runtime: Runtime, changes: ChangeService) -> None:
        self.runtime = runtime
        self.changes = changes

    def tried(self, public_id: str) -> dict[str, str]:
        """The latest outcome per mitigation action tried on the incident."""
        return mitigation.latest_outcomes(
            e.data
            for e in self.runtime.incidents.timeline(
                public_id, order="recorded", types=("mitigation_applied",)
            )
        )

    def _suggestions(
        self, state: IncidentState, tried: Mapping[str, str], explicit: Iterable[str] = ()
    ) -> tuple[mitigation.Signals, list[mitigation.Suggestion]]:
        triage = state.triage or {}
        answers = triage.get("answers", {}) if isinstance(triage, Mapping) else {}
        correlations = [
            c.to_dict()
            for c in self.changes.correlations(state)
            if c.score >= self.changes.config.min_score
        ]
        tree = mitigation.tree_from_policy(self.runtime.policy.mitigation_tree)
        signals = mitigation.derive_signals(
            incident_type=state.type,
            flags=state.flags,
            triage_answers=answers,
            correlations=correlations,
            explicit=explicit,
            tree=tree,
        )
        found = mitigation.suggest(
            signals, rollback_command=self.rollback_command(state), tried=tried, tree=tree
        )
        return signals, found

    def rollback_command(self, state: IncidentState) -> str | None:
        """The first affected service's rollback command from the catalog."""
        for name in state.services:
            service = self.runtime.config.service(name)
            if service is not None and service.rollback_command:
                return service.rollback_command
        return None

    def suggestions(self, public_id: str, explicit: Sequence[str] = ()) -> dict[str, Any]:
        tree = mitigation.tree_from_policy(self.runtime.policy.mitigation_tree)
        known = list(dict.fromkeys([*mitigation.SIGNALS, *(rule.signal for rule in tree)]))
        unknown = sorted(set(explicit) - set(known))
        if unknown:
            raise InvalidInput(
                f"unknown signal(s) {', '.join(unknown)}; signals are {', '.join(known)}"
            )
        state = self.runtime.incidents.get(public_id)
        tried = self.tried(public_id)
        signals, found = self._suggestions(state, tried, explicit)
        return {
            "incident": state.public_id,
            "signals": dict(signals.present),
            "suggestions": [s.to_dict() for s in found],
            "tried": tried,
            "exhausted": mitigation.exhausted(found, tried),
        }

    def record_mitigation(
        self, principal: Principal, public_id: str, request: MitigationIn
    ) -> dict[str, Any]:
        principal.require("responder")
        if request.action == "config_change" and not request.description.strip():
            # Seed 001: never modify production configuration without documenting the change.
            raise InvalidInput(
                "a config change is recorded with what was changed (description)",
                code="description_required",
            )
        data = {
            "action": request.action,
            "outcome": request.outcome,
            "description": request.description,
            "source": "manual",
            "by": principal.actor,
        }
        state = self.record(principal, public_id, data, [])
        result: dict[str, Any] = {
            "incident": state.public_id,
            "mitigation": data,
            "mitigation_exhausted": bool(state.flags.get("mitigation_exhausted")),
        }
        if request.outcome == "failed":
            untried = [
                s for s in self.suggestions(public_id)["suggestions"] if s["outcome"] is None
            ]
            result["next_option"] = untried[0] if untried else None
        return result

    def record(
        self,
        principal: Principal,
        public_id: str,
        data: dict[str, Any],
        leading: list[Event],
    ) -> IncidentState:
        """Append `leading` events and a `mitigation_applied` with `data`, and (un)set the
        exhaustion flag, in one transaction."""

        def build(state: IncidentState, now: datetime) -> list[Event]:
            events = [*leading, Event("mitigation_applied", principal.actor, now, data)]
            tried = self.tried(public_id)
            tried[str(data["action"])] = str(data["outcome"])
            _, found = self._suggestions(state, tried)
            is_exhausted = mitigation.exhausted(found, tried)
            flagged = bool(state.flags.get("mitigation_exhausted"))
            if is_exhausted and not flagged:
                events.append(
                    Event(
                        "flag_set",
                        SYSTEM.actor,
                        now,
                        {
                            "flag": "mitigation_exhausted",
                            "value": True,
                            "reason": "every suggested mitigation was tried and failed: "
                            + ", ".join(s.action for s in found),
                        },
                    )
                )
            elif data["outcome"] == "failed" and (following := mitigation.next_option(found)):
                # An alternative is left: tell the commander which one to try next.
                why = f"{data['action']} failed; next option: {following.action} ({following.why})"
                events.append(
                    Event(
                        "mitigation_next_option",
                        SYSTEM.actor,
                        now,
                        {"failed": data["action"], "next": following.action, "why": why},
                    )
                )
                events.append(
                    Event(
                        "flag_set",
                        SYSTEM.actor,
                        now,
                        {"flag": "mitigation_failed", "value": True, "reason": why},
                    )
                )
            if flagged and data["outcome"] == "succeeded":
                events.append(
                    Event(
                        "flag_set",
                        SYSTEM.actor,
                        now,
                        {
                            "flag": "mitigation_exhausted",
                            "value": False,
                            "reason": f"{data['action']} succeeded",
                        },
                    )
                )
            if state.flags.get("mitigation_failed") and data["outcome"] == "succeeded":
                reason = f"{data['action']} succeeded"
                events.append(
                    Event(
                        "flag_set",
                        SYSTEM.actor,
                        now,
                        {"flag": "mitigation_failed", "value": False, "reason": reason},
                    )
                )
            return events

        return self.runtime.incidents.mutate(principal, public_id, build)
