"""Hotfixes: recorded with their quality gates, deployed only when the gates allow it.

Timeline events: `hotfix_recorded`, `hotfix_gates_updated`, `hotfix_deployed`, and
`follow_up_required` for every gate skipped for now. The emergency pull request:
`hotfix_pr_requested` (a person asked for it; the worker opens it on GitHub through the
outbox), `hotfix_pr_opened`, `hotfix_pr_labelled`, `hotfix_pr_failed` (with GitHub's reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import Conflict, Forbidden, GuardFailed, InvalidInput, NotFound
from warroom.core.guardrails import require_agent_permission
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.people import person_of, same_person
from warroom.workbench import github_pr, hotfix
from warroom.workbench.config import EmergencyPrConfig, GitHubPrSettings
from warroom.workbench.mitigation_service import MitigationService
from warroom.workbench.schemas import GateIn, HotfixIn, PullRequestIn, ReviewIn, RolloutIn

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
                    "recorded_by": event.actor,
                    "recorded_at": event.occurred_at,
                    "root_cause": data.get("root_cause", ""),
                    "author": data.get("author", ""),
                    "description": data.get("description", ""),
                    "link": data.get("link", ""),
                    "answers": dict(data.get("answers", {})),
                    "deployed": False,
                    "followed_up": set(),
                    "pr": None,
                    "rollout": None,
                }
            elif event.type == "hotfix_gates_updated" and name in found:
                found[name]["answers"].update(data.get("answers", {}))
            elif event.type == "hotfix_reviewed" and name in found:
                # The only way a review passes: recorded by the reviewer, authenticated.
                review = {"status": "passed", "by": event.actor, "reason": data.get("note", "")}
                found[name]["answers"]["review"] = review
            elif event.type == "hotfix_deployed" and name in found:
                found[name]["deployed"] = True
                canary = data.get("canary")
                if isinstance(canary, dict):
                    found[name]["rollout"] = {
                        "stage": "canary",
                        "percent": canary.get("percent"),
                        "monitor_seconds": canary.get("monitor_seconds"),
                        "started_at": event.occurred_at.isoformat(),
                        "monitor_ends_at": (
                            event.occurred_at
                            + timedelta(seconds=float(canary.get("monitor_seconds", 0)))
                        ).isoformat(),
                    }
            elif event.type == "hotfix_rollout" and found.get(name, {}).get("rollout"):
                found[name]["rollout"].update(
                    stage=data.get("stage"),
                    percent=data.get("percent"),
                    decided_by=event.actor,
                    decided_at=event.occurred_at.isoformat(),
                    note=data.get("note", ""),
                )
            elif event.type == "hotfix_pr_requested" and name in found:
                found[name]["pr"] = {
                    "state": "requested",
                    "head": data.get("head"),
                    "base": data.get("base"),
                    "requested_by": event.actor,
                    "labels": list(data.get("labels", [])),
                    "title": data.get("title", ""),
                    "body": data.get("body", ""),
                }
            elif event.type == "hotfix_pr_opened" and found.get(name, {}).get("pr"):
                found[name]["pr"].update(
                    state="opened", number=data.get("number"), url=data.get("url"), error=None
                )
            elif event.type == "hotfix_pr_labelled" and found.get(name, {}).get("pr"):
                found[name]["pr"].update(state="labelled", error=None)
            elif event.type == "hotfix_pr_ready" and found.get(name, {}).get("pr"):
                found[name]["pr"].update(
                    state="ready",
                    error=None,
                    requested_reviewers=list(data.get("reviewers", []))
                    + [f"team:{t}" for t in data.get("team_reviewers", [])],
                    unmapped_reviewers=list(data.get("unmapped_reviewers", [])),
                )
            elif event.type == "hotfix_pr_failed" and found.get(name, {}).get("pr"):
                retrying = bool(data.get("retrying"))
                found[name]["pr"].update(
                    error=data.get("error"), failed_step=data.get("step"), retrying=retrying
                )
                if not retrying and not found[name]["pr"].get("number"):
                    found[name]["pr"]["state"] = "failed"
            elif (
                event.type == "follow_up_required"
                and data.get("source") == "hotfix_gate"
                and name in found
            ):
                found[name]["followed_up"].add(data.get("gate"))
        return found

    def _gate_rules(self, state: IncidentState) -> dict[str, str]:
        rules: dict[str, str] = dict(self.runtime.policy.severity(state.severity).hotfix_gates)
        if self._review_may_skip(state):
            rules["review"] = "may_skip"
        return rules

    def _review_may_skip(self, state: IncidentState) -> bool:
        """The safety option hotfix.skip_review_if_sev1, at the most severe level only."""
        policy = self.runtime.policy
        return policy.hotfix.skip_review_if_sev1 and policy.rank(state.severity) == 1

    def _evaluate(
        self, state: IncidentState, answers: Mapping[str, Any], author: str
    ) -> list[hotfix.GateResult]:
        try:
            return hotfix.evaluate(self._gate_rules(state), answers, author=author)
        except hotfix.GateProblem as exc:
            raise InvalidInput(str(exc), code="hotfix_gate") from None

    def _hotfix_view(self, state: IncidentState, entry: Mapping[str, Any]) -> dict[str, Any]:
        results = self._evaluate(state, entry["answers"], str(entry["author"]))
        blockers = hotfix.deploy_blockers(
            results, str(entry["author"]), review_may_skip=self._review_may_skip(state)
        )
        view = {
            "hotfix": entry["hotfix"],
            "author": entry["author"],
            "recorded_by": entry["recorded_by"],
            "description": entry["description"],
            "link": entry["link"],
            "severity": state.severity,
            "gates": [r.to_dict() for r in results],
            "deploy_blockers": blockers,
            "deployed": entry["deployed"],
            "rollout": entry["rollout"],
        }
        rules = self.runtime.policy.hotfix
        box = self.staging_time_box(state.severity)
        if box is not None:
            ends = entry["recorded_at"] + box
            staged = entry["answers"].get("staging", {}).get("status") in ("passed", "skipped")
            view["staging_time_box"] = {
                "minutes": int(box.total_seconds() // 60),
                "ends_at": ends.isoformat(),
                "exceeded": not staged and self.runtime.clock.now() > ends,
            }
        if rules.pr_template or rules.pr_labels:
            fields = {
                "incident": state.public_id,
                "hotfix": entry["hotfix"],
                "root_cause": entry["root_cause"] or "(to be filled in)",
                "fix": entry["description"] or "(to be filled in)",
            }
            view["emergency_pr"] = {
                "branch": f"hotfix/{state.public_id.lower()}",
                "title": f"Hotfix for {state.public_id}: {entry['description'] or entry['hotfix']}",
                "labels": list(rules.pr_labels),
                "reviewers": list(rules.pr_reviewers),
                "body": rules.pr_template.format_map(fields) if rules.pr_template else "",
                "state": "draft",
            }
            if entry["pr"]:
                view["emergency_pr"].update(entry["pr"])
        return view

    def _pr_config(self) -> GitHubPrSettings | None:
        section: EmergencyPrConfig | None = self.runtime.config.section("emergency_pr")
        return section.github if section is not None else None

    def request_pr(
        self, principal: Principal, public_id: str, name: str, request: PullRequestIn
    ) -> dict[str, Any]:
        """Ask for the hotfix's emergency pull request to be opened on GitHub (by the worker,
        retried through the outbox); the PR's text is the policy's template, filled in."""
        principal.require("responder")
        config = self._pr_config()
        if config is None:
            raise Conflict(
                "no GitHub repository is configured for emergency pull requests: add "
                "`emergency_pr: {github: {repo: owner/name, token_env: GITHUB_TOKEN}}` to the "
                "config file",
                code="not_configured",
            )
        rules = self.runtime.policy.hotfix
        if not (rules.pr_template or rules.pr_labels):
            raise Conflict(
                "this policy has no emergency pull request (hotfix.pr_template, pr_labels)",
                code="not_configured",
            )

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None:
                raise NotFound(f"no hotfix {name} on {public_id}")
            if entry["pr"] and entry["pr"]["state"] != "failed":
                raise Conflict(
                    f"the pull request of hotfix {name} is already {entry['pr']['state']}",
                    code="duplicate",
                )
            draft = self._hotfix_view(state, entry)["emergency_pr"]
            data = {
                "hotfix": name,
                "head": request.head,
                "base": request.base or config.base,
                "repo": config.repo,
                "title": draft["title"],
                "body": draft["body"],
                "labels": list(rules.pr_labels),
            }
            return [Event("hotfix_pr_requested", principal.actor, now, data)]

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return self._hotfix_view(state, self._hotfixes(public_id)[name])

    def deliver_pr(self, public_id: str, name: str, *, last_attempt: bool) -> github_pr.PrResult:
        """The worker's step: open the PR (once), then label it; failures on the timeline."""
        config = self._pr_config()
        entry = self._hotfixes(public_id).get(name)
        if entry is None or not entry["pr"]:
            return github_pr.PrResult(True, "nothing requested")
        pr = entry["pr"]
        if pr["state"] == "ready":
            return github_pr.PrResult(True, "already opened, labelled and assigned")
        if config is None:
            result = github_pr.PrResult(False, "emergency_pr is no longer configured")
            self._pr_failed(public_id, name, "open", result, last_attempt=True)
            return result
        number = pr.get("number")
        if number is None:
            result = github_pr.open_pull_request(
                config,
                github_pr.PullRequest(
                    title=str(pr["title"]),
                    head=str(pr["head"]),
                    base=str(pr["base"]),
                    body=str(pr["body"]),
                    labels=tuple(pr["labels"]),
                ),
            )
            if not result.ok:
                self._pr_failed(public_id, name, "open", result, last_attempt=last_attempt)
                return result
            number = result.number
            self._pr_event(
                public_id,
                "hotfix_pr_opened",
                {"hotfix": name, "number": number, "url": result.url, "repo": config.repo},
            )
        assert number is not None
        if pr["state"] != "labelled":
            if pr["labels"]:
                labelled = github_pr.add_labels(config, int(number), tuple(pr["labels"]))
                if not labelled.ok:
                    self._pr_failed(public_id, name, "labels", labelled, last_attempt=last_attempt)
                    return labelled
            self._pr_event(
                public_id,
                "hotfix_pr_labelled",
                {"hotfix": name, "number": number, "labels": pr["labels"]},
            )
        # The policy's reviewers (e.g. "on-call") as GitHub users or teams (config mapping).
        wanted = list(self.runtime.policy.hotfix.pr_reviewers)
        logins = [x for r in wanted for x in config.reviewers.get(r, ()) if ":" not in x]
        teams = [
            x.partition(":")[2]
            for r in wanted
            for x in config.reviewers.get(r, ())
            if x.startswith("team:")
        ]
        unmapped = [r for r in wanted if not config.reviewers.get(r)]
        if logins or teams:
            asked = github_pr.request_reviewers(config, int(number), logins, teams)
            if not asked.ok:
                self._pr_failed(public_id, name, "reviewers", asked, last_attempt=last_attempt)
                return asked
        self._pr_event(
            public_id,
            "hotfix_pr_ready",
            {
                "hotfix": name,
                "number": number,
                "reviewers": logins,
                "team_reviewers": teams,
                "unmapped_reviewers": unmapped,
            },
        )
        return github_pr.PrResult(
            True, f"#{number} opened, labelled, reviewers asked", number=number
        )

    def _pr_failed(
        self,
        public_id: str,
        name: str,
        step: str,
        result: github_pr.PrResult,
        *,
        last_attempt: bool,
    ) -> None:
        """Every failed attempt is on the timeline, with whether the worker tries again."""
        retrying = result.retryable and not last_attempt
        data = {"hotfix": name, "step": step, "error": result.message, "retrying": retrying}
        self._pr_event(public_id, "hotfix_pr_failed", data)

    def _pr_event(self, public_id: str, kind: str, data: dict[str, Any]) -> None:
        now = self.runtime.clock.now()
        self.runtime.incidents.append_events(
            SYSTEM, public_id, [Event(kind, SYSTEM.actor, now, data)]
        )

    def staging_time_box(self, severity: str) -> timedelta | None:
        """The policy's longest stay in staging for this severity, if any."""
        policy = self.runtime.policy
        return next(
            (
                limit
                for sev, limit in policy.hotfix.staging_time_box.items()
                if policy.severity(sev).id == policy.severity(severity).id
            ),
            None,
        )

    def check_staging_time_box(self, public_id: str, name: str) -> bool:
        """At the end of a hotfix's staging time-box: if it is still neither staged nor
        deployed, say so on the timeline and raise `hotfix_staging_overdue` (the policy's
        condition rule tells the commander). True when it did."""
        fired: list[str] = []

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None or entry["deployed"] or not state.is_open:
                return []
            staging = entry["answers"].get("staging", {}).get("status")
            box = self.staging_time_box(state.severity)
            if staging in ("passed", "skipped") or box is None:
                return []
            minutes = int(box.total_seconds() // 60)
            reason = (
                f"hotfix {name} has been in staging for its {minutes}-minute time-box "
                f"({state.severity}): deploy with monitoring, or choose another option"
            )
            data = {"hotfix": name, "minutes": minutes, "reason": reason}
            fired.append(name)
            return [
                Event("hotfix_staging_time_box_passed", SYSTEM.actor, now, data),
                Event(
                    "flag_set",
                    SYSTEM.actor,
                    now,
                    {"flag": "hotfix_staging_overdue", "value": True, "reason": reason},
                ),
            ]

        self.runtime.incidents.mutate(SYSTEM, public_id, build)
        return bool(fired)

    def list_hotfixes(self, public_id: str) -> list[dict[str, Any]]:
        state = self.runtime.incidents.get(public_id)
        return [self._hotfix_view(state, h) for h in self._hotfixes(public_id).values()]

    def record_hotfix(
        self, principal: Principal, public_id: str, request: HotfixIn
    ) -> dict[str, Any]:
        """Record a hotfix and run its quality gates; skipped gates become follow-ups."""
        principal.require("responder")
        answers = {k: v.model_dump() for k, v in request.gates.items()}
        _refuse_typed_review(answers)
        author = request.author.strip() or person_of(principal.actor)
        rules = self.runtime.policy.hotfix
        why_not_rollback = request.why_not_rollback.strip()
        if rules.requires_reason and not why_not_rollback:
            raise InvalidInput(
                "a hotfix is only for when rollback and feature flag are not possible: give "
                "the reason (why_not_rollback) (policy hotfix.requires_reason)",
                code="reason_required",
            )

        def build(state: IncidentState, now: datetime) -> list[Event]:
            allowed = [self.runtime.policy.severity(s).id for s in rules.severities]
            if allowed and state.severity not in allowed:
                raise GuardFailed(
                    f"hotfixes are only for {', '.join(allowed)} incidents (policy "
                    f"hotfix.severities); {public_id} is {state.severity}: use the normal "
                    "release process",
                    code="hotfix_not_allowed",
                    details={"rule": "policy.hotfix.severities", "allowed": allowed},
                )
            if request.name in self._hotfixes(public_id):
                raise Conflict(f"hotfix {request.name} is already recorded", code="duplicate")
            results = self._evaluate(state, answers, author)
            data = {
                "hotfix": request.name,
                "author": author,
                "description": request.description,
                "link": request.link,
                "answers": answers,
                "gates": [r.to_dict() for r in results],
                "why_not_rollback": why_not_rollback,
                "risk": request.risk,
                "root_cause": request.root_cause,
            }
            events = [Event("hotfix_recorded", principal.actor, now, data)]
            events += [
                Event("follow_up_required", principal.actor, now, item)
                for item in hotfix.follow_ups(results, request.name)
            ]
            events += self._safety_option_events(state, answers, request.name, principal, now)
            flags = []
            if why_not_rollback and not state.flags.get("rollback_impossible"):
                flags.append(("rollback_impossible", f"hotfix {request.name}: {why_not_rollback}"))
            if request.risk == "significant" and not state.flags.get("hotfix_risky"):
                flags.append(("hotfix_risky", f"hotfix {request.name} carries significant risk"))
            events += [
                Event("flag_set", principal.actor, now, {"flag": f, "value": True, "reason": r})
                for f, r in flags
            ]
            return events

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return self._hotfix_view(state, self._hotfixes(public_id)[request.name])

    def _safety_option_events(
        self,
        state: IncidentState,
        answers: Mapping[str, Any],
        name: str,
        principal: Principal,
        now: datetime,
    ) -> list[Event]:
        review = answers.get("review") or {}
        if review.get("status") != "skipped" or not self._review_may_skip(state):
            return []
        data = {
            "option": "policy.hotfix.skip_review_if_sev1",
            "hotfix": name,
            "reason": review.get("reason", ""),
            "what": f"hotfix {name} deployable without a review at {state.severity}",
        }
        return [Event("safety_option_used", principal.actor, now, data)]

    def review(
        self, principal: Principal, public_id: str, name: str, request: ReviewIn
    ) -> dict[str, Any]:
        """The reviewer records their review, as themselves; never the hotfix's author."""
        principal.require("responder")
        require_agent_permission(principal, self.runtime.policy, "may_approve", "review a hotfix")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None:
                raise NotFound(f"no hotfix {name} on {public_id}")
            if entry["deployed"]:
                raise Conflict(f"hotfix {name} is already deployed", code="already_deployed")
            if entry["answers"].get("review", {}).get("status") == "passed":
                raise Conflict(f"hotfix {name} is already reviewed", code="no_change")
            authors = {str(entry["author"]), str(entry["recorded_by"])}
            # Any kind of identity counts here: `review-bot` is the agent `agent:review-bot`.
            bare = principal.actor.partition(":")[2] or principal.actor
            if any(same_person(who, principal.actor) or same_person(who, bare) for who in authors):
                raise Forbidden(
                    f"{principal.actor} wrote or recorded hotfix {name}; someone else must "
                    "review it",
                    code="self_approval",
                    details={"rule": "no_self_approval", "actor": principal.actor},
                )
            data = {"hotfix": name, "note": request.note, "reviewer_kind": principal.kind}
            return [Event("hotfix_reviewed", principal.actor, now, data)]

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return self._hotfix_view(state, self._hotfixes(public_id)[name])

    def rollout(
        self, principal: Principal, public_id: str, name: str, request: RolloutIn
    ) -> dict[str, Any]:
        """The canary's outcome, recorded by a person: promoted to the full rollout once its
        monitor window has passed without a regression, or halted with the reason."""
        principal.require("responder")
        note = request.note.strip()
        if request.stage == "halted" and not note:
            raise InvalidInput("halting a canary needs the reason (note)", code="reason_required")

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None:
                raise NotFound(f"no hotfix {name} on {public_id}")
            refusal = _rollout_refusal(entry, name)
            if refusal is not None:
                raise refusal
            rollout = entry["rollout"]
            if request.stage == "full":
                ends = datetime.fromisoformat(str(rollout["monitor_ends_at"]))
                if now < ends:
                    raise GuardFailed(
                        f"the canary of hotfix {name} is watched until {ends.isoformat()} "
                        f"({int(float(rollout['monitor_seconds']) // 60)} minutes); promote "
                        "it after that",
                        code="canary_window",
                        details={"monitor_ends_at": ends.isoformat()},
                    )
                if state.flags.get("verification_regressed"):
                    raise GuardFailed(
                        f"the canary of hotfix {name} regressed; halt it (--stage halted)",
                        code="canary_regressed",
                    )
            percent = 100 if request.stage == "full" else 0
            data = {"hotfix": name, "stage": request.stage, "percent": percent, "note": note}
            reason = (
                f"hotfix {name} rolled out to everyone"
                if request.stage == "full"
                else f"hotfix {name} canary halted: {note}"
            )
            return [
                Event("hotfix_rollout", principal.actor, now, data),
                Event(
                    "flag_set",
                    principal.actor,
                    now,
                    {"flag": "canary_in_progress", "value": False, "reason": reason},
                ),
            ]

        state = self.runtime.incidents.mutate(principal, public_id, build)
        return self._hotfix_view(state, self._hotfixes(public_id)[name])

    def update_gates(
        self, principal: Principal, public_id: str, name: str, request: GateIn
    ) -> dict[str, Any]:
        principal.require("responder")
        answers = {k: v.model_dump() for k, v in request.gates.items()}
        _refuse_typed_review(answers)

        def build(state: IncidentState, now: datetime) -> list[Event]:
            entry = self._hotfixes(public_id).get(name)
            if entry is None:
                raise NotFound(f"no hotfix {name} on {public_id}")
            if entry["deployed"]:
                raise Conflict(f"hotfix {name} is already deployed", code="already_deployed")
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
            return events + self._safety_option_events(state, answers, name, principal, now)

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
            blockers = hotfix.deploy_blockers(
                results, author, review_may_skip=self._review_may_skip(state)
            )
            if blockers:
                raise GuardFailed(
                    f"hotfix {name} cannot be deployed: " + "; ".join(blockers),
                    code="hotfix_gates",
                    details={"blockers": blockers, "gates": [r.to_dict() for r in results]},
                )
            review = next(r for r in results if r.gate == "review")
            data: dict[str, Any] = {
                "hotfix": name,
                "author": author,
                "reviewed_by": review.by,
                "gates": [r.to_dict() for r in results],
            }
            canary = self.runtime.policy.hotfix.canary
            flags: list[Event] = []
            if canary is not None:
                data["canary"] = {
                    "percent": canary.percent,
                    "monitor_seconds": canary.monitor.total_seconds(),
                }
                minutes = int(canary.monitor.total_seconds() // 60)
                reason = (
                    f"hotfix {name} is on its {canary.percent}% canary; watch it {minutes} "
                    "minutes, then promote it to the full rollout or halt it"
                )
                flags.append(
                    Event(
                        "flag_set",
                        SYSTEM.actor,
                        now,
                        {"flag": "canary_in_progress", "value": True, "reason": reason},
                    )
                )
            events = [Event("hotfix_deployed", principal.actor, now, data), *flags]
            events += [
                Event(
                    "follow_up_required",
                    principal.actor,
                    now,
                    {
                        "title": f"{title} ({name})",
                        "type": "process",
                        "source": "hotfix_policy",
                        "hotfix": name,
                    },
                )
                for title in self.runtime.policy.hotfix.follow_ups
            ]
            return events

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


def _rollout_refusal(entry: Mapping[str, Any], name: str) -> Conflict | None:
    rollout = entry.get("rollout")
    if not entry["deployed"]:
        return Conflict(f"hotfix {name} is not deployed yet", code="not_deployed")
    if not rollout:
        return Conflict(
            f"hotfix {name} was deployed without a canary (policy hotfix.canary)",
            code="no_canary",
        )
    if rollout["stage"] != "canary":
        return Conflict(
            f"the rollout of hotfix {name} is already {rollout['stage']}", code="no_change"
        )
    return None


def _refuse_typed_review(answers: Mapping[str, Any]) -> None:
    """A review is never a name typed by someone else: the reviewer records it themselves."""
    review = answers.get("review")
    if review and review.get("status") == "passed":
        raise InvalidInput(
            "a review is recorded by the reviewer, signed in as themselves: "
            "warroom hotfix review INCIDENT NAME (POST .../hotfixes/NAME/review)",
            code="review_by_reviewer",
            details={"rule": "hotfix_review_by_reviewer"},
        )
