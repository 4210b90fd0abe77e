"""Workbench use cases: runbook runs and approvals, changes and correlation, mitigations and
their suggestions, hotfixes with quality gates, and post-mitigation verification.

Executors run outside any transaction; their results are appended to the incident's
timeline in one transaction afterwards. Timeline event types (read by other packages):
`runbook_step_ran`, `approval_requested`, `approval_granted`, `mitigation_applied`,
`mitigation_suggested`, `deploy_correlated`, `hotfix_recorded`, `hotfix_gates_updated`,
`hotfix_deployed`, `follow_up_required`, `verification_started`, `verification_passed`,
`verification_regressed`, `verification_inconclusive`, and `flag_set` for
`mitigation_exhausted`, `verification_passed` and `verification_regressed`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Connection

from warroom.core import outbox, tables
from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import Conflict, Forbidden, GuardFailed, InvalidInput, NotFound
from warroom.core.guardrails import refuse_self_approval, require_agent_permission
from warroom.incidents.model import Event, IncidentState
from warroom.policy import Policy
from warroom.workbench import correlation, executors, hotfix, mitigation
from warroom.workbench import tables as wt
from warroom.workbench.config import (
    ChangesConfig,
    HttpHealthCheck,
    RunbooksConfig,
    VerificationConfig,
    parse_health_check,
)
from warroom.workbench.runbooks import (
    CommandStep,
    HttpStep,
    LoadedRunbook,
    ManualStep,
    MetricStep,
    MitigationStep,
    Problem,
    builtin_runbooks,
    check_references,
    combine,
    load_directory,
    matches,
    needs_approval,
    render,
    unresolved,
)
from warroom.workbench.schemas import (
    ApproveIn,
    ChangeIn,
    ConfirmIn,
    GateIn,
    HotfixIn,
    MitigationIn,
    RunIn,
)

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

log = logging.getLogger("warroom.workbench")

AUTO_RUN = "runbook_auto"
CORRELATE = "correlate_changes"
VERIFY = "verification_check"
VERIFICATION_EVENTS = (
    "verification_started",
    "verification_passed",
    "verification_regressed",
    "verification_inconclusive",
)
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


class Workbench:
    """The workbench's services, built once per runtime."""

    def __init__(self, runtime: Runtime, *, environ: Mapping[str, str] | None = None) -> None:
        self.runtime = runtime
        self.config: RunbooksConfig = runtime.config.section("runbooks") or RunbooksConfig()
        self.changes_config: ChangesConfig = runtime.config.section("changes") or ChangesConfig()
        self.verification_config: VerificationConfig = (
            runtime.config.section("verification") or VerificationConfig()
        )
        self.environ = dict(environ if environ is not None else os.environ)
        known = [s.name for s in runtime.config.services]
        self.catalog, self.problems = load_catalog(self.config, known)
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
        return [
            loaded
            for loaded in sorted(self.catalog.values(), key=lambda r: r.runbook.id)
            if matches(
                loaded.runbook,
                incident_type=state.type,
                services=state.services,
                labels=state.labels,
            )
        ]

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
            self._run_step(principal, state, loaded, step, request.note, automatic=automatic)
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
            self._record_mitigation(principal, state.public_id, mitigation_data, events)
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

    # ---- changes ------------------------------------------------------------------------

    def record_change(self, principal: Principal, request: ChangeIn) -> dict[str, Any]:
        if not (principal.has("responder") or principal.has("ingest")):
            principal.require("responder")
        known = [s.name for s in self.runtime.config.services]
        if known and request.service not in known:
            raise InvalidInput(
                f"unknown service {request.service!r}; known: {', '.join(known)}",
                details={"unknown_services": [request.service]},
            )
        now = self.runtime.clock.now()
        at = request.at or now
        if at > now + timedelta(minutes=5):
            raise InvalidInput("a change cannot be in the future")
        with self.runtime.db.write() as conn:
            result = conn.execute(
                insert(wt.changes).values(
                    service=request.service,
                    kind=request.kind,
                    version=request.version.strip(),
                    by=request.by.strip() or principal.actor,
                    link=request.link.strip(),
                    description=request.description,
                    occurred_at=at,
                    recorded_at=now,
                    recorded_by=principal.actor,
                )
            )
            assert result.inserted_primary_key is not None
            change_id = int(result.inserted_primary_key[0])
            # Open incidents of this service or of a service that depends on it re-correlate.
            dependents = [
                s.name for s in self.runtime.config.services if request.service in s.dependencies
            ]
            i, s = tables.incidents, tables.incident_services
            rows = conn.execute(
                select(i.c.id, i.c.public_id)
                .join(s, s.c.incident_id == i.c.id)
                .where(and_(i.c.is_open.is_(True), s.c.service.in_([request.service, *dependents])))
                .distinct()
            ).all()
            effects = [
                correlate_effect(r.public_id, int(r.id), now, f"change:{change_id}") for r in rows
            ]
            if effects:
                outbox.enqueue(conn, effects, now)
            row = conn.execute(select(wt.changes).where(wt.changes.c.id == change_id)).one()
        return _change_view(row)

    def list_changes(
        self, *, service: str | None = None, since: datetime | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        c = wt.changes
        query = select(c)
        if service:
            query = query.where(c.c.service == service)
        if since is not None:
            query = query.where(c.c.occurred_at >= since)
        query = query.order_by(c.c.occurred_at.desc(), c.c.id.desc()).limit(limit)
        with self.runtime.db.read() as conn:
            return [_change_view(r) for r in conn.execute(query).all()]

    def _dependencies(self) -> dict[str, tuple[str, ...]]:
        return {s.name: s.dependencies for s in self.runtime.config.services}

    def correlations(
        self, state: IncidentState, conn: Connection | None = None
    ) -> list[correlation.Correlation]:
        """Recent changes that may have caused the incident, best first (`conn`: read inside
        the caller's transaction)."""
        window = self.changes_config.window
        related = correlation.related_services(state.services, self._dependencies())
        if not related:
            return []
        c = wt.changes
        query = select(c).where(
            c.c.service.in_(list(related)),
            c.c.occurred_at >= state.started_at - window,
            c.c.occurred_at <= state.started_at,
        )
        if conn is None:
            with self.runtime.db.read() as own:
                rows = own.execute(query).all()
        else:
            rows = conn.execute(query).all()
        changes = [_change(r) for r in rows]
        return correlation.correlate(
            changes,
            services=state.services,
            dependencies=self._dependencies(),
            started_at=state.started_at,
            window=window,
        )

    def incident_changes(self, public_id: str) -> dict[str, Any]:
        state = self.runtime.incidents.get(public_id)
        found = self.correlations(state)
        return {
            "incident": state.public_id,
            "started_at": state.started_at.isoformat(),
            "window": self.changes_config.window.total_seconds(),
            "changes": [c.to_dict() for c in found],
        }

    def correlate_onto_timeline(self, public_id: str) -> int:
        """Put the best new correlations on the timeline as `deploy_correlated` events."""
        with self.runtime.db.write() as conn:
            return self.correlate_in(conn, public_id)

    def correlate_in(self, conn: Connection, public_id: str) -> int:
        """`correlate_onto_timeline` inside the caller's transaction; returns events added."""
        loaded = self.runtime.incidents.load_in(conn, public_id, lock=True)
        if not loaded.state.is_open:
            return 0
        found = [
            c
            for c in self.correlations(loaded.state, conn)
            if c.score >= self.changes_config.min_score
        ][: self.changes_config.max_on_timeline]
        if not found:
            return 0
        e = tables.events
        seen = {
            (data or {}).get("change_id")
            for data in conn.execute(
                select(e.c.data).where(
                    e.c.incident_id == loaded.id, e.c.type == "deploy_correlated"
                )
            ).scalars()
        }
        now = self.runtime.clock.now()
        events = [
            Event("deploy_correlated", SYSTEM.actor, now, c.to_dict())
            for c in found
            if c.change.id not in seen
        ]
        self.runtime.incidents.append_in(conn, loaded, events)
        return len(events)

    # ---- mitigations ------------------------------------------------------------------

    def _tried(self, public_id: str) -> dict[str, str]:
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
            for c in self.correlations(state)
            if c.score >= self.changes_config.min_score
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
        rollback = None
        for name in state.services:
            service = self.runtime.config.service(name)
            if service is not None and service.rollback_command:
                rollback = service.rollback_command
                break
        found = mitigation.suggest(signals, rollback_command=rollback, tried=tried, tree=tree)
        return signals, found

    def suggestions(self, public_id: str, explicit: Sequence[str] = ()) -> dict[str, Any]:
        tree = mitigation.tree_from_policy(self.runtime.policy.mitigation_tree)
        known = list(dict.fromkeys([*mitigation.SIGNALS, *(rule.signal for rule in tree)]))
        unknown = sorted(set(explicit) - set(known))
        if unknown:
            raise InvalidInput(
                f"unknown signal(s) {', '.join(unknown)}; signals are {', '.join(known)}"
            )
        state = self.runtime.incidents.get(public_id)
        tried = self._tried(public_id)
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
        data = {
            "action": request.action,
            "outcome": request.outcome,
            "description": request.description,
            "source": "manual",
            "by": principal.actor,
        }
        state = self._record_mitigation(principal, public_id, data, [])
        return {
            "incident": state.public_id,
            "mitigation": data,
            "mitigation_exhausted": bool(state.flags.get("mitigation_exhausted")),
        }

    def _record_mitigation(
        self,
        principal: Principal,
        public_id: str,
        data: dict[str, Any],
        leading: list[Event],
    ) -> IncidentState:
        def build(state: IncidentState, now: datetime) -> list[Event]:
            events = [*leading, Event("mitigation_applied", principal.actor, now, data)]
            tried = self._tried(public_id)
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
            elif flagged and data["outcome"] == "succeeded":
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
            return events

        return self.runtime.incidents.mutate(principal, public_id, build)

    # ---- hotfixes -----------------------------------------------------------------------

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
        state = self._record_mitigation(principal, public_id, mitigation_data, [])
        return self._hotfix_view(state, self._hotfixes(public_id)[name])

    # ---- verification -----------------------------------------------------------------

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
                url = check.prometheus_url or self.config.prometheus_url
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
                SYSTEM,
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
                    SYSTEM,
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
            self._append(SYSTEM, public_id, events)
            return []
        next_due = min(now + self.verification_config.interval, ends_at)
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
        self._append(SYSTEM, state.public_id, events)
        urls = list(self.verification_config.notify_urls)
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
            "window_seconds": window.total_seconds() if window else None,
            "passed": bool(state.flags.get("verification_passed")),
            "regressed": bool(state.flags.get("verification_regressed")),
            "events": events,
        }


