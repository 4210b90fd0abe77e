"""Runbook use cases: the catalog, matching, step runs and second-person approvals.

Executors run outside any transaction; their results are appended to the incident's timeline
afterwards. Timeline events: `runbook_step_ran`, `approval_requested`, `approval_granted`; a
mitigation step also records `mitigation_applied` (through the mitigation service).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from warroom.core.guardrails import require_agent_permission
from warroom.incidents.model import Event, IncidentState
from warroom.workbench import executors
from warroom.workbench.config import HttpHealthCheck, RunbooksConfig, parse_health_check
from warroom.workbench.mitigation_service import MitigationService
from warroom.workbench.runbooks import (
    CommandStep,
    DiagnosisStep,
    HttpStep,
    LoadedRunbook,
    ManualStep,
    MetricStep,
    MitigationStep,
    Problem,
    RunbookTest,
    builtin_runbooks,
    check_references,
    combine,
    is_fallback,
    load_directory,
    match_test,
    needs_approval,
    render,
    unresolved,
)
from warroom.workbench.schemas import ApproveIn, RunIn

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

log = logging.getLogger("warroom.workbench")

AUTO_RUN = "runbook_auto"
OUTPUT_LIMIT = 4000


def load_catalog(
    config: RunbooksConfig, known_services: Iterable[str] = ()
) -> tuple[dict[str, LoadedRunbook], list[Problem]]:
    """Built-ins plus the config directory's runbooks, and every problem found."""
    user: list[LoadedRunbook] = []
    problems: list[Problem] = []
    if config.dir is not None:
        user, problems = load_directory(Path(config.dir))
    catalog, more = combine(builtin_runbooks(), user)
    problems.extend(more)
    problems.extend(check_references(catalog, known_services))
    return catalog, problems


@dataclass
class _Approval:
    requested_by: str
    approved_by: str | None = None


