"""Verification after mitigation: a window of health checks run by the worker.

A successful mitigation (or a move to monitoring) starts a window of the severity's
`verification_window`; checks run every `verification.interval`. Stable to the end sets
`verification_passed`; a failing check sets `verification_regressed` and suggests a rollback.
Timeline events: `verification_started`, `verification_passed`, `verification_regressed`,
`verification_inconclusive`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warroom.core import outbox
from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import Conflict
from warroom.incidents.model import Event, IncidentState
from warroom.workbench import executors
from warroom.workbench.config import (
    HttpHealthCheck,
    RunbooksConfig,
    VerificationConfig,
    parse_health_check,
)
from warroom.workbench.schemas import ConfirmIn

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

VERIFY = "verification_check"
VERIFICATION_EVENTS = (
    "verification_started",
    "verification_passed",
    "verification_regressed",
    "verification_inconclusive",
)


class VerificationService:
    """Runs verification windows and records their outcome."""

    def __init__(self, runtime: Runtime, runbooks_config: RunbooksConfig) -> None:
        self.runtime = runtime
        self.runbooks_config = runbooks_config
        self.config: VerificationConfig = (
            runtime.config.section("verification") or VerificationConfig()
        )

    def _append(self, public_id: str, events: list[Event]) -> IncidentState:
        return self.runtime.incidents.append_events(SYSTEM, public_id, events)

    def health_checks(self, state: IncidentState) -> list[tuple[str, Any]]:
        checks: list[tuple[str, Any]] = []
        for name in state.services:
            service = self.runtime.config.service(name)
            if service is None:
                continue
            checks.extend((name, parse_health_check(raw)) for raw in service.health_checks)
        return checks

    def run_health_checks(self, state: IncidentState) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for service, check in self.health_checks(state):
            if isinstance(check, HttpHealthCheck):
                res = executors.http_check(
                    check.url,
                    expect_status=check.expect_status,
                    expect_body=check.expect_body,
                    timeout=check.timeout,
                    max_output=300,
                )
                label = check.name or check.url
            else:
                url = check.prometheus_url or self.runbooks_config.prometheus_url
                label = check.name or check.query
                if not url:
                    res = executors.StepResult(executors.ERROR, "no Prometheus configured")
                else:
                    res = executors.metric_check(
                        url,
                        check.query,
                        op=check.op,
                        threshold=check.threshold,
                        now=self.runtime.clock.now(),
                        baseline_window=check.baseline_window,
                        max_ratio=check.max_ratio,
                        timeout=check.timeout,
                    )
            results.append(
                {
                    "service": service,
                    "check": label,
                    "kind": check.kind,
                    "status": res.status,
                    "output": executors.truncate(res.output, 300),
                }
            )
        return results

    def _current_verification(self, public_id: str) -> str | None:
        current = None
        started = ("verification_started",)
        for event in self.runtime.incidents.timeline(public_id, order="recorded", types=started):
            current = str(event.data.get("verification"))
        return current

    def verify_once(self, payload: Mapping[str, Any]) -> list[Any]:
        """One check of a verification window; returns the next effects to enqueue."""
        public_id = str(payload["incident"])
        verification = str(payload["verification"])
        check_number = int(payload.get("check", 0))
        state = self.runtime.incidents.get(public_id)
        if state.status.value in ("resolved", "closed") and check_number > 0:
            return []
        now = self.runtime.clock.now()
        ends_at = datetime.fromisoformat(str(payload["ends_at"]))
        checks = self.health_checks(state)
        if check_number == 0:
            self._append(
                public_id,
                [
                    Event(
                        "verification_started",
                        SYSTEM.actor,
                        now,
                        {
                            "verification": verification,
                            "ends_at": ends_at.isoformat(),
                            "trigger": payload.get("trigger", ""),
                            "checks": [
                                {
                                    "service": s,
                                    "kind": c.kind,
                                    "check": c.name
                                    or getattr(c, "url", None)
                                    or getattr(c, "query", ""),
                                }
                                for s, c in checks
                            ],
                        },
                    )
                ],
            )
        elif self._current_verification(public_id) != verification:
            return []  # superseded by a newer window
        if not checks:
            if now >= ends_at:
                self._append(
                    public_id,
                    [
                        Event(
                            "verification_inconclusive",
                            SYSTEM.actor,
                            now,
                            {
                                "verification": verification,
                                "reason": "the affected services have no health checks; "
                                "confirm stability by hand (warroom verify confirm)",
                            },
                        )
                    ],
                )
                return []
            return [verify_effect(payload, check_number + 1, ends_at)]
        results = self.run_health_checks(state)
        failures = [r for r in results if r["status"] != executors.PASSED]
        if failures:
            self._regressed(state, verification, failures, now)
            return []
        if now >= ends_at:
            events = [
                Event(
                    "verification_passed",
                    SYSTEM.actor,
                    now,
                    {"verification": verification, "outcome": "stable", "checks": results},
                ),
                _flag(now, "verification_passed", True, "stable for the verification window"),
            ]
            if state.flags.get("verification_regressed"):
                events.append(_flag(now, "verification_regressed", False, "stable again"))
            self._append(public_id, events)
            return []
        next_due = min(now + self.config.interval, ends_at)
        return [verify_effect(payload, check_number + 1, next_due)]

    def _regressed(
        self,
        state: IncidentState,
        verification: str,
        failures: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        rollback = None
        for name in state.services:
            service = self.runtime.config.service(name)
            if service is not None and service.rollback_command:
                rollback = service.rollback_command
                break
        summary = "; ".join(f"{f['service']} {f['check']}: {f['status']}" for f in failures)
        events = [
            Event(
                "verification_regressed",
                SYSTEM.actor,
                now,
                {
                    "verification": verification,
                    "outcome": "regressed",
                    "failures": failures,
                    "commander": state.roles.get("commander"),
                    "suggestion": "rollback",
                },
            ),
            Event(
                "mitigation_suggested",
                SYSTEM.actor,
                now,
                {
                    "action": "rollback",
                    "why": f"verification regressed ({summary}): roll back immediately",
                    "command": rollback,
                },
            ),
            _flag(now, "verification_regressed", True, summary),
        ]
        if state.flags.get("verification_passed"):
            events.append(_flag(now, "verification_passed", False, "regressed"))
        self._append(state.public_id, events)
        urls = list(self.config.notify_urls)
        if urls:
            from warroom.notify.effects import notify_effect

            commander = state.roles.get("commander") or "the incident commander"
            effect = notify_effect(
                urls=urls,
                title=f"{state.public_id} regressed after mitigation",
                body=f"{summary}. Suggested: roll back immediately"
                + (f" ({rollback})" if rollback else "")
                + ".",
                recipient=commander,
                reason="verification_regressed",
                due_at=now,
                incident=state.public_id,
                dedup_key=f"verify-regressed:{state.public_id}:{verification}",
            )
            with self.runtime.db.write() as conn:
                outbox.enqueue(conn, [effect], now)

    def confirm_verification(
        self, principal: Principal, public_id: str, request: ConfirmIn
    ) -> dict[str, Any]:
        """A responder confirms stability by hand (no automated checks, or checked elsewhere)."""
        principal.require("responder")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            if state.flags.get("verification_passed"):
                raise Conflict("verification has already passed", code="no_change")
            return [
                Event(
                    "verification_passed",
                    principal.actor,
                    now,
                    {"verification": "manual", "outcome": "stable", "note": request.note},
                ),
                _flag(
                    now,
                    "verification_passed",
                    True,
                    f"confirmed by {principal.actor}",
                    actor=principal.actor,
                ),
            ]

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return {"incident": state.public_id, "verification_passed": True}

    def verification_status(self, public_id: str) -> dict[str, Any]:
        state = self.runtime.incidents.get(public_id)
        found = self.runtime.incidents.timeline(public_id, types=VERIFICATION_EVENTS)
        events = [e.to_dict() for e in found]
        window = self.runtime.policy.severity(state.severity).verification_window
        return {
            "incident": state.public_id,
            "window_seconds": window.total_seconds() if window is not None else None,
            "passed": bool(state.flags.get("verification_passed")),
            "regressed": bool(state.flags.get("verification_regressed")),
            "events": events,
        }


def _flag(
    now: datetime, flag: str, value: bool, reason: str, *, actor: str = SYSTEM.actor
) -> Event:
    return Event("flag_set", actor, now, {"flag": flag, "value": value, "reason": reason})


def verify_effect(payload: Mapping[str, Any], check: int, due_at: datetime) -> outbox.Effect:
    data = {**payload, "check": check}
    return outbox.Effect(
        VERIFY,
        data,
        due_at,
        incident_id=payload.get("incident_id"),
        dedup_key=f"verify:{payload['incident']}:{payload['verification']}:{check}",
    )
