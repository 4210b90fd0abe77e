"""Response models of the alerts API (`warroom/alerts/api.py`): intake, alerts, integrations,
routes, silences and heartbeats."""

from __future__ import annotations

from pydantic import Field

from warroom.api.models import ApiModel, IsoTime, JsonObject, Number


class IntakeCounters(ApiModel):
    received: int
    created: int
    deduplicated: int
    acknowledged: int
    resolved: int
    silenced: int
    recorded: int
    dropped: int
    tests: int


class IntakeAccepted(ApiModel):
    """A webhook's alerts are in the intake log (202); `Location` names where to see what
    became of them (`GET /api/v1/alerts/requests/{request}`)."""

    status: str = Field(examples=["accepted"])
    integration: str
    received: int = Field(description="alerts in the request")
    request: int = Field(description="the intake request id")


class IntakeRequest(ApiModel):
    """What became of one webhook request: pending, or processed with what it did."""

    request: int
    status: str = Field(examples=["pending", "processed"])
    integration: str
    received_at: IsoTime
    processed_at: IsoTime | None
    received: int | None = None
    created: int | None = None
    deduplicated: int | None = None
    acknowledged: int | None = None
    resolved: int | None = None
    silenced: int | None = None
    recorded: int | None = None
    dropped: int | None = None
    tests: int | None = None
    alerts: list[int] | None = Field(default=None, description="alerts stored or updated")
    incidents: list[str] | None = Field(default=None, description="incidents declared or updated")
    error: str | None = Field(default=None, description="why it could not be processed")


class IntakeCounts(IntakeCounters):
    open: int
    rate_limited: int


class PagerDutyAccepted(ApiModel):
    """The PagerDuty Events API v2 answer (202)."""

    status: str = Field(examples=["success"])
    message: str
    dedup_key: str


class Silence(ApiModel):
    id: int
    matchers: list[str]
    starts_at: IsoTime
    ends_at: IsoTime
    author: str
    comment: str
    created_at: IsoTime
    expired_at: IsoTime | None
    state: str = Field(examples=["active"])


class SilenceList(ApiModel):
    items: list[Silence]


class Alert(ApiModel):
    id: int
    integration: str
    kind: str
    identity: str
    status: str
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str]
    details: JsonObject
    source_severity: str | None
    severity: str | None
    service: str | None
    action: str
    route: str | None
    silenced: bool
    silence_id: int | None
    incident: str | None
    starts_at: IsoTime | None
    ends_at: IsoTime | None
    first_seen: IsoTime
    last_seen: IsoTime
    count: int
    acknowledged_at: IsoTime | None
    resolved_at: IsoTime | None
    generator_url: str | None


class AlertDetail(Alert):
    """One alert with its group, silence and incident."""

    group_key: str | None = None
    silence: Silence | None = None
    incident_status: str | None = None
    recurred: bool | None = None


class AlertList(ApiModel):
    items: list[Alert]
    next_cursor: int | None = Field(
        description="the cursor of the next page (also in the Link header); null on the last"
    )


class RouteDecision(ApiModel):
    route: str | None
    service: str | None
    severity: str | None
    action: str
    source_severity: str | None
    labels: dict[str, str]
    silenced_by: list[int] = Field(description="ids of the active silences that match")


class Route(ApiModel):
    name: str
    source: str = Field(examples=["api"])
    position: int
    matchers: list[str]
    service: str | None
    service_label: str
    severity: str | None
    severity_map: dict[str, str]
    severity_label: str
    action: str | None
    created_at: IsoTime | None
    created_by: str | None


class RouteList(ApiModel):
    items: list[Route]


class Integration(ApiModel):
    """An integration; its key is never shown again after it is made or rotated."""

    name: str
    kind: str
    source: str
    key_prefix: str | None
    options: JsonObject
    created_at: IsoTime | None
    rotated_at: IsoTime | None
    revoked_at: IsoTime | None
    endpoint: str


class IntegrationWithKey(Integration):
    key: str = Field(description="the key, shown this once")


class IntegrationList(ApiModel):
    items: list[Integration]


class Heartbeat(ApiModel):
    integration: str
    state: str
    last_seen: IsoTime | None
    timeout_seconds: Number


class HeartbeatList(ApiModel):
    items: list[Heartbeat]


class HeartbeatPing(ApiModel):
    integration: str
    state: str
    previous: str | None
    last_seen: IsoTime
    next_deadline: IsoTime | None
