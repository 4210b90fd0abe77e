"""Runbooks as YAML: schema, loading (built-ins plus a config directory), matching, templating.

Pure apart from reading files: matching and templating work on plain data.

Shape (the post-mortem package writes drafts in it too):
`id, title, description, match: {types, services, labels}, steps: [{id, kind, title,
automatic, ...kind-specific}]` with kind one of manual, command, http, metric, approval,
mitigation.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from warroom.core.vocab import IncidentType
from warroom.policy.schema import MITIGATION_ACTIONS as MITIGATION_ACTIONS
from warroom.policy.schema import Duration
from warroom.policy.schema import MitigationAction as MitigationAction

# Mitigations that need a second person's approval before they run.
DANGEROUS_ACTIONS = frozenset({"rollback", "scale", "block_traffic", "redirect_traffic"})
_ID = r"^[a-z0-9][a-z0-9_.-]{0,79}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """When a runbook applies. Every given criterion must hold; an empty match never matches
    automatically (the runbook is run on request only)."""

    types: tuple[IncidentType, ...] = ()
    # Service names; may be shell-style globs (`postgres*`).
    services: tuple[str, ...] = ()
    # Alert/incident labels; values may be shell-style globs (`*ErrorRate*`).
    labels: dict[str, str] = Field(default_factory=dict)
    # Names of the policies (presets) in force for which the runbook applies.
    policies: tuple[str, ...] = ()
    # Offered when no other runbook matches the incident (a generic troubleshooting runbook).
    fallback: bool = False

    @property
    def empty(self) -> bool:
        return not (self.types or self.services or self.labels or self.policies)


class _StepBase(_Strict):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=300)
    automatic: bool = False
    # Force an approval even for a step that is not dangerous by its action.
    dangerous: bool = False


class ManualStep(_StepBase):
    kind: Literal["manual"]
    instructions: str = ""
    checklist: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _never_automatic(self) -> ManualStep:
        if self.automatic:
            raise ValueError("a manual step is ticked by a person; it cannot be automatic")
        return self


class CommandStep(_StepBase):
    kind: Literal["command"]
    command: str = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0, le=3600)
    cwd: str | None = None
    # Names of environment variables passed through from warroom's environment.
    env_allow: tuple[str, ...] = ()
    # Fixed variables set for the command.
    env: dict[str, str] = Field(default_factory=dict)
    max_output: int = Field(default=4000, ge=100, le=100_000)


class HttpStep(_StepBase):
    kind: Literal["http"]
    url: str = Field(min_length=1)
    method: Literal["GET", "HEAD", "POST", "PUT"] = "GET"
    expect_status: tuple[int, ...] = (200,)
    expect_body: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None


class MetricStep(_StepBase):
    kind: Literal["metric"]
    query: str = Field(min_length=1)
    # Healthy when `value <op> threshold` holds.
    op: Literal["<", "<=", ">", ">="] = "<"
    threshold: float
    # Compare with the mean over this window before now (e.g. 1h); `max_ratio` bounds
    # value / baseline (e.g. 2.0 = at most twice the baseline).
    baseline_window: Duration | None = None
    max_ratio: float | None = Field(default=None, gt=0)
    prometheus_url: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)


class ApprovalStep(_StepBase):
    kind: Literal["approval"]
    prompt: str = ""

    @model_validator(mode="after")
    def _never_automatic(self) -> ApprovalStep:
        if self.automatic:
            raise ValueError("an approval needs a person; it cannot be automatic")
        return self


class DiagnosisStep(_StepBase):
    """A structured diagnosis: root-cause hypothesis, evidence and confidence, recorded."""

    kind: Literal["diagnosis"]
    prompt: str = ""

    @model_validator(mode="after")
    def _never_automatic(self) -> DiagnosisStep:
        if self.automatic:
            raise ValueError("a diagnosis is a person's judgement; it cannot be automatic")
        return self


class MitigationStep(_StepBase):
    kind: Literal["mitigation"]
    action: MitigationAction
    description: str = ""
    # A command that carries the mitigation out (rollback defaults to the service's
    # rollback_command); without one the step records the action for a person to do.
    command: str | None = None
    timeout: float = Field(default=300.0, gt=0, le=3600)

    @property
    def needs_approval(self) -> bool:
        return self.dangerous or self.action in DANGEROUS_ACTIONS


Step = Annotated[
    ManualStep
    | CommandStep
    | HttpStep
    | MetricStep
    | ApprovalStep
    | DiagnosisStep
    | MitigationStep,
    Field(discriminator="kind"),
]


def needs_approval(step: Any) -> bool:
    """Dangerous steps (rollback, scale, block traffic, or marked dangerous) need approval."""
    if isinstance(step, MitigationStep):
        return step.needs_approval
    return bool(getattr(step, "dangerous", False))


class Runbook(_Strict):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    match: Match = Match()
    # Other matches, any of which also makes the runbook apply (e.g. by type or by label).
    match_any: tuple[Match, ...] = ()
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> Runbook:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r}")
            seen.add(step.id)
        return self

    def step(self, key: str | int) -> Any:
        """A step by 1-based number or id; raise KeyError when there is none."""
        text = str(key).strip()
        if text.isdigit():
            number = int(text)
            if 1 <= number <= len(self.steps):
                return self.steps[number - 1]
            raise KeyError(key)
        for step in self.steps:
            if step.id == text:
                return step
        raise KeyError(key)

    def number_of(self, step_id: str) -> int:
        return next(n for n, s in enumerate(self.steps, start=1) if s.id == step_id)


@dataclass(frozen=True)
class LoadedRunbook:
    runbook: Runbook
    source: str  # "builtin" or a file path
    builtin: bool


@dataclass(frozen=True)
class Problem:
    source: str
    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "path": self.path, "message": self.message}


def _problems(exc: ValidationError, source: str) -> list[Problem]:
    return [
        Problem(source, ".".join(str(p) for p in err["loc"]) or "(root)", err["msg"])
        for err in exc.errors()
    ]


def parse_runbook(data: Any, source: str) -> tuple[Runbook | None, list[Problem]]:
    if not isinstance(data, Mapping):
        return None, [Problem(source, "(root)", "a runbook must be a YAML mapping")]
    try:
        return Runbook.model_validate(data), []
    except ValidationError as exc:
        return None, _problems(exc, source)


def parse_text(text: str, source: str) -> tuple[list[Runbook], list[Problem]]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        return [], [Problem(source, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    runbooks: list[Runbook] = []
    problems: list[Problem] = []
    for document in documents:
        runbook, found = parse_runbook(document, source)
        problems.extend(found)
        if runbook is not None:
            runbooks.append(runbook)
    return runbooks, problems


def builtin_runbooks() -> list[LoadedRunbook]:
    """The built-in runbooks, each a deep copy: a caller may never change what the next one
    gets (their dicts, such as `match.labels`, are mutable inside the frozen models)."""
    return [
        LoadedRunbook(loaded.runbook.model_copy(deep=True), loaded.source, loaded.builtin)
        for loaded in _parsed_builtins()
    ]


@cache
def _parsed_builtins() -> tuple[LoadedRunbook, ...]:
    """Parsed once per process: they are package data, and every runtime (and `config
    check`) reads them, twice a build; parsing their YAML costs some 35 ms a time."""
    loaded: list[LoadedRunbook] = []
    folder = resources.files("warroom.workbench") / "builtin"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            runbooks, problems = parse_text(entry.read_text("utf-8"), f"builtin/{entry.name}")
            if problems:  # pragma: no cover - the built-ins are tested
                raise ValueError(f"built-in runbook {entry.name} is invalid: {problems}")
            loaded.extend(LoadedRunbook(r, f"builtin/{entry.name}", True) for r in runbooks)
    return tuple(loaded)


def load_directory(directory: Path) -> tuple[list[LoadedRunbook], list[Problem]]:
    """Every runbook in a directory's *.yaml/*.yml files, and every problem found."""
    if not directory.is_dir():
        return [], [Problem(str(directory), "(dir)", "runbook directory does not exist")]
    loaded: list[LoadedRunbook] = []
    problems: list[Problem] = []
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            problems.append(Problem(str(path), "(file)", str(exc)))
            continue
        runbooks, found = parse_text(text, str(path))
        problems.extend(found)
        loaded.extend(LoadedRunbook(r, str(path), False) for r in runbooks)
    return loaded, problems


