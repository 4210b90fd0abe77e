"""Validated input and config models for people, teams, schedules and escalation policies."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.core.inputs import time_zone
from warroom.oncall import schedule as sm

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
# `manager:TEAM` is a team's manager; `manager:*` the managers of the teams owning the
# incident's services (it reaches nobody outside an incident).
TARGET = re.compile(r"^(?:(person|team|schedule|manager):[a-z0-9][a-z0-9._-]{0,79}|manager:\*)$")
TARGET_HELP = "person:NAME, team:NAME, schedule:NAME, manager:TEAM or manager:*"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Names the web's on-call pages use themselves (`/oncall/schedules/new`, `.../import`).
RESERVED_NAMES = frozenset({"new", "import"})


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("a name is a lowercase slug (letters, digits, . _ -)")
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved (the web's on-call pages use it); pick another")
    return value


def _tz(value: str) -> str:
    time_zone(value)
    return value


def _targets(value: list[str]) -> list[str]:
    bad = [t for t in value if not TARGET.match(t)]
    if bad:
        raise ValueError(f"targets look like {TARGET_HELP}: {bad}")
    return value


class ContactMethod(Model):
    """An Apprise URL; `delay_minutes` after the page it is used if still unacknowledged."""

    name: str = Field(default="", max_length=40)
    url: str = Field(min_length=3, max_length=2000)
    delay_minutes: int = Field(default=0, ge=0, le=1440)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from warroom.notify.delivery import is_valid_url

        if not is_valid_url(value):
            raise ValueError("not an Apprise URL warroom can deliver to (e.g. ntfy://, mailto://)")
        return value


class PersonIn(Model):
    name: str
    display_name: str = ""
    email: str = ""
    timezone: str = "UTC"
    contact_methods: list[ContactMethod] = Field(default_factory=list, max_length=10)
    # severity id -> contact method names to use for it (in order); absent = every method.
    preferences: dict[str, list[str]] = Field(default_factory=dict)

    _n = field_validator("name")(_name)
    _t = field_validator("timezone")(_tz)

    @model_validator(mode="after")
    def _methods(self) -> PersonIn:
        for n, method in enumerate(self.contact_methods):
            if not method.name:
                method.name = f"m{n + 1}"
        names = [m.name for m in self.contact_methods]
        if len(set(names)) != len(names):
            raise ValueError("contact method names must be unique")
        for severity, chosen in self.preferences.items():
            unknown = [c for c in chosen if c not in names]
            if unknown:
                raise ValueError(f"preferences.{severity}: unknown contact method(s) {unknown}")
        return self


class PersonPatch(Model):
    display_name: str | None = None
    email: str | None = None
    timezone: str | None = None
    contact_methods: list[ContactMethod] | None = None
    preferences: dict[str, list[str]] | None = None


class TeamIn(Model):
    name: str
    members: list[str] = Field(default_factory=list)
    manager: str | None = None

    _n = field_validator("name")(_name)


class TeamPatch(Model):
    members: list[str] | None = None
    manager: str | None = None


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: list[Day] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class RestrictionIn(Model):
    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS))
    start: time = time(0, 0)
    end: time = time(0, 0)


class LayerIn(Model):
    name: str = ""
    users: list[str] = Field(min_length=1)
    start: datetime = Field(description="first handoff, local time in the schedule's timezone")
    shift_length: int = Field(default=1, ge=1, le=10000)
    shift_unit: Literal["hours", "days", "weeks"] = "weeks"
    restrictions: list[RestrictionIn] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        # The handoff is wall-clock time in the schedule's zone; an offset given is dropped.
        return value.replace(tzinfo=None)


class ScheduleIn(Model):
    name: str
    description: str = ""
    timezone: str = "UTC"
    layers: list[LayerIn] = Field(default_factory=list)

    _n = field_validator("name")(_name)
    _t = field_validator("timezone")(_tz)


class SchedulePatch(Model):
    description: str | None = None
    timezone: str | None = None
    layers: list[LayerIn] | None = None


class OverrideIn(Model):
    start: datetime
    end: datetime
    user: str
    replaces: str | None = None

    @model_validator(mode="after")
    def _order(self) -> OverrideIn:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("override start and end need a timezone offset (or Z)")
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")
        return self


class SwapIn(Model):
    """Two people trade shifts: `first` covers one shift, `second` the other (each names
    whose shift it `replaces`); both are written in one transaction."""

    first: OverrideIn
    second: OverrideIn


class LevelIn(Model):
    delay_minutes: int = Field(default=15, ge=0, le=1440)
    targets: list[str] = Field(min_length=1)
    mode: Literal["all", "round_robin"] = "all"

    _t = field_validator("targets")(_targets)


class EscalationPolicyIn(Model):
    name: str
    description: str = ""
    levels: list[LevelIn] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=10)

    _n = field_validator("name")(_name)


class EscalationPolicyPatch(Model):
    description: str | None = None
    levels: list[LevelIn] | None = None
    repeat: int | None = Field(default=None, ge=0, le=10)


SERVICE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")


def check_service_name(value: str) -> str:
    """A service name as the catalog spells it (InvalidInput otherwise)."""
    from warroom.core.errors import InvalidInput

    if not SERVICE.match(value):
        raise InvalidInput(
            f"{value[:100]!r} is not a service name (a lowercase slug: letters, digits, . _ -)",
            code="bad_service",
        )
    return value


class ServicePolicyIn(Model):
    escalation_policy: str = Field(min_length=1, max_length=80)


class ContactTargetsIn(Model):
    targets: list[str]

    _t = field_validator("targets")(_targets)


class OncallSection(Model):
    """The `oncall:` config section."""

    # policy contact name -> targets (person:, team:, schedule:, manager:)
    contacts: dict[str, list[str]] = Field(default_factory=dict)
    # Policy contacts that, when nobody mapped them, reach the managers of the teams owning
    # the incident's services (the seeds' "escalate to the engineering manager").
    manager_contacts: list[str] = Field(default_factory=lambda: ["engineering_manager"])
    escalation_policies: list[EscalationPolicyIn] = Field(default_factory=list)
    default_escalation_policy: str | None = None
    ack_link_ttl_minutes: int = Field(default=24 * 60, ge=1)
    # Policy contacts told, in this order (the first that reaches someone with a contact
    # method), when an incident that must page could page nobody.
    fallback_contacts: list[str] = Field(
        default_factory=lambda: ["backup", "engineering_manager", "incident_commander"]
    )


class PageIn(Model):
    target: str = Field(
        description="person:NAME, team:NAME, schedule:NAME or manager:TEAM (or a bare name)"
    )
    message: str = Field(min_length=1, max_length=4000)
    severity: str | None = None


def layer_of(data: dict[str, Any]) -> sm.Layer:
    return sm.Layer(
        users=tuple(data["users"]),
        start=datetime.fromisoformat(data["start"]).replace(tzinfo=None),
        length=int(data.get("shift_length", 1)),
        unit=str(data.get("shift_unit", "weeks")),
        restrictions=tuple(
            sm.Restriction(
                days=tuple(r.get("days") or sm.DAYS),
                start=time.fromisoformat(r.get("start", "00:00")),
                end=time.fromisoformat(r.get("end", "00:00")),
            )
            for r in data.get("restrictions", [])
        ),
        name=str(data.get("name", "")),
    )
