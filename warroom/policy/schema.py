"""The policy as typed data: the team's incident process, strictly validated.

A policy is written as YAML (or picked from the built-in presets) and checked here: unknown
keys, bad durations and dangling references are errors with the path of the bad field. The
objects are immutable and pure: nothing here reads the clock or the environment.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    field_validator,
    model_validator,
)

from warroom.core.durations import parse_duration
from warroom.core.errors import InvalidInput
from warroom.core.vocab import TRIAGE_KEYS, IncidentType, Role


def _to_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("a duration looks like 30s, 15m, 2h, 1d or 1w")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    return parse_duration(value)


def duration_text(value: timedelta) -> str:
    """Compact text that `parse_duration` reads back: `1h30m`, `15m`, `0`."""
    total = int(value.total_seconds())
    if total == 0:
        return "0"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(duration_text, return_type=str),
]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


@lru_cache(maxsize=4096)  # a handful of distinct names, looked up for every event
def normalise_severity(text: str) -> str:
    """Case- and dash-insensitive key: `sev-1`, `SEV1` and `Sev 1` are the same."""
    return re.sub(r"[\s_-]", "", text).upper()


class CrossReferenceError(ValueError):
    """Names that point nowhere; each problem is (path inside the policy, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Strict):
    """A response or resolution target: a label people read and, when measurable, a duration."""

    label: str
    within: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.lower() == "immediate":
                # "Immediate" still needs a measurable bound for SLA figures: the triage window.
                return {"label": "Immediate", "within": "5m"}
            try:
                within = parse_duration(text)
            except ValueError:
                return {"label": text, "within": None}
            return {"label": f"< {duration_text(within)}", "within": within}
        return value

    @property
    def duration(self) -> timedelta | None:
        return self.within


class PostmortemRule(Strict):
    requirement: Literal["required", "recommended", "optional"] = "optional"
    due_within: Duration | None = None


GateRule = Literal["required", "may_skip", "after", "skip"]
GATES = ("review", "tests", "staging", "security_scan", "docs")


class SeverityLevel(Strict):
    """One level of the scale, with everything the process ties to it."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    definition: str = ""
    examples: tuple[str, ...] = ()
    response_target: Target
    # A target the process does not give is shown as such, never invented.
    resolution_target: Target = Target(label="not set by this process", within=None)
    update_interval: Duration | None = None
    roles_required: tuple[Role, ...] = ()
    paging: Literal["all_hands", "page", "notify", "none"] = "page"
    # Team activation: the commander is paged with the first level at declaration (all_hands
    # always does); declaring at this severity adds an item to the backlog (an action item).
    notify_commander: bool = False
    add_to_backlog: bool = False
    executive_brief: bool = False
    public_update: bool = False
    postmortem: PostmortemRule = PostmortemRule()
    hotfix_gates: dict[str, GateRule] = Field(default_factory=dict)
    verification_window: Duration | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("a severity id is a short word like SEV1 or P0")
        return value

    @field_validator("hotfix_gates")
    @classmethod
    def _gates(cls, value: dict[str, GateRule]) -> dict[str, GateRule]:
        unknown = sorted(set(value) - set(GATES))
        if unknown:
            raise ValueError(f"unknown gate(s) {', '.join(unknown)}; gates are {', '.join(GATES)}")
        if value and value.get("review") in ("skip", "may_skip"):
            raise ValueError("a hotfix always needs a review by someone other than its author")
        return value


# Every kind of mitigation warroom knows (runbook mitigation steps, the decision tree).
MITIGATION_ACTIONS = (
    "rollback",
    "restart",
    "failover",
    "scale",
    "feature_flag",
    "config_change",
    "block_traffic",
    "rate_limit",
    "circuit_breaker",
    "redirect_traffic",
    "fallback_cache",
    "hotfix",
)
MitigationAction = Literal[
    "rollback",
    "restart",
    "failover",
    "scale",
    "feature_flag",
    "config_change",
    "block_traffic",
    "rate_limit",
    "circuit_breaker",
    "redirect_traffic",
    "fallback_cache",
    "hotfix",
]


class MitigationRule(Strict):
    """One branch of the mitigation decision tree: when `signal` holds, suggest `action`.

    The signal `always` always holds (an option to try whatever the cause). `exhausts: false`
    marks a last resort that does not count when deciding that every option is exhausted.
    """

    signal: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    action: MitigationAction
    why: str = ""
    exhausts: bool = True


class StopRule(Strict):
    """A MUST STOP rule: when it holds, warroom raises a stop that a person must acknowledge
    with a decision (surface, don't solve).

    `flags`: every one of these incident flags is set. `when`: `recurrence` (the incident is
    reopened, by hand or by a repeat alert, or flagged `recurred`) or `eta_beyond_window` (a
    status update's ETA lies beyond the severity's response window).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,59}$")
    text: str = Field(min_length=1)
    flags: tuple[str, ...] = ()
    when: Literal["recurrence", "eta_beyond_window"] | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> StopRule:
        if bool(self.flags) == (self.when is not None):
            raise ValueError("a stop rule has either flags or when, not both and not neither")
        for flag in self.flags:
            if not _NAME.match(flag):
                raise ValueError(f"flag {flag!r} must be lowercase with underscores")
        return self