def _masked(step: dict[str, Any]) -> dict[str, Any]:
    """A step for display: header and fixed environment values hidden (they may be secrets)."""
    for key in ("headers", "env"):
        if step.get(key):
            step[key] = {name: "***" for name in step[key]}
    return step


def _flag(
    now: datetime, flag: str, value: bool, reason: str, *, actor: str = SYSTEM.actor
) -> Event:
    return Event("flag_set", actor, now, {"flag": flag, "value": value, "reason": reason})


def _change(row: Any) -> correlation.Change:
    return correlation.Change(
        id=int(row.id),
        service=row.service,
        kind=row.kind,
        version=row.version,
        at=row.occurred_at,
        by=row.by,
        link=row.link,
        description=row.description,
    )


def _change_view(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "service": row.service,
        "kind": row.kind,
        "version": row.version,
        "by": row.by,
        "link": row.link,
        "description": row.description,
        "at": row.occurred_at.isoformat(),
        "recorded_at": row.recorded_at.isoformat(),
        "recorded_by": row.recorded_by,
    }


def correlate_effect(public_id: str, incident_id: int, now: datetime, why: str) -> outbox.Effect:
    return outbox.Effect(
        CORRELATE,
        {"incident": public_id},
        now,
        incident_id=incident_id,
        dedup_key=f"correlate:{public_id}:{why}",
    )


def verify_effect(payload: Mapping[str, Any], check: int, due_at: datetime) -> outbox.Effect:
    data = {**payload, "check": check}
    return outbox.Effect(
        VERIFY,
        data,
        due_at,
        incident_id=payload.get("incident_id"),
        dedup_key=f"verify:{payload['incident']}:{payload['verification']}:{check}",
    )


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
