"""The `notify` outbox effect: deliver a message, keep the delivery log, and record the
outcome on the timeline.

Payload: `{"urls": [...], "title": str, "body": str, "format": "text" | "markdown" | "html",
"recipient": str, "reason": str, "incident": public id or null}` (no `format`: text). URLs
are tried in order until one succeeds (a failed channel falls back to the next one).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.engine import Connection

from warroom.core import outbox
from warroom.core.auth import SYSTEM
from warroom.core.db import DriverRows, driver_time
from warroom.core.errors import NotFound
from warroom.core.outbox import EffectHandler, Outcome
from warroom.core.runtime import Runtime
from warroom.incidents.model import Event
from warroom.notify.delivery import BODY_FORMATS, BodyFormat, Delivery, deliver
from warroom.notify.tables import deliveries

KIND = "notify"


def notify_effect(
    *,
    urls: list[str],
    title: str,
    body: str,
    recipient: str,
    reason: str,
    due_at: Any,
    incident: str | None = None,
    incident_id: int | None = None,
    dedup_key: str | None = None,
    body_format: BodyFormat = "text",
) -> outbox.Effect:
    """An effect that the worker delivers (exactly once per dedup_key); `body` is written in
    `body_format` (user text in markdown or html escaped with `escape_for`)."""
    payload = {
        "urls": urls,
        "title": title,
        "body": body,
        "format": body_format,
        "recipient": recipient,
        "reason": reason,
        "incident": incident,
    }
    return outbox.Effect(KIND, payload, due_at, incident_id=incident_id, dedup_key=dedup_key)


def deliver_notify(runtime: Runtime, effect: outbox.ClaimedEffect) -> outbox.Delivered:
    """Try the payload's URLs in order until one takes the message; what to record about it
    (the delivery log, `notification_sent` / `notification_failed` once final) comes back
    for the worker to write with the outcome."""
    payload = effect.payload
    attempts: list[Delivery] = []
    body_format = body_format_of(payload)
    for url in payload.get("urls", []):
        title, body = str(payload.get("title", "")), str(payload.get("body", ""))
        result = deliver(url, title, body, body_format)
        attempts.append(result)
        if result.ok:
            break
    now = runtime.clock.now()
    delivered = next((a for a in attempts if a.ok), None)
    retryable = any(a.retryable for a in attempts)
    final = delivered is not None or not retryable or effect.attempts >= outbox.MAX_ATTEMPTS
    incident = payload.get("incident")
    errors = "; ".join(a.message for a in attempts)
    event: Event | None = None
    if incident and final:
        data = {
            "recipient": payload.get("recipient", ""),
            "reason": payload.get("reason", ""),
            "channels": [a.channel for a in attempts],
            "attempt": effect.attempts,
        }
        if delivered is not None:
            event = Event(
                "notification_sent", SYSTEM.actor, now, {**data, "channel": delivered.channel}
            )
        else:
            error = errors or "no URLs"
            event = Event("notification_failed", SYSTEM.actor, now, {**data, "error": error})

    def record(conn: Connection) -> None:
        _log_attempts(conn, effect, attempts, now)
        if event is not None:
            with suppress(NotFound):  # the incident may have been deleted since
                runtime.incidents.mutate_in(conn, str(incident), lambda _state, _now: [event])

    if delivered is not None:
        outcome = Outcome(True, f"sent via {delivered.channel}")
    else:
        outcome = Outcome(False, errors or "no URLs to deliver to", retryable=retryable)
    return outbox.Delivered(outcome, record if attempts or event is not None else None)


def body_format_of(payload: dict[str, Any]) -> BodyFormat:
    """The payload's body format (text when not stated, as every payload before it was)."""
    stated = payload.get("format", "text")
    for known in BODY_FORMATS:
        if stated == known:
            return known
    return "text"


def _log_attempts(
    conn: Connection, effect: outbox.ClaimedEffect, attempts: list[Delivery], now: datetime
) -> None:
    """The delivery log: one row per channel tried (the channel only, never the URL)."""
    if not attempts:
        return
    payload = effect.payload
    attempted_at = driver_time(conn.dialect, now)
    _LOG_ATTEMPT.execute(
        conn,
        [
            {
                "outbox_id": effect.id,
                "incident": payload.get("incident"),
                "recipient": str(payload.get("recipient", ""))[:200],
                "reason": str(payload.get("reason", ""))[:200],
                "channel": a.channel[:40],
                "position": n,
                "ok": a.ok,
                "error": a.message or None,
                "attempt": effect.attempts,
                "attempted_at": attempted_at,
            }
            for n, a in enumerate(attempts)
        ],
    )


_LOGGED = (
    "outbox_id",
    "incident",
    "recipient",
    "reason",
    "channel",
    "position",
    "ok",
    "error",
    "attempt",
    "attempted_at",
)
_LOG_ATTEMPT = DriverRows(insert(deliveries).values({name: bindparam(name) for name in _LOGGED}))


# One message each; the worker writes their logs and timeline entries with their outcomes.
HANDLERS = [EffectHandler.delivering(KIND, deliver_notify)]
