"""The YAML config file (`WARROOM_CONFIG`): the policy, the service catalog, and the sections
capability packages add. Validated strictly, offline, with every problem's path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warroom.core.errors import ConfigError
from warroom.policy import Policy
from warroom.policy.loader import parse_policy, validation_problems

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")


class ServiceConfig(BaseModel):
    """A catalog entry: who owns it, what it depends on, how to roll it back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    owner_team: str | None = None
    tier: int | None = Field(default=None, ge=0, le=5)
    dependencies: tuple[str, ...] = ()
    rollback_command: str | None = None
    escalation_policy: str | None = None
    runbooks: tuple[str, ...] = ()
    health_checks: tuple[dict[str, Any], ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("a service name is a lowercase slug (letters, digits, . _ -)")
        return value


class _Services(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[ServiceConfig] = Field(default_factory=list)


class AppConfig(BaseModel):
    """The validated configuration handed to the runtime."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    policy: Policy
    services: tuple[ServiceConfig, ...] = ()
    # Validated sections that capability packages own, by name (e.g. "integrations").
    sections: dict[str, Any] = Field(default_factory=dict)

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)

    def section(self, name: str) -> Any:
        """A package's validated section (its model's defaults when the file omits it)."""
        return self.sections.get(name)


def _plugin_sections() -> tuple[dict[str, type[BaseModel]], list[Any]]:
    """Sections (name -> model) and cross-checks that plug-in packages declare
    (`Plugin.config_sections` and `Plugin.check_config`)."""
    from warroom.core.plugins import load_plugins

    sections: dict[str, type[BaseModel]] = {}
    checks: list[Any] = []
    for plugin in load_plugins():
        sections.update(plugin.config_sections())
        checks.append(plugin.check_config)
    return sections, checks


def default_config() -> AppConfig:
    return parse_config({})


def _problems_of(data: Any) -> tuple[AppConfig | None, list[dict[str, str]]]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [{"path": "(root)", "message": "the config file must be a YAML mapping"}]
    section_models, checks = _plugin_sections()
    known = {"policy", "services", *section_models}
    core = {k: v for k, v in data.items() if k in known}
    problems: list[dict[str, str]] = []
    for key in data:
        if key not in known:
            problems.append(
                {"path": str(key), "message": f"unknown section; known: {', '.join(sorted(known))}"}
            )
    sections: dict[str, Any] = {}
    for name, model in section_models.items():
        try:
            sections[name] = model.model_validate(core.get(name) or {})
        except ValidationError as exc:
            problems.extend(validation_problems(exc, name))
    policy: Policy | None = None
    try:
        policy = parse_policy(core.get("policy", "default"), path="policy")
    except ConfigError as exc:
        problems.extend(exc.details or [{"path": "policy", "message": exc.message}])
    services: list[ServiceConfig] = []
    try:
        services = _Services.model_validate({"services": core.get("services") or []}).services
    except ValidationError as exc:
        problems.extend(validation_problems(exc))
    names = [s.name for s in services]
    for n, service in enumerate(services):
        if names.count(service.name) > 1 and names.index(service.name) != n:
            problems.append({"path": f"services.{n}.name", "message": "duplicate service name"})
        for dep in service.dependencies:
            if dep not in names:
                problems.append(
                    {
                        "path": f"services.{n}.dependencies",
                        "message": f"unknown service {dep!r} (not in services)",
                    }
                )
            elif dep == service.name:
                problems.append(
                    {"path": f"services.{n}.dependencies", "message": "depends on itself"}
                )
    if problems or policy is None:
        return None, problems
    config = AppConfig(policy=policy, services=tuple(services), sections=sections)
    for check in checks:
        problems.extend(check(config))
    return (None, problems) if problems else (config, [])


def parse_config(data: Any, *, source: str = "config") -> AppConfig:
    """Validate config data; raise ConfigError listing every problem."""
    config, problems = _problems_of(data)
    if config is None:
        first = problems[0]
        raise ConfigError(
            f"{source}: {len(problems)} problem(s); first: {first['path']}: {first['message']}",
            details=problems,
        )
    return config


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}",
            details=[{"path": "(file)", "message": str(exc.strerror or exc)}],
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(
            f"{path} is not valid YAML at {where}",
            details=[{"path": where, "message": str(getattr(exc, "problem", exc))}],
        ) from None


def load_config(path: Path | None) -> AppConfig:
    """The config from a file, or the defaults when no file is configured."""
    if path is None:
        return default_config()
    return parse_config(_read_yaml(path), source=str(path))


def config_file_warnings(path: Path) -> list[dict[str, str]]:
    """What a valid config file does that deserves a second look (unsafe options turned on).

    Plug-ins report them through `Plugin.config_warnings`.
    """
    from warroom.core.plugins import load_plugins

    try:
        config, problems = _problems_of(_read_yaml(path))
    except ConfigError:
        return []
    if config is None or problems:
        return []
    warnings = [{"path": path, "message": message} for path, message in config.policy.warnings()]
    for plugin in load_plugins():
        warnings.extend(plugin.config_warnings(config))
    return warnings


def check_config_file(path: Path) -> list[dict[str, str]]:
    """Every problem in a config file (empty when it is valid)."""
    try:
        data = _read_yaml(path)
    except ConfigError as exc:
        return list(exc.details or [])
    return _problems_of(data)[1]