def combine(
    builtins: Sequence[LoadedRunbook], user: Sequence[LoadedRunbook]
) -> tuple[dict[str, LoadedRunbook], list[Problem]]:
    """User runbooks override built-ins of the same id; duplicates among user files are errors."""
    catalog = {r.runbook.id: r for r in builtins}
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for loaded in user:
        rid = loaded.runbook.id
        if rid in seen:
            problems.append(
                Problem(loaded.source, "id", f"duplicate runbook id {rid!r} (also in {seen[rid]})")
            )
            continue
        seen[rid] = loaded.source
        catalog[rid] = loaded
    return catalog, problems


def check_references(
    catalog: Mapping[str, LoadedRunbook], known_services: Iterable[str]
) -> list[Problem]:
    """Services named in matches must be in the catalog (when there is one)."""
    known = set(known_services)
    if not known:
        return []
    problems: list[Problem] = []
    for loaded in catalog.values():
        for service in loaded.runbook.match.services:
            if not any(fnmatch.fnmatchcase(name, service) for name in known):
                problems.append(
                    Problem(loaded.source, "match.services", f"unknown service {service!r}")
                )
    return problems


# (incident type, services, labels, policy name) -> whether a runbook applies.
RunbookTest = Callable[[str, Sequence[str], Mapping[str, str], str], bool]