class CanaryRule(Strict):
    """A canary deploy: this share of traffic first, watched for `monitor` before the rest."""

    percent: int = Field(ge=1, le=99)
    monitor: Duration


class HotfixPolicy(Strict):
    """When a hotfix may be used and what it brings with it."""

    # Severities at which a hotfix is allowed at all (empty: any severity).
    severities: tuple[str, ...] = ()
    # Recording a hotfix needs the reason a rollback or feature flag was not possible.
    requires_reason: bool = False
    # Action items created when a hotfix is deployed (the proper fix behind it).
    follow_ups: tuple[str, ...] = ()
    # The longest the hotfix may spend in staging, per severity (e.g. SEV1: 15m).
    staging_time_box: dict[str, Duration] = Field(default_factory=dict)
    # The emergency pull request: labels and a template (placeholders {incident}, {hotfix},
    # {root_cause}, {fix}).
    pr_labels: tuple[str, ...] = ()
    pr_reviewers: tuple[str, ...] = ()
    pr_template: str = ""
    # Deploy to a share of traffic first and watch it (a verification window of `monitor`).
    canary: CanaryRule | None = None
    # SAFETY OPTION, off by default: at the most severe level the review may be skipped (with
    # a reason, recorded on the timeline, reviewed afterwards as a follow-up).
    skip_review_if_sev1: bool = False


class ChecklistItem(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    text: str


class Contact(Strict):
    """A named escalation contact (e.g. legal); on-call config maps it to people or teams."""

    description: str = ""


EscalationTarget = str  # "contact:<name>" or "role:<incident role>"


class TimeRule(Strict):
    """Escalate when an incident of these severities is still not <condition> after `after`."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,59}$")
    severities: tuple[str, ...]
    condition: Literal["unacknowledged", "unmitigated", "unresolved"] = "unresolved"
    after: Duration
    notify: tuple[EscalationTarget, ...]
    action: str = ""


class ClockRule(Strict):
    """A deadline that starts when a condition rule fires, with reminders before it."""

    name: str
    deadline: Duration
    reminders: tuple[Duration, ...] = ()
    # Setting this incident flag (e.g. regulator_notified) stops the clock's reminders.
    stop_flag: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,59}$")

    @model_validator(mode="after")
    def _reminders_before_deadline(self) -> ClockRule:
        late = [r for r in self.reminders if r >= self.deadline]
        if late:
            raise ValueError("reminders must come before the deadline")
        return self


class ConditionRule(Strict):
    """Escalate when an incident flag is set, or revenue at risk passes a threshold."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,59}$")
    when: str = Field(description="an incident flag, or 'revenue_per_hour'")
    threshold: float | None = None
    notify: tuple[EscalationTarget, ...]
    action: str = ""
    clock: ClockRule | None = None

    @model_validator(mode="after")
    def _threshold(self) -> ConditionRule:
        if self.when == "revenue_per_hour" and self.threshold is None:
            raise ValueError("a revenue_per_hour rule needs a threshold")
        if self.when != "revenue_per_hour" and not _NAME.match(self.when):
            raise ValueError("when must be a flag name (lowercase, underscores)")
        return self


class Escalation(Strict):
    time_based: tuple[TimeRule, ...] = ()
    condition_based: tuple[ConditionRule, ...] = ()
    # An update missed by this many intervals escalates to the commander's chain.
    missed_update_factor: float = Field(default=2.0, ge=1.0)
    # A role the severity requires still unassigned this long after declaration reminds the
    # commander (or, without one, whoever the escalation policy pages first).
    missing_roles_after: Duration | None = None