class RunbookService:
    """The runbook catalog and its runs on incidents."""

    def __init__(
        self,
        runtime: Runtime,
        mitigations: MitigationService,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.runtime = runtime
        self.mitigations = mitigations
        self.config: RunbooksConfig = runtime.config.section("runbooks") or RunbooksConfig()
        self.environ = dict(environ if environ is not None else os.environ)
        known = [s.name for s in runtime.config.services]
        self.catalog, self.problems = load_catalog(self.config, known)
        self._tests: list[tuple[LoadedRunbook, RunbookTest]] = []
        self._tests_of: dict[str, LoadedRunbook] | None = None
        for problem in self.problems:
            log.warning("runbook problem: %s %s: %s", problem.source, problem.path, problem.message)

    # ---- runbooks: reads ----------------------------------------------------------------

    def list_runbooks(self) -> list[dict[str, Any]]:
        return [self._summary(r) for r in sorted(self.catalog.values(), key=lambda r: r.runbook.id)]

    def runbook(self, runbook_id: str) -> LoadedRunbook:
        loaded = self.catalog.get(runbook_id.strip())
        if loaded is None:
            raise NotFound(
                f"no runbook {runbook_id!r}; known: {', '.join(sorted(self.catalog))}",
            )
        return loaded

    def show(self, runbook_id: str) -> dict[str, Any]:
        loaded = self.runbook(runbook_id)
        data = self._summary(loaded)
        data["description"] = loaded.runbook.description
        data["steps"] = [
            {
                **_masked(step.model_dump(mode="json")),
                "number": n,
                "needs_approval": needs_approval(step) or step.kind == "approval",
            }
            for n, step in enumerate(loaded.runbook.steps, start=1)
        ]
        return data

    def matching(self, state: IncidentState) -> list[LoadedRunbook]:
        """Runbooks matching the incident's type, services, labels and the policy in force;
        the generic troubleshooting runbooks when none does."""
        if self._tests_of is not self.catalog:  # prepared once per catalog
            self._tests = [
                (loaded, match_test(loaded.runbook))
                for loaded in sorted(self.catalog.values(), key=lambda r: r.runbook.id)
            ]
            self._tests_of = self.catalog
        policy = self.runtime.policy.name
        found = [
            loaded
            for loaded, test in self._tests
            if test(state.type, state.services, state.labels, policy)
        ]
        return found or [loaded for loaded, _ in self._tests if is_fallback(loaded.runbook)]

    def runnable_automatic(self, loaded: LoadedRunbook, state: IncidentState) -> list[str]:
        """The automatic steps that can run for this incident now (executor allowed, every
        variable known, Prometheus configured)."""
        variables = self._variables(state)
        runnable: list[str] = []
        for step in loaded.runbook.steps:
            if not step.automatic:
                continue
            if isinstance(step, CommandStep):
                ok = self._command_allowed(loaded.runbook.id) and not unresolved(
                    step.command, variables
                )
            elif isinstance(step, HttpStep):
                ok = not unresolved(step.url, variables)
            elif isinstance(step, MetricStep):
                ok = bool(step.prometheus_url or self.config.prometheus_url) and not unresolved(
                    step.query, variables
                )
            else:
                ok = True
            if ok:
                runnable.append(step.id)
        return runnable

    def _summary(self, loaded: LoadedRunbook) -> dict[str, Any]:
        runbook = loaded.runbook
        return {
            "id": runbook.id,
            "title": runbook.title,
            "source": loaded.source,
            "builtin": loaded.builtin,
            "match": runbook.match.model_dump(mode="json"),
            "steps": len(runbook.steps),
            "automatic_steps": [s.id for s in runbook.steps if s.automatic],
            "command_executor": self._command_allowed(runbook.id),
        }

    def _command_allowed(self, runbook_id: str) -> bool:
        executor = self.config.command_executor
        return executor.enabled and runbook_id in executor.allow_runbooks

    # ---- runbooks: runs -----------------------------------------------------------------

    def run(
        self, principal: Principal, public_id: str, runbook_id: str, request: RunIn
    ) -> dict[str, Any]:
        """Run one step (by number or id), or the runbook's automatic steps."""
        principal.require("responder")
        loaded = self.runbook(runbook_id)
        state = self.runtime.incidents.get(public_id)
        if request.step is None:
            steps = [s for s in loaded.runbook.steps if s.automatic]
            if not steps:
                raise InvalidInput(
                    f"runbook {loaded.runbook.id} has no automatic steps; give --step N"
                )
        else:
            try:
                steps = [loaded.runbook.step(request.step)]
            except KeyError:
                raise NotFound(
                    f"runbook {loaded.runbook.id} has no step {request.step!r} "
                    f"(1-{len(loaded.runbook.steps)} or a step id)"
                ) from None
        automatic = request.step is None
        results = [
            self._run_step(
                principal,
                state,
                loaded,
                step,
                request.note,
                automatic=automatic,
                diagnosis=request.diagnosis.model_dump() if request.diagnosis else None,
            )
            for step in steps
        ]
        return {"incident": state.public_id, "runbook": loaded.runbook.id, "results": results}

    def run_automatic(self, public_id: str, runbook_id: str) -> list[dict[str, Any]]:
        """The worker's run of a matching runbook's automatic steps (as warroom), skipping
        steps an earlier attempt already ran (a lapsed lease must not run them twice)."""
        loaded = self.runbook(runbook_id)
        state = self.runtime.incidents.get(public_id)
        done = {
            str(e.data.get("step"))
            for e in self.runtime.incidents.timeline(public_id, order="recorded")
            if e.type in ("runbook_step_ran", "approval_requested")
            and e.data.get("runbook") == runbook_id
            and e.data.get("automatic")
        }
        return [
            self._run_step(SYSTEM, state, loaded, step, None, automatic=True)
            for step in loaded.runbook.steps
            if step.automatic and step.id not in done
        ]

    def _variables(self, state: IncidentState) -> dict[str, str]:
        variables = {
            "incident": state.public_id,
            "severity": state.severity,
            "services": ",".join(state.services),
        }
        if state.services:
            variables["service"] = state.services[0]
        for name in state.services:
            service = self.runtime.config.service(name)
            if service is None:
                continue
            if service.rollback_command and "rollback_command" not in variables:
                variables["rollback_command"] = service.rollback_command
            for raw in service.health_checks:
                check = parse_health_check(raw)
                if isinstance(check, HttpHealthCheck) and "health_url" not in variables:
                    variables["health_url"] = check.url
        return variables

    def _approvals(self, public_id: str) -> dict[tuple[str, str], _Approval]:
        approvals: dict[tuple[str, str], _Approval] = {}
        for event in self.runtime.incidents.timeline(public_id, order="recorded"):
            data = event.data
            key = (str(data.get("runbook", "")), str(data.get("step", "")))
            if event.type == "approval_requested":
                approvals[key] = _Approval(str(data.get("requested_by", event.actor)))
            elif event.type == "approval_granted" and key in approvals:
                approvals[key].approved_by = str(data.get("approved_by", event.actor))
            elif (
                event.type == "runbook_step_ran"
                and data.get("approved_by")
                and data.get("kind") != "approval"
            ):
                approvals.pop(key, None)  # an approval is used up by the run it allowed
        return approvals

    def _run_step(
        self,
        principal: Principal,
        state: IncidentState,
        loaded: LoadedRunbook,
        step: Any,
        note: str | None,
        *,
        automatic: bool,
        diagnosis: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        runbook = loaded.runbook
        base: dict[str, Any] = {
            "runbook": runbook.id,
            "step": step.id,
            "step_number": runbook.number_of(step.id),
            "title": step.title,
            "kind": step.kind,
            "by": principal.actor,
            "automatic": automatic,
        }
        approved_by: str | None = None
        if step.kind == "approval" or needs_approval(step):
            entry = self._approvals(state.public_id).get((runbook.id, step.id))
            if entry is None or entry.approved_by is None:
                if entry is None:
                    self._append(
                        principal,
                        state.public_id,
                        [
                            Event(
                                "approval_requested",
                                principal.actor,
                                self.runtime.clock.now(),
                                {**base, "requested_by": principal.actor, "note": note or ""},
                            )
                        ],
                    )
                requester = entry.requested_by if entry else principal.actor
                return {
                    **base,
                    "status": "awaiting_approval",
                    "output": f"needs approval by a responder other than {requester}: "
                    f"warroom runbook approve {state.public_id} {runbook.id} --step {step.id}",
                }
            if step.kind == "approval":
                return {**base, "status": "approved", "approved_by": entry.approved_by}
            approved_by = entry.approved_by
        if isinstance(step, DiagnosisStep):
            if automatic:
                return {**base, "status": "skipped", "output": "a diagnosis needs a person"}
            if diagnosis is None:
                raise InvalidInput(
                    f"step {step.id} is a structured diagnosis: give the root-cause hypothesis, "
                    "the evidence and your confidence (low, medium, high)",
                    code="diagnosis_required",
                )
            now = self.runtime.clock.now()
            data = {**base, "status": "done", "output": "", "diagnosis": diagnosis}
            self._append(
                principal,
                state.public_id,
                [
                    Event("runbook_step_ran", principal.actor, now, data),
                    Event(
                        "diagnosis_recorded",
                        principal.actor,
                        now,
                        {**diagnosis, "runbook": runbook.id, "step": step.id},
                    ),
                ],
            )
            return data
        result = self._execute(principal, state, loaded, step, note, automatic=automatic)
        data = {**base, **result}
        if approved_by:
            data["approved_by"] = approved_by
        if note and "note" not in data:
            data["note"] = note
        now = self.runtime.clock.now()
        events = [Event("runbook_step_ran", principal.actor, now, data)]
        if isinstance(step, MitigationStep):
            mitigation_data = {
                "action": step.action,
                "outcome": result.pop("mitigation_outcome", "pending"),
                "description": step.description or step.title,
                "source": "runbook",
                "runbook": runbook.id,
                "step": step.id,
                "by": principal.actor,
            }
            data.pop("mitigation_outcome", None)
            self.mitigations.record(principal, state.public_id, mitigation_data, events)
        else:
            self._append(principal, state.public_id, events)
        return data

    def _execute(
        self,
        principal: Principal,
        state: IncidentState,
        loaded: LoadedRunbook,
        step: Any,
        note: str | None,
        *,
        automatic: bool,
    ) -> dict[str, Any]:
        runbook_id = loaded.runbook.id
        variables = self._variables(state)

        def not_possible(message: str, code: str = "step_not_runnable") -> dict[str, Any]:
            if automatic:
                return {"status": "skipped", "output": message}
            raise InvalidInput(message, code=code)

        if isinstance(step, ManualStep):
            return {"status": "done", "output": "", "note": note or ""}
        if isinstance(step, CommandStep):
            if not self._command_allowed(runbook_id):
                message = self._executor_refusal(runbook_id)
                if automatic:
                    return {"status": "skipped", "output": message}
                raise Forbidden(message, code="executor_disabled")
            missing = unresolved(step.command, variables)
            if missing:
                return not_possible(f"the command needs {', '.join(missing)}")
            env = executors.command_env(
                (*self.config.command_executor.env_allow, *step.env_allow), step.env, self.environ
            )
            limit = min(step.max_output, self.config.command_executor.max_output)
            res = executors.run_command(
                render(step.command, variables),
                timeout=step.timeout,
                cwd=render(step.cwd, variables) if step.cwd else None,
                env=env,
                max_output=limit,
            )
            return {"status": res.status, "output": res.output, "details": res.details}
        if isinstance(step, HttpStep):
            missing = unresolved(step.url, variables)
            if missing:
                return not_possible(
                    f"the URL needs {', '.join(missing)} (give the service an http health "
                    "check in the catalog)"
                )
            res = executors.http_check(
                render(step.url, variables),
                method=step.method,
                expect_status=step.expect_status,
                expect_body=step.expect_body,
                timeout=step.timeout,
                headers=step.headers,
                body=step.body,
                max_output=OUTPUT_LIMIT // 2,
            )
            return {"status": res.status, "output": res.output, "details": res.details}
        if isinstance(step, MetricStep):
            url = step.prometheus_url or self.config.prometheus_url
            if not url:
                return not_possible("no Prometheus configured (runbooks.prometheus_url)")
            missing = unresolved(step.query, variables)
            if missing:
                return not_possible(f"the query needs {', '.join(missing)}")
            res = executors.metric_check(
                url,
                render(step.query, variables),
                op=step.op,
                threshold=step.threshold,
                now=self.runtime.clock.now(),
                baseline_window=step.baseline_window,
                max_ratio=step.max_ratio,
                timeout=step.timeout,
            )
            return {"status": res.status, "output": res.output, "details": res.details}
        if isinstance(step, MitigationStep):
            command = step.command
            if command is None and step.action == "rollback":
                command = variables.get("rollback_command")
            if command is None:
                return {
                    "status": "recorded",
                    "output": f"{step.action} to be carried out by a responder",
                    "mitigation_outcome": "pending",
                }
            if not self._command_allowed(runbook_id):
                return {
                    "status": "recorded",
                    "output": f"{self._executor_refusal(runbook_id)}; run it by hand: "
                    + executors.truncate(render(command, variables), 500),
                    "mitigation_outcome": "pending",
                }
            res = executors.run_command(
                render(command, variables),
                timeout=step.timeout,
                env=executors.command_env(self.config.command_executor.env_allow, {}, self.environ),
                max_output=self.config.command_executor.max_output,
            )
            return {
                "status": res.status,
                "output": res.output,
                "details": res.details,
                "mitigation_outcome": "succeeded" if res.ok else "failed",
            }
        raise InvalidInput(f"step kind {step.kind} cannot run")  # pragma: no cover

    def _executor_refusal(self, runbook_id: str) -> str:
        if not self.config.command_executor.enabled:
            return (
                "the command executor is disabled (set runbooks.command_executor.enabled "
                "in the config file)"
            )
        return (
            f"runbook {runbook_id} is not allow-listed for commands "
            "(runbooks.command_executor.allow_runbooks)"
        )

    def approve(
        self, principal: Principal, public_id: str, runbook_id: str, request: ApproveIn
    ) -> dict[str, Any]:
        """A second responder approves a dangerous step or an approval step."""
        principal.require("responder")
        require_agent_permission(
            principal, self.runtime.policy, "may_approve", "approve a runbook step"
        )
        loaded = self.runbook(runbook_id)
        try:
            step = loaded.runbook.step(request.step)
        except KeyError:
            raise NotFound(f"runbook {loaded.runbook.id} has no step {request.step!r}") from None
        if not (step.kind == "approval" or needs_approval(step)):
            raise InvalidInput(f"step {step.id} does not need an approval")
        key = (loaded.runbook.id, step.id)

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._approvals(public_id).get(key)
            if entry is None:
                raise Conflict(
                    f"no approval is requested for {key[0]} step {step.id}; run the step first",
                    code="no_approval_requested",
                )
            if entry.approved_by is not None:
                raise Conflict(
                    f"step {step.id} is already approved by {entry.approved_by}", code="no_change"
                )
            if entry.requested_by.casefold() == principal.actor.casefold():
                raise Forbidden(
                    f"{principal.actor} requested this approval; a second responder must approve",
                    code="self_approval",
                    details={"rule": "no_self_approval", "actor": principal.actor},
                )
            data = {
                "runbook": key[0],
                "step": step.id,
                "step_number": loaded.runbook.number_of(step.id),
                "title": step.title,
                "kind": step.kind,
                "requested_by": entry.requested_by,
                "approved_by": principal.actor,
                "note": request.note or "",
            }
            events = [Event("approval_granted", principal.actor, now, data)]
            if step.kind == "approval":
                ran = {**data, "status": "approved", "by": principal.actor, "automatic": False}
                ran["output"] = ""
                events.append(Event("runbook_step_ran", principal.actor, now, ran))
            return events

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return {"incident": state.public_id, "runbook": key[0], "step": step.id, "approved": True}

    def _append(self, principal: Principal, public_id: str, events: list[Event]) -> IncidentState:
        return self.runtime.incidents.append_events(principal, public_id, events)


def _masked(step: dict[str, Any]) -> dict[str, Any]:
    """A step for display: header and fixed environment values hidden (they may be secrets)."""
    for key in ("headers", "env"):
        if step.get(key):
            step[key] = {name: "***" for name in step[key]}
    return step
