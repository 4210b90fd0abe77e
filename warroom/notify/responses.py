"""Response models of the delivery log API (`warroom/notify/api.py`)."""

from __future__ import annotations

from warroom.api.models import ApiModel, IsoTime


class Delivery(ApiModel):
    """One channel tried for one notification."""

    id: int
    outbox_id: int | None
    incident: str | None
    recipient: str
    reason: str
    channel: str
    position: int
    ok: bool
    error: str | None
    attempt: int
    attempted_at: IsoTime


class DeliveryList(ApiModel):
    items: list[Delivery]
