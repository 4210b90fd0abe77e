"""Response models of the on-call API (`warroom/oncall/api.py`)."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime, JsonObject, Number


class ContactMethod(ApiModel):
    """A way to reach a person; the URL is a secret, so only its channel is shown."""

    name: str
    channel: str = Field(examples=["ntfy"])
    delay_minutes: Number


class Person(ApiModel):
    id: int
    name: str
    display_name: str
    email: str
    timezone: str
    contact_methods: list[ContactMethod]
    preferences: JsonObject
    created_at: IsoTime | None
    updated_at: IsoTime | None
    disabled_at: IsoTime | None = None


class PersonList(ApiModel):
    items: list[Person]


class Team(ApiModel):
    id: int
    name: str
    members: list[str]
    manager: str | None
    created_at: IsoTime | None
    updated_at: IsoTime | None


class TeamList(ApiModel):
    items: list[Team]


class Layer(ApiModel):
    """A rotation layer (see docs/oncall.md for its fields)."""

    name: str | None = None
    users: list[str]
    start: str
    shift_length: int | None = None
    shift_unit: str | None = None
    restrictions: list[JsonObject] | None = None


class Override(ApiModel):
    id: int
    user: str
    replaces: str | None
    start: IsoTime
    end: IsoTime
    created_by: str


class Schedule(ApiModel):
    id: int
    name: str
    description: str
    timezone: str
    layers: list[Layer]
    created_at: IsoTime | None
    updated_at: IsoTime | None
    overrides: list[Override] | None = None


class ScheduleList(ApiModel):
    items: list[Schedule]


class ScheduleImport(ApiModel):
    schedule: str
    shifts_added: int
    shifts_unchanged: int
    shifts_removed: int
    skipped: list[JsonObject]


class OverrideList(ApiModel):
    items: list[Override]


class Shift(ApiModel):
    person: str | None
    start: IsoTime
    end: IsoTime


class ShiftList(ApiModel):
    schedule: str
    items: list[Shift]


class FeedUrl(ApiModel):
    url: str = Field(description="a signed iCalendar feed URL (a secret)")


class EscalationLevel(ApiModel):
    delay_minutes: Number
    targets: list[str]
    mode: str | None = None


class EscalationPolicy(ApiModel):
    id: int | None = None
    name: str
    description: str
    levels: list[EscalationLevel]
    repeat: int
    created_at: IsoTime | None = None
    updated_at: IsoTime | None = None
    source: str | None = Field(default=None, examples=["database", "config"])


class EscalationPolicyList(ApiModel):
    items: list[EscalationPolicy]


class ServicePolicy(ApiModel):
    """The escalation policy that pages for a service, and where that is set."""

    service: str
    in_catalog: bool
    config_policy: str | None
    escalation_policy: str | None
    source: str | None
    updated_by: str | None = None
    updated_at: IsoTime | None = None


class ServicePolicyList(ApiModel):
    items: list[ServicePolicy]


class PagingProblem(ApiModel):
    """An open, unacknowledged incident whose page reached nobody."""

    incident: str
    title: str
    severity: str
    services: list[str]
    problem: str
    policy: str | None = None
    targets: list[str] | None = None
    unreached: list[str | JsonObject] | None = None
    without_contact_methods: list[str] | None = None
    fallback_contact: str | None = None
    fallback_notified: list[str] | None = None
    since: IsoTime


class PagingProblemList(ApiModel):
    items: list[PagingProblem]


class Activation(ApiModel):
    """The response team the policy requires for an incident and which roles are missing."""

    incident: str
    severity: str
    paging: str
    commander_notified_at_declaration: bool
    roles_required: list[str]
    roles: dict[str, str]
    roles_missing: list[str]
    remind_at: IsoTime | None
    add_to_backlog: bool
    paging_problem: JsonObject | None


class Contact(ApiModel):
    name: str
    description: str | None = None
    targets: list[str]
    source: str | None


class ContactList(ApiModel):
    items: list[Contact]


class OnCall(ApiModel):
    schedule: str
    person: str | None
    since: IsoTime | None
    until: IsoTime | None
    at: IsoTime


class OnCallList(ApiModel):
    items: list[OnCall]


class PageSent(ApiModel):
    id: int
    target: str
    people: list[str]
    created_at: IsoTime


class Page(ApiModel):
    id: int
    target: str
    message: str
    severity: str | None
    created_by: str
    created_at: IsoTime
    acknowledged_at: IsoTime | None
    acknowledged_by: str | None


class PageList(ApiModel):
    items: list[Page]


class LinkAcknowledged(ApiModel):
    """What an acknowledgement link did (its page or incident, and who)."""

    acknowledged: str
    by: str
    id: str | int
    status: str
