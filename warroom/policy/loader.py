"""Loading policies: built-in presets, `extends`, and errors with the path of the bad field."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from warroom.core.errors import ConfigError
from warroom.policy.schema import CrossReferenceError, Policy

PRESET_NAMES: tuple[str, ...] = (
    "default",
    "nexus-micro",
    "orchestrator",
    "bmad-p0-p4",
    "hierarchical",
    "phased",
)


def validation_problems(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as [{path, message}], cross-reference errors expanded one per path."""
    problems: list[dict[str, str]] = []
    for error in exc.errors():
        base = ".".join(str(part) for part in error.get("loc", ()))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, CrossReferenceError):
            for path, message in cause.problems:
                problems.append({"path": _join(prefix, _join(base, path)), "message": message})
            continue
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"path": _join(prefix, base) or prefix or "(root)", "message": message})
    return problems


def _join(a: str, b: str) -> str:
    return ".".join(part for part in (a, b) if part)


@cache
def _preset_data(name: str) -> dict[str, Any]:
    if name not in PRESET_NAMES:
        raise ConfigError(
            f"unknown policy preset {name!r}; presets are {', '.join(PRESET_NAMES)}",
            details=[{"path": "policy", "message": f"unknown preset {name!r}"}],
        )
    text = resources.files("warroom.policy").joinpath(f"presets/{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    base = data.pop("extends", None)
    # Presets may build on another preset; the result is always a complete policy.
    return {**_preset_data(base), **data} if base else data


def load_preset(name: str) -> Policy:
    """One built-in preset, validated."""
    return parse_policy(dict(_preset_data(name)), path="preset:" + name)


def parse_policy(data: Any, *, path: str = "policy") -> Policy:
    """A policy from a preset name or a mapping (`extends: PRESET` overrides top-level keys)."""
    if data is None:
        data = "default"
    if isinstance(data, str):
        if data not in PRESET_NAMES:
            raise ConfigError(
                f"unknown policy preset {data!r}; presets are {', '.join(PRESET_NAMES)}",
                details=[{"path": path, "message": f"unknown preset {data!r}"}],
            )
        data = dict(_preset_data(data))
    if not isinstance(data, dict):
        raise ConfigError(
            "the policy must be a preset name or a mapping",
            details=[{"path": path, "message": "must be a preset name or a mapping"}],
        )
    data = dict(data)
    base = data.pop("extends", None)
    if base is not None:
        if base not in PRESET_NAMES:
            raise ConfigError(
                f"unknown preset {base!r} in extends",
                details=[{"path": f"{path}.extends", "message": f"unknown preset {base!r}"}],
            )
        data = {**_preset_data(base), "name": f"{base} (customised)", **data}
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, path)
        raise ConfigError(
            f"invalid policy: {problems[0]['path']}: {problems[0]['message']}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            details=problems,
        ) from None


def policy_to_data(policy: Policy) -> dict[str, Any]:
    """The policy as JSON/YAML-ready data (durations as text like `15m`)."""
    data: dict[str, Any] = policy.model_dump(mode="json")
    return data
