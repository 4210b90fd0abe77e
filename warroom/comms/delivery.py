"""Outbox handlers that talk to status page subscribers.

`statuspage_confirm` sends the double opt-in link; `statuspage_fanout` turns one public update
into one delivery per confirmed subscriber (dedup keys make that exactly once, however often
the fan-out runs); `statuspage_deliver` sends one update to one subscriber, re-checking at
fire time that they are still subscribed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import insert, select

from warroom.comms import tables, views
from warroom.comms.statuspage import (
    DELIVER_KIND,
    StatusPage,
    check_webhook_url,
)
from warroom.core import outbox
from warroom.core import tables as core_tables
from warroom.core.errors import InvalidInput
from warroom.core.runtime import Runtime
from warroom.notify.delivery import deliver
from warroom.worker import Outcome


def _statuspage(runtime: Runtime) -> StatusPage:
    page: StatusPage = runtime.comms.statuspage
    return page


def _email_url(base: str, address: str, headers: dict[str, str] | None = None) -> str:
    """The SMTP account's URL addressed to one subscriber (Apprise `+Name=value` headers)."""
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}to={quote(address, safe='@')}"
    for name, value in (headers or {}).items():
        url += f"&+{name}={quote(value, safe='')}"
    return url


def _post(page: StatusPage, url: str, payload: dict[str, Any]) -> Outcome:
    settings = page.config.statuspage
    try:
        check_webhook_url(url, allow_private=settings.allow_private_webhooks)
    except InvalidInput as exc:
        return Outcome(False, f"webhook refused: {exc.message}", retryable=False)
    try:
        response = httpx.post(
            url,
            content=json.dumps(payload),
            headers={"content-type": "application/json", "user-agent": "warroom-statuspage"},
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return Outcome(False, f"webhook unreachable: {type(exc).__name__}", retryable=True)
    if 200 <= response.status_code < 300:
        return Outcome(True, f"webhook {response.status_code}")
    retryable = response.status_code >= 500 or response.status_code == 429
    return Outcome(False, f"webhook answered {response.status_code}", retryable=retryable)


def _send(
    page: StatusPage,
    kind: str,
    target: str,
    title: str,
    text: str,
    payload: dict[str, Any],
    unsubscribe: str | None = None,
) -> Outcome:
    if kind == "webhook":
        return _post(page, target, payload)
    email_url = page.config.statuspage.email_url
    if not email_url:
        return Outcome(False, "email delivery is not configured", retryable=False)
    headers = None
    if unsubscribe:
        # RFC 8058: mail clients show a one-click unsubscribe that POSTs to this link.
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    result = deliver(_email_url(email_url, target, headers), title, text)
    if result.ok:
        return Outcome(True, "sent by email")
    return Outcome(False, result.message, retryable=result.retryable)


def handle_confirm(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    page = _statuspage(runtime)
    s = tables.subscribers
    with runtime.db.read() as conn:
        row = conn.execute(select(s).where(s.c.id == effect.payload["subscriber_id"])).first()
    if row is None or row.status != "pending":
        return Outcome(True, "no longer pending")
    with runtime.db.write() as conn:
        links = page.links(conn, int(row.id), row.nonce)
    name = page.config.statuspage.name
    text = (
        f"Someone (hopefully you) asked to receive updates from {name}.\n"
        f"Confirm the subscription: {links['confirm']}\n"
        f"If it was not you, ignore this message; nothing will be sent without confirmation."
    )
    payload = {
        "meta": {"type": "subscription_confirmation", **links},
        "page": {"id": page.page().id, "name": name, "url": page.base_url},
    }
    return _send(page, row.kind, row.target, f"Confirm your subscription to {name}", text, payload)


def handle_fanout(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    """Plan one delivery per confirmed subscriber of the affected components (or all)."""
    u, p, s, m = (
        tables.public_incident_updates,
        tables.public_incidents,
        tables.subscribers,
        tables.maintenances,
    )
    now = runtime.clock.now()
    with runtime.db.write() as conn:
        subject: dict[str, Any]
        if "maintenance" in effect.payload:
            subject = {"maintenance": str(effect.payload["maintenance"])}
            row = conn.execute(select(m.c.components).where(m.c.code == subject["maintenance"]))
        else:
            subject = {"update_id": int(effect.payload["update_id"])}
            row = conn.execute(
                select(p.c.components)
                .join(u, u.c.public_incident_id == p.c.id)
                .where(u.c.id == subject["update_id"])
            )
        found = row.first()
        if found is None:
            return Outcome(True, "nothing to announce any more")
        affected = set(found.components)
        subscribers = conn.execute(
            select(s.c.id, s.c.components).where(s.c.status == "confirmed")
        ).all()
        what = next(iter(subject.values()))
        wanted = {
            f"statuspage:deliver:{sub.id}:{what}": int(sub.id)
            for sub in subscribers
            if not sub.components or not affected or affected & set(sub.components)
        }
        added = _enqueue_many(conn, wanted, subject, now)
    return Outcome(True, f"{added} deliveries planned")


def _enqueue_many(conn: Any, wanted: dict[str, int], subject: dict[str, Any], now: Any) -> int:
    """`outbox.enqueue` for many deliveries at once: one look-up per 500 keys, one insert."""
    o = core_tables.outbox
    keys = list(wanted)
    existing: set[str] = set()
    for n in range(0, len(keys), 500):
        chunk = keys[n : n + 500]
        existing.update(
            r.dedup_key for r in conn.execute(select(o.c.dedup_key).where(o.c.dedup_key.in_(chunk)))
        )
    rows = [
        {
            "kind": DELIVER_KIND,
            "payload": {"subscriber_id": subscriber_id, **subject},
            "incident_id": None,
            "dedup_key": key,
            "status": outbox.PENDING,
            "due_at": now,
            "attempts": 0,
            "created_at": now,
        }
        for key, subscriber_id in wanted.items()
        if key not in existing
    ]
    if rows:
        conn.execute(insert(o), rows)
    return len(rows)


def _page_block(snapshot: views.Snapshot) -> dict[str, Any]:
    level = views.indicator(snapshot)
    return {
        "id": snapshot.page.id,
        "status_indicator": level,
        "status_description": views.INDICATOR_DESCRIPTIONS[level],
    }


def handle_deliver(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    """Send one update (or maintenance notice) to one subscriber, if still subscribed."""
    page = _statuspage(runtime)
    s, u, p = tables.subscribers, tables.public_incident_updates, tables.public_incidents
    with runtime.db.read() as conn:
        sub = conn.execute(select(s).where(s.c.id == effect.payload["subscriber_id"])).first()
        row = None
        if "update_id" in effect.payload:
            row = conn.execute(
                select(p.c.code, u.c.code.label("update_code"))
                .join(u, u.c.public_incident_id == p.c.id)
                .where(u.c.id == effect.payload["update_id"])
            ).first()
    if sub is None or sub.status != "confirmed":
        return Outcome(True, "no longer subscribed")
    if "maintenance" in effect.payload:
        return _deliver_maintenance(page, sub, str(effect.payload["maintenance"]))
    if row is None:
        return Outcome(True, "update gone")
    snapshot = page.snapshot(history_days=None, only_code=row.code)
    incident = snapshot.incidents[0]
    update = next((x for x in incident.updates if x.code == row.update_code), None)
    if update is None:
        return Outcome(True, "update gone")
    with page.db.write() as conn:
        links = page.links(conn, int(sub.id), sub.nonce)
    payload = {
        "meta": {"unsubscribe": links["unsubscribe"], "generated_at": views._iso(snapshot.now)},
        "page": _page_block(snapshot),
        "incident": views.incident_json(snapshot, incident),
    }
    status = update.status.title()
    title = f"[{snapshot.page.name}] {status}: {incident.name}"
    text = (
        f"{incident.name}\nStatus: {status}\n\n{update.body}\n\n"
        f"Details: {snapshot.page.url}/incidents/{incident.code}\n"
        f"Unsubscribe: {links['unsubscribe']}"
    )
    return _send(page, sub.kind, sub.target, title, text, payload, links["unsubscribe"])


def _deliver_maintenance(page: StatusPage, sub: Any, code: str) -> Outcome:
    snapshot = page.snapshot(history_days=0, updates_for="open")
    window = next((w for w in snapshot.maintenances if w.code == code), None)
    if window is None:
        return Outcome(True, "maintenance cancelled")
    with page.db.write() as conn:
        links = page.links(conn, int(sub.id), sub.nonce)
    payload = {
        "meta": {"unsubscribe": links["unsubscribe"], "generated_at": views._iso(snapshot.now)},
        "page": _page_block(snapshot),
        "scheduled_maintenance": views.maintenance_json(snapshot, window),
    }
    when = f"{window.scheduled_for:%Y-%m-%d %H:%M} to {window.scheduled_until:%Y-%m-%d %H:%M} UTC"
    title = f"[{snapshot.page.name}] Scheduled maintenance: {window.name}"
    text = (
        f"{window.name}\nScheduled: {when}\n\n{window.body}\n\n"
        f"Details: {snapshot.page.url}#maintenance-{window.code}\n"
        f"Unsubscribe: {links['unsubscribe']}"
    )
    return _send(page, sub.kind, sub.target, title, text, payload, links["unsubscribe"])