ANSWER_KEYS = TRIAGE_KEYS  # the yes/no questions (warroom.core.vocab.TRIAGE_QUESTIONS)


class TriageAnswers(BaseModel):
    """The assessment answers; None means not answered."""

    model_config = ConfigDict(frozen=True)

    complete_outage: bool | None = None
    data_loss: bool | None = None
    security_breach: bool | None = None
    users_affected_pct: float | None = None
    workaround: bool | None = None
    customer_facing: bool | None = None
    data_at_risk: bool | None = None
    performance_only: bool | None = None
    third_party: bool | None = None
    recent_deploy: bool | None = None
    infrastructure: bool | None = None


class Condition(Strict):
    """All given facts must hold; an unanswered question never matches."""

    complete_outage: bool | None = None
    data_loss: bool | None = None
    security_breach: bool | None = None
    workaround: bool | None = None
    customer_facing: bool | None = None
    data_at_risk: bool | None = None
    performance_only: bool | None = None
    third_party: bool | None = None
    recent_deploy: bool | None = None
    infrastructure: bool | None = None
    users_affected_pct_gte: float | None = Field(default=None, ge=0, le=100)
    users_affected_pct_lt: float | None = Field(default=None, ge=0, le=100)

    def matches(self, answers: TriageAnswers) -> bool:
        for key in ANSWER_KEYS:
            expected = getattr(self, key)
            if expected is not None and getattr(answers, key) is not expected:
                return False
        pct = answers.users_affected_pct
        if self.users_affected_pct_gte is not None and (
            pct is None or pct < self.users_affected_pct_gte
        ):
            return False
        return not (
            self.users_affected_pct_lt is not None
            and (pct is None or pct >= self.users_affected_pct_lt)
        )

    def describe(self) -> str:
        parts = [
            f"{key}" if value is True else f"not {key}"
            for key in ANSWER_KEYS
            if (value := getattr(self, key)) is not None
        ]
        if self.users_affected_pct_gte is not None:
            parts.append(f"users affected ≥ {self.users_affected_pct_gte:g}%")
        if self.users_affected_pct_lt is not None:
            parts.append(f"users affected < {self.users_affected_pct_lt:g}%")
        return " and ".join(parts) or "always"


class SeverityRule(Strict):
    id: str
    when: Condition
    severity: str


class TypeRule(Strict):
    id: str
    when: Condition
    type: IncidentType


class Triage(Strict):
    """Ordered rules: the first that matches decides; the fallbacks decide otherwise."""

    severity_rules: tuple[SeverityRule, ...] = ()
    type_rules: tuple[TypeRule, ...] = ()
    fallback_severity: str | None = Field(default=None, description="default: the lowest level")
    fallback_type: IncidentType = IncidentType.SERVICE_OUTAGE


class AgentPermissions(Strict):
    """What AI assistants (agent tokens) may do beyond their scopes; the defaults are the safest.

    Enforced by the server for every principal of kind "agent", whichever way it comes in (MCP
    or REST): packages consult these before an agent publishes, approves or closes.
    """

    # Publish a status update to the public status page (otherwise: draft, a person publishes).
    may_publish_public: bool = False
    # Approve anything (a runbook step, a hotfix gate, a status update). Never its own work.
    may_approve: bool = False
    # An agent closes an incident whose post-mortem is required only once it is published
    # (stricter than `postmortem_close_requires: scheduled`, which lets people close earlier).
    close_requires_published_postmortem: bool = True


DEFAULT_POSTMORTEM_SECTIONS = (
    "Root cause",
    "Contributing factors",
    "Five whys",
    "What went well",
    "What went wrong",
    "Where we got lucky",
    "Lessons learned",
    "Prevention",
)


