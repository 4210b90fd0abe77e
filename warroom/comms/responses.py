"""Response models of the communications API (`warroom/comms/api.py`): status updates,
reports, stakeholders and the status page's administration."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoDate, IsoTime, Number


class Audience(ApiModel):
    public: bool
    brief: bool
    stakeholders: list[str] = Field(description="the stakeholder groups told")


class UpdatePreview(ApiModel):
    """The texts an update renders to, per audience (nothing is sent)."""

    internal: str
    public: str | None
    brief: str | None
    next_update_at: IsoTime | None
    audience: Audience


class UpdateFields(ApiModel):
    """A published update's fields (updates stored by older versions may lack the later ones)."""

    status: str
    impact: str | None = None
    action: str | None = None
    next_update_at: IsoTime | None = None
    note: str | None = None
    cause: str | None = None
    eta: str | None = None
    business_impact: str | None = None
    internal: str | None = None
    public: str | None = None
    brief: str | None = None
    audience: Audience | None = None


class UpdatePublished(UpdateFields):
    incident: str
    last_update_at: IsoTime | None
    public_incident: str | None = Field(description="the status page incident it updated")


class Update(UpdateFields):
    occurred_at: IsoTime
    actor: str


class UpdateList(ApiModel):
    id: str
    items: list[Update]


class InitialDraftUpdate(ApiModel):
    status: str
    impact: str
    action: str
    note: str | None = None
    public_impact: str | None = None
    public_title: str | None = None
    notify: bool | None = None


class InitialDraft(UpdatePreview):
    update: InitialDraftUpdate = Field(description="the update that would be published")


class Report(ApiModel):
    id: str
    format: str = Field(examples=["md", "html"])
    path: str = Field(description="where the report was saved")
    content: str


class StakeholderGroup(ApiModel):
    name: str
    channels: list[str] = Field(description="channels only, never URLs")
    severities: list[str]
    services: list[str]
    format: str
    updates: bool
    resolution: bool


class StakeholderList(ApiModel):
    items: list[StakeholderGroup]


class Component(ApiModel):
    id: str = Field(description="the slug")
    name: str
    description: str
    group: str | None
    service: str | None
    position: int
    status: str = Field(examples=["operational", "degraded_performance", "major_outage"])
    showcase: bool
    only_show_if_degraded: bool
    archived: bool
    published: bool = Field(description="false: a draft, on no public page")
    created_at: IsoTime
    updated_at: IsoTime


class ComponentList(ApiModel):
    items: list[Component]


class ComponentsSynced(ApiModel):
    added: int = Field(description="components added for services that had none")
    items: list[Component]


class AffectedComponent(ApiModel):
    code: str
    name: str
    old_status: str
    new_status: str


class PublicUpdate(ApiModel):
    id: str
    status: str
    body: str
    incident_id: str
    created_at: IsoTime
    updated_at: IsoTime
    display_at: IsoTime
    affected_components: list[AffectedComponent]


class PublicComponent(ApiModel):
    id: str
    name: str
    status: str
    created_at: IsoTime | None
    updated_at: IsoTime | None
    position: int
    description: str | None
    showcase: bool
    start_date: IsoDate | None
    group_id: str | None
    page_id: str
    group: bool
    only_show_if_degraded: bool
    components: list[str] | None = Field(default=None, description="a group's components")


class PublicIncident(ApiModel):
    """A status page incident (in the Atlassian Statuspage v2 shape)."""

    id: str
    name: str
    status: str
    impact: str
    created_at: IsoTime
    updated_at: IsoTime
    monitoring_at: IsoTime | None
    resolved_at: IsoTime | None
    started_at: IsoTime | None
    shortlink: str
    page_id: str
    incident_updates: list[PublicUpdate]
    components: list[PublicComponent]


class PublicIncidentList(ApiModel):
    items: list[PublicIncident]


class Maintenance(PublicIncident):
    scheduled_for: IsoTime
    scheduled_until: IsoTime


class MaintenanceList(ApiModel):
    items: list[Maintenance]


class MaintenanceCancelled(ApiModel):
    id: str
    cancelled: bool


class Subscriber(ApiModel):
    id: int
    kind: str = Field(examples=["email", "webhook"])
    target: str
    components: list[str]
    status: str
    created_at: IsoTime
    confirmed_at: IsoTime | None
    unsubscribed_at: IsoTime | None


class SubscriberList(ApiModel):
    items: list[Subscriber]


class SubscriptionPending(ApiModel):
    status: str = Field(examples=["pending_confirmation"])
    kind: str


class Unsubscribed(ApiModel):
    id: int
    unsubscribed: bool


# ---- the public status page API (`warroom/comms/public.py`, Atlassian Statuspage v2 shape) ----


class PageInfo(ApiModel):
    id: str
    name: str
    url: str
    time_zone: str
    updated_at: IsoTime


class StatusIndicator(ApiModel):
    indicator: str = Field(examples=["none", "minor", "major", "critical"])
    description: str


class PublicComponents(ApiModel):
    page: PageInfo
    components: list[PublicComponent]


class PublicStatus(ApiModel):
    page: PageInfo
    status: StatusIndicator


class PublicIncidents(ApiModel):
    page: PageInfo
    incidents: list[PublicIncident]


class DayUptime(ApiModel):
    date: IsoDate
    uptime: Number = Field(description="percent of the day up")
    worst: str = Field(description="the worst status of the day")


class ComponentUptime(ApiModel):
    id: str
    name: str
    status: str
    uptime: Number = Field(description="percent up over the window")
    days: list[DayUptime] = Field(description="oldest first")


class PublicUptime(ApiModel):
    page: PageInfo
    days: int = Field(description="the window, in days")
    components: list[ComponentUptime]


class PublicMaintenances(ApiModel):
    page: PageInfo
    scheduled_maintenances: list[Maintenance]


class PublicSummary(ApiModel):
    page: PageInfo
    status: StatusIndicator
    components: list[PublicComponent]
    incidents: list[PublicIncident]
    scheduled_maintenances: list[Maintenance]
