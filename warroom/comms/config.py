"""The `comms` config section: stakeholder groups, editable templates, status page settings."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StakeholderGroup(_Strict):
    """People who hear about incidents that match: Apprise URLs tried in order (fallback)."""

    name: str
    urls: tuple[str, ...] = Field(min_length=1)
    # Empty means every severity / every service.
    severities: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    # internal: the full internal update; brief: the executive brief (when one is written,
    # else the internal update); public: only the public wording.
    format: Literal["internal", "brief", "public"] = "internal"
    updates: bool = True
    resolution: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("a group name is a lowercase slug (letters, digits, . _ -)")
        return value


class Templates(_Strict):
    """Sandboxed Jinja templates; empty means the built-in one (see docs/communications.md)."""

    internal: str = ""
    public: str = ""
    brief: str = ""
    resolution: str = ""
    public_resolution: str = ""


class StatusPageSettings(_Strict):
    name: str = "Status"
    time_zone: str = "Etc/UTC"
    # Email subscribers: an Apprise mailto/mailtos URL for the SMTP account; `to=` is added.
    email_url: str | None = None
    allow_email_subscribers: bool = True
    allow_webhook_subscribers: bool = True
    # Webhook subscribers on loopback/private addresses are refused unless this is on
    # (the public subscribe form must not turn warroom into a proxy into your network).
    allow_private_webhooks: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Severity rank -> public impact; rank 1 is the most severe level.
    impact_by_rank: tuple[Literal["none", "minor", "major", "critical"], ...] = (
        "critical",
        "major",
        "minor",
        "none",
    )


class CommsConfig(_Strict):
    stakeholders: tuple[StakeholderGroup, ...] = ()
    templates: Templates = Templates()
    statuspage: StatusPageSettings = StatusPageSettings()
