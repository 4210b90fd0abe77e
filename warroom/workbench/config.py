"""The workbench's config sections and the service catalog's health checks."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from warroom.policy.schema import Duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandExecutorConfig(_Strict):
    """Shell commands run only when enabled and only for allow-listed runbooks."""

    enabled: bool = False
    allow_runbooks: tuple[str, ...] = ()
    # Environment variables every command may see (besides its own env_allow).
    env_allow: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "TZ")
    max_output: int = Field(default=4000, ge=100, le=100_000)


class RunbooksConfig(_Strict):
    """`runbooks:` in the config file."""

    dir: Path | None = None
    command_executor: CommandExecutorConfig = CommandExecutorConfig()
    # The Prometheus HTTP API used by metric steps and metric health checks.
    prometheus_url: str | None = None
    # Run the automatic steps of matching runbooks when an incident is declared.
    auto_run: bool = True


class ChangesConfig(_Strict):
    """`changes:` in the config file."""

    window: Duration = timedelta(hours=24)
    # Correlations below this score are not put on the timeline (still listed on request).
    min_score: float = Field(default=0.1, ge=0, le=1)
    max_on_timeline: int = Field(default=3, ge=0, le=50)


class VerificationConfig(_Strict):
    """`verification:` in the config file: how often checks run inside the window."""

    interval: Duration = timedelta(minutes=5)
    # Apprise URLs told about a regression (e.g. the war-room channel); the commander's own
    # contact methods belong to the on-call package, which escalates on the flag.
    notify_urls: tuple[str, ...] = ()


class GitHubPrSettings(_Strict):
    """The GitHub repository emergency pull requests are opened in (REST API). The token
    comes from `token` or the environment variable `token_env`; it needs pull-request and
    issue write access to `repo`."""

    api_url: str = "https://api.github.com"
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    token: SecretStr | None = None
    token_env: str = "GITHUB_TOKEN"
    # The branch the fix is merged into.
    base: str = Field(default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
    # The policy's PR reviewers (hotfix.pr_reviewers, e.g. "on-call") as GitHub logins or
    # `team:SLUG`; a reviewer without a mapping is not requested (the PR says so).
    reviewers: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("reviewers")
    @classmethod
    def _reviewers(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, targets in value.items():
            for target in targets:
                login = target.removeprefix("team:")
                if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,99})", login):
                    raise ValueError(
                        f"reviewer {target!r} for {name!r}: a GitHub login or team:SLUG"
                    )
        return value

    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    def secret(self) -> str | None:
        if self.token is not None:
            return self.token.get_secret_value()
        return os.environ.get(self.token_env) or None


class EmergencyPrConfig(_Strict):
    """`emergency_pr:` in the config file: where a hotfix's emergency pull request is opened
    (`github: {repo, token_env, ...}`); without it the PR stays a draft in warroom."""

    github: GitHubPrSettings | None = None


class HttpHealthCheck(_Strict):
    kind: Literal["http"] = "http"
    name: str = ""
    url: str
    expect_status: tuple[int, ...] = (200,)
    expect_body: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=120)


class MetricHealthCheck(_Strict):
    kind: Literal["metric"]
    name: str = ""
    query: str
    op: Literal["<", "<=", ">", ">="] = "<"
    threshold: float
    baseline_window: Duration | None = None
    max_ratio: float | None = Field(default=None, gt=0)
    prometheus_url: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)


HealthCheck = HttpHealthCheck | MetricHealthCheck


def parse_health_check(data: Any) -> HealthCheck:
    """A catalog health check: `{url, expect_status?}` (http) or `{kind: metric, query, ...}`."""
    if isinstance(data, dict) and data.get("kind") == "metric":
        return MetricHealthCheck.model_validate(data)
    return HttpHealthCheck.model_validate(data)


def health_check_problems(data: Any, path: str) -> list[dict[str, str]]:
    try:
        parse_health_check(data)
    except ValidationError as exc:
        return [
            {"path": f"{path}.{'.'.join(str(p) for p in e['loc'])}", "message": e["msg"]}
            for e in exc.errors()
        ]
    return []
