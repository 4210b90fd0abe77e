"""The `postmortems:` section of the config file: reminders, notifications, trackers, beads."""

from __future__ import annotations

import os
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from warroom.policy.schema import Duration


class GitHubConfig(BaseModel):
    """GitHub issues: `repo` is owner/name; the token comes from the env var `token_env`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = "https://api.github.com"
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    token: SecretStr | None = None
    token_env: str = "GITHUB_TOKEN"
    labels: tuple[str, ...] = ("post-mortem",)
    timeout_seconds: float = 10.0

    def secret(self) -> str | None:
        if self.token is not None:
            return self.token.get_secret_value()
        return os.environ.get(self.token_env)


class JiraConfig(BaseModel):
    """Jira (REST API v2): basic auth with email + API token, or a bearer personal token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    project: str
    issue_type: str = "Task"
    email: str | None = None
    token: SecretStr | None = None
    token_env: str = "JIRA_TOKEN"
    done_transition: str = "Done"
    labels: tuple[str, ...] = ("post-mortem",)
    timeout_seconds: float = 10.0

    def secret(self) -> str | None:
        if self.token is not None:
            return self.token.get_secret_value()
        return os.environ.get(self.token_env)


class PostmortemsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Reminders before a post-mortem is due.
    reminders_before: tuple[Duration, ...] = (timedelta(hours=24), timedelta(hours=2))
    # Apprise URLs for reminders (to the owner's channel) and for overdue escalations.
    reminder_urls: tuple[str, ...] = ()
    escalation_urls: tuple[str, ...] = ()
    # Who an overdue post-mortem escalates to (a policy contact or incident role).
    escalate_to: tuple[str, ...] = ("contact:engineering_manager",)
    # When no commander is assigned, the resolver owns the post-mortem.
    default_due: Duration = timedelta(days=7)
    github: GitHubConfig | None = None
    jira: JiraConfig | None = None
    beads_prefix: str = Field(default="inc", pattern=r"^[a-z][a-z0-9-]{0,19}$")
    # Recurring pattern: same service and root-cause category this many times in the window.
    pattern_threshold: int = Field(default=3, ge=2)
    pattern_window: Duration = timedelta(days=90)
    root_cause_categories: tuple[str, ...] = (
        "deployment",
        "configuration",
        "capacity",
        "dependency",
        "code",
        "infrastructure",
        "data",
        "security",
        "process",
        "unknown",
    )