def match_test(runbook: Runbook) -> RunbookTest:
    """`matches` for this runbook, its criteria prepared once: every new incident is matched
    against the whole catalog while alert intake declares it."""
    tests = [_match_test(m) for m in (runbook.match, *runbook.match_any) if not m.empty]

    def test(
        incident_type: str, services: Sequence[str], labels: Mapping[str, str], policy: str
    ) -> bool:
        return any(holds(incident_type, services, labels, policy) for holds in tests)

    return test


def _match_test(match: Match) -> RunbookTest:
    types = frozenset(t.value for t in match.types)
    service_globs = [_glob(pattern) for pattern in match.services]
    label_globs = [(key, _glob(pattern)) for key, pattern in match.labels.items()]
    policies = frozenset(match.policies)

    def holds(
        incident_type: str, services: Sequence[str], labels: Mapping[str, str], policy: str
    ) -> bool:
        if types and incident_type not in types:
            return False
        if service_globs and not any(
            glob(service) is not None for glob in service_globs for service in services
        ):
            return False
        if policies and policy not in policies:
            return False
        for key, glob in label_globs:
            value = labels.get(key)
            if value is None or glob(str(value)) is None:
                return False
        return True

    return holds


def _glob(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """A shell-style pattern's test, as `fnmatch.fnmatchcase` makes it."""
    return re.compile(fnmatch.translate(pattern)).match


def matches(
    runbook: Runbook,
    *,
    incident_type: str,
    services: Sequence[str],
    labels: Mapping[str, str],
    policy: str = "",
) -> bool:
    """Whether an incident of this type, services and labels, under the policy named
    `policy`, matches the runbook (its `match` or any of its `match_any`)."""
    return match_test(runbook)(incident_type, services, labels, policy)


def is_fallback(runbook: Runbook) -> bool:
    return runbook.match.fallback or any(m.fallback for m in runbook.match_any)


_VAR = re.compile(r"\$\{([a-z_]+)\}")


def render(text: str, variables: Mapping[str, str]) -> str:
    """Replace `${name}` with a variable's value; unknown names stay as they are."""
    return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def unresolved(text: str, variables: Mapping[str, str]) -> list[str]:
    return sorted({m.group(1) for m in _VAR.finditer(text) if m.group(1) not in variables})