class PostmortemTemplate(Strict):
    """The sections people write in the post-mortem, in order (the recorded facts: summary,
    impact, timeline, alerts, changes, runbooks, mitigations, responders and action items are
    always drafted). A `required` section must be written, neither blank nor still holding its
    prompt or a placeholder, before the post-mortem is submitted or published."""

    sections: tuple[str, ...] = DEFAULT_POSTMORTEM_SECTIONS
    required: tuple[str, ...] = ("Root cause",)

    @field_validator("sections")
    @classmethod
    def _sections(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for title in value:
            if not title.strip() or len(title) > 80 or "\n" in title or title.startswith("#"):
                raise ValueError(f"{title!r}: a section title is one short line")
        lowered = [title.strip().lower() for title in value]
        if len(lowered) != len(set(lowered)):
            raise ValueError("section titles must be unique")
        return tuple(title.strip() for title in value)

    @model_validator(mode="after")
    def _required_are_sections(self) -> PostmortemTemplate:
        known = {title.lower() for title in self.sections}
        unknown = [title for title in self.required if title.strip().lower() not in known]
        if unknown:
            raise ValueError(f"required section(s) not in sections: {', '.join(unknown)}")
        return self


class ChannelArchive(Strict):
    """When the incident's chat channel is archived, as the process says (e.g. 24 hours after
    resolution); without it the chat config's `archive_after` counts from closing."""

    when: Literal["resolved", "closed"] = "closed"
    after: Duration


class Communications(Strict):
    """What the process says about status updates beyond the per-severity cadence."""

    # At declaration an "Investigating" update is drafted and the responders are prompted to
    # publish it (`draft`), or it is published at once (`publish`); severity ids or aliases.
    initial_update_draft: tuple[str, ...] = ()
    initial_update_publish: tuple[str, ...] = ()
    # Updates carry "ETA to resolution" in their internal and public texts ("investigating"
    # while no ETA is given), as the process's update template does.
    eta_in_updates: bool = False
    # The root cause, as written in the updates, goes into the PUBLIC resolution text. Off by
    # default: internal causes can name systems, vendors or customers. `config check` warns.
    root_cause_in_public_resolution: bool = False
    # The process's own rule for archiving the incident's chat channel (None: chat config).
    archive_channel: ChannelArchive | None = None


class Policy(Strict):
    """The whole incident process."""

    _levels_by_name: dict[str, SeverityLevel] = PrivateAttr(default_factory=dict)

    name: str = "custom"
    description: str = ""
    severities: tuple[SeverityLevel, ...] = Field(min_length=1)
    resolution_checklist: tuple[ChecklistItem, ...] = ()
    contacts: dict[str, Contact] = Field(default_factory=dict)
    escalation: Escalation = Escalation()
    triage: Triage = Triage()
    recurrence_window: Duration = timedelta(hours=24)
    recurrence_action: Literal["reopen", "link"] = "reopen"
    # When every alert of an auto-declared incident resolves it moves to monitoring; with this
    # on it is also resolved (otherwise resolving stays a person's decision).
    alerts_auto_resolve: bool = False
    postmortem_close_requires: Literal["scheduled", "published"] = "published"
    # MTTR is measured from started_at by default (impact), or from detected_at.
    mttr_from: Literal["started_at", "detected_at"] = "started_at"
    agents: AgentPermissions = AgentPermissions()
    # Resolving needs a passed post-mitigation verification and the severity's
    # verification_window elapsed since mitigation (for severities that have a window); off by
    # default. A person holding one of `verification_waiver_roles` may waive it with a reason.
    resolve_requires_verification: bool = False
    verification_waiver_roles: tuple[Role, ...] = (Role.COMMANDER,)
    # Resolving needs the root cause identified and the permanent fix deployed, each in a
    # sentence (the resolution phase's outputs in the phased process); off by default.
    resolve_requires_root_cause: bool = False
    # MUST STOP rules (empty: none).
    stop_rules: tuple[StopRule, ...] = ()
    hotfix: HotfixPolicy = HotfixPolicy()
    # The mitigation decision tree, in order (signals are incident flags or derived facts);
    # empty means the built-in tree from the process documents.
    mitigation_tree: tuple[MitigationRule, ...] = ()
    communications: Communications = Communications()
    postmortem_template: PostmortemTemplate = PostmortemTemplate()

    @model_validator(mode="after")
    def _cross_references(self) -> Policy:
        problems: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        for n, level in enumerate(self.severities):
            for key in (level.id, *level.aliases):
                norm = normalise_severity(key)
                if norm in seen:
                    problems.append((f"severities.{n}", f"{key!r} is already used by {seen[norm]}"))
                seen[norm] = level.id

        def known(sev: str) -> bool:
            return normalise_severity(sev) in seen

        for n, rule in enumerate(self.escalation.time_based):
            for sev in rule.severities:
                if not known(sev):
                    problems.append(
                        (f"escalation.time_based.{n}.severities", f"unknown severity {sev!r}")
                    )
            problems += self._check_targets(f"escalation.time_based.{n}.notify", rule.notify)
        for n, cond in enumerate(self.escalation.condition_based):
            problems += self._check_targets(f"escalation.condition_based.{n}.notify", cond.notify)
        for n, srule in enumerate(self.triage.severity_rules):
            if not known(srule.severity):
                problems.append(
                    (f"triage.severity_rules.{n}.severity", f"unknown severity {srule.severity!r}")
                )
        if self.triage.fallback_severity and not known(self.triage.fallback_severity):
            problems.append(
                (
                    "triage.fallback_severity",
                    f"unknown severity {self.triage.fallback_severity!r}",
                )
            )
        for n, hsev in enumerate(self.hotfix.severities):
            if not known(hsev):
                problems.append((f"hotfix.severities.{n}", f"unknown severity {hsev!r}"))
        for box_sev in self.hotfix.staging_time_box:
            if not known(box_sev):
                problems.append(("hotfix.staging_time_box", f"unknown severity {box_sev!r}"))
        stop_ids = [rule.id for rule in self.stop_rules]
        if len(stop_ids) != len(set(stop_ids)):
            problems.append(("stop_rules", "stop rule ids must be unique"))
        for key in ("initial_update_draft", "initial_update_publish"):
            for sev in getattr(self.communications, key):
                if not known(sev):
                    problems.append((f"communications.{key}", f"unknown severity {sev!r}"))
        ids = [item.id for item in self.resolution_checklist]
        if len(ids) != len(set(ids)):
            problems.append(("resolution_checklist", "checklist item ids must be unique"))
        if problems:
            raise CrossReferenceError(problems)
        return self

    def _check_targets(self, path: str, targets: tuple[str, ...]) -> list[tuple[str, str]]:
        problems = []
        roles = {role.value for role in Role}
        for target in targets:
            kind, _, name = target.partition(":")
            if kind == "contact" and name in self.contacts:
                continue
            if kind == "role" and name in roles:
                continue
            problems.append(
                (
                    path,
                    f"{target!r} must be 'contact:<name>' with a name from contacts "
                    f"({', '.join(sorted(self.contacts)) or 'none defined'}) or 'role:<role>' "
                    f"({', '.join(sorted(roles))})",
                )
            )
        return problems

    def warnings(self) -> list[tuple[str, str]]:
        """Valid but unsafe choices, each (path, message): `config check` shows them."""
        found: list[tuple[str, str]] = []
        if self.hotfix.skip_review_if_sev1:
            found.append(
                (
                    "policy.hotfix.skip_review_if_sev1",
                    f"safety option on: a {self.severities[0].id} hotfix may be deployed without "
                    "a review (recorded on the timeline, reviewed afterwards)",
                )
            )
        if self.alerts_auto_resolve and self.resolve_requires_verification:
            found.append(
                (
                    "policy.alerts_auto_resolve",
                    "incidents resolved because their alerts resolved skip the monitoring "
                    "window that resolve_requires_verification asks of people",
                )
            )
        return found

    # ---- look-ups -----------------------------------------------------------------------

    def severity(self, key: str) -> SeverityLevel:
        """The level named by an id or alias (case and dashes ignored), or InvalidInput."""
        levels = self._levels_by_name
        if not levels:
            for level in reversed(self.severities):  # an id or alias used twice: the first
                for name in (*level.aliases, level.id):
                    levels[normalise_severity(name)] = level
        # Keys are normalised already: one given that way (most are) needs no rewriting.
        found = levels.get(key) or levels.get(normalise_severity(key))
        if found is not None:
            return found
        raise InvalidInput(
            f"unknown severity {key!r}; the policy's severities are "
            + ", ".join(
                level.id + (f" ({'/'.join(level.aliases)})" if level.aliases else "")
                for level in self.severities
            ),
            code="unknown_severity",
        )

    def severity_ids(self) -> list[str]:
        return [level.id for level in self.severities]

    def rank(self, key: str) -> int:
        """1 for the most severe level."""
        level = self.severity(key)
        return next(n for n, x in enumerate(self.severities, start=1) if x is level)

    def lowest(self) -> SeverityLevel:
        return self.severities[-1]

    def checklist_text(self) -> dict[str, str]:
        return {item.id: item.text for item in self.resolution_checklist}
