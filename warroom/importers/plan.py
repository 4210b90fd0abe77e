"""The import plan: what a vendor's configuration becomes in warroom (the typed contract between
the vendor readers, which run in the CLI with the vendor's token, and the server that applies it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from warroom.oncall.models import EscalationPolicyIn, OverrideIn, PersonIn, ScheduleIn, TeamIn

Vendor = Literal["pagerduty", "opsgenie", "grafana-oncall"]
Kind = Literal[
    "person", "team", "schedule", "override", "escalation_policy", "service", "integration"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportedPerson(_Model):
    vendor_id: str = Field(min_length=1, max_length=200)
    person: PersonIn


class ImportedTeam(_Model):
    vendor_id: str = Field(min_length=1, max_length=200)
    team: TeamIn


class ImportedOverride(_Model):
    vendor_id: str = Field(min_length=1, max_length=200)
    override: OverrideIn


class ImportedSchedule(_Model):
    vendor_id: str = Field(min_length=1, max_length=200)
    schedule: ScheduleIn
    overrides: list[ImportedOverride] = Field(default_factory=list)


class ImportedPolicy(_Model):
    vendor_id: str = Field(min_length=1, max_length=200)
    policy: EscalationPolicyIn


class RoutingKey(_Model):
    """An events integration's key senders use today: kept, so they change only the URL."""

    vendor_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=120)
    key: str = Field(min_length=20, max_length=64)


class ImportedService(_Model):
    """A vendor service: its name, the escalation policy that pages for it, what its
    integrations were for, and the event routing keys to keep."""

    vendor_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=120)
    escalation_policy: str | None = None
    integrations: list[str] = Field(default_factory=list, max_length=100)
    routing_keys: list[RoutingKey] = Field(default_factory=list, max_length=100)


class Skipped(_Model):
    """Something of the vendor's that has no place in warroom, with the reason."""

    kind: str
    vendor_id: str = ""
    name: str = ""
    why: str


class ImportPlan(_Model):
    vendor: Vendor
    people: list[ImportedPerson] = Field(default_factory=list, max_length=5000)
    teams: list[ImportedTeam] = Field(default_factory=list, max_length=1000)
    schedules: list[ImportedSchedule] = Field(default_factory=list, max_length=1000)
    escalation_policies: list[ImportedPolicy] = Field(default_factory=list, max_length=1000)
    services: list[ImportedService] = Field(default_factory=list, max_length=5000)
    skipped: list[Skipped] = Field(default_factory=list)


Action = Literal["create", "update", "unchanged", "skip"]


class ImportAction(_Model):
    kind: Kind
    name: str
    vendor_id: str
    action: Action
    why: str = ""


class ImportReport(_Model):
    vendor: Vendor
    dry_run: bool
    actions: list[ImportAction]
    skipped: list[Skipped]

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a.action == action)
