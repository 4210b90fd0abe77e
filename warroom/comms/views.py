"""The public status page as plain data (pure): component statuses, the page indicator,
90-day uptime, and Atlassian Statuspage-compatible JSON shapes.

Everything here works on rows already read from the public tables only; nothing internal is
ever passed in, so nothing internal can come out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from warroom.comms.updates import COMPONENT_STATUSES
from warroom.core.clock import iso_utc

STATUS_RANK = {status: n for n, status in enumerate(COMPONENT_STATUSES)}
# Downtime weights for the uptime bars (Statuspage counts partial outages at 30 %).
DOWNTIME_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3}
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
_INDICATOR_RANK = {"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}
_COMPONENT_INDICATOR = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
UPTIME_DAYS = 90


@dataclass(frozen=True)
class Component:
    slug: str
    name: str
    description: str
    group: str | None
    position: int
    status: str  # as set by hand
    showcase: bool
    only_show_if_degraded: bool
    created_at: datetime
    updated_at: datetime
    published: bool = True  # False: a draft, shown on no public page


@dataclass(frozen=True)
class StateChange:
    """A component's state set by hand, in force from `since` until the next change."""

    since: datetime
    status: str


@dataclass(frozen=True)
class PublicUpdate:
    code: str
    status: str
    body: str
    created_at: datetime
    display_at: datetime


@dataclass(frozen=True)
class PublicIncident:
    code: str
    name: str
    status: str
    impact: str
    components: tuple[str, ...]
    component_status: str
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: tuple[PublicUpdate, ...] = ()  # newest first

    @property
    def unresolved(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class Maintenance:
    code: str
    name: str
    body: str
    components: tuple[str, ...]
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    updated_at: datetime

    def status(self, now: datetime) -> str:
        if now < self.scheduled_for:
            return "scheduled"
        if now < self.scheduled_until:
            return "in_progress"
        return "completed"

    def updates(self, now: datetime) -> list[PublicUpdate]:
        """Its updates as Statuspage shows them, newest first: scheduled, then in progress
        and completed once their times have come (derived from the window, never stored)."""
        found = [
            PublicUpdate(
                f"{self.code}-scheduled",
                "scheduled",
                self.body or f"{self.name} is scheduled.",
                self.created_at,
                self.created_at,
            )
        ]
        if now >= self.scheduled_for:
            found.append(
                PublicUpdate(
                    f"{self.code}-in_progress",
                    "in_progress",
                    "Scheduled maintenance is in progress. We will provide updates as necessary.",
                    self.scheduled_for,
                    self.scheduled_for,
                )
            )
        if now >= self.scheduled_until:
            found.append(
                PublicUpdate(
                    f"{self.code}-completed",
                    "completed",
                    "The scheduled maintenance has been completed.",
                    self.scheduled_until,
                    self.scheduled_until,
                )
            )
        return found[::-1]


@dataclass(frozen=True)
class Page:
    id: str
    name: str
    url: str
    time_zone: str


@dataclass(frozen=True)
class Snapshot:
    page: Page
    now: datetime
    components: tuple[Component, ...]
    incidents: tuple[PublicIncident, ...]  # newest first
    maintenances: tuple[Maintenance, ...]
    effective: Mapping[str, str] = field(default_factory=dict)
    # Per component slug, its states set by hand over the uptime window, oldest first.
    states: Mapping[str, tuple[StateChange, ...]] = field(default_factory=dict)


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: STATUS_RANK.get(s, 0), default="operational")


def effective_statuses(
    components: Sequence[Component],
    incidents: Sequence[PublicIncident],
    maintenances: Sequence[Maintenance],
    now: datetime,
) -> dict[str, str]:
    """Each component's status: the worst of its own, open incidents and active maintenance."""
    raised: dict[str, list[str]] = {}
    for incident in incidents:
        if incident.unresolved:
            for slug in incident.components:
                raised.setdefault(slug, []).append(incident.component_status)
    for window in maintenances:
        if window.status(now) == "in_progress":
            for slug in window.components:
                raised.setdefault(slug, []).append("under_maintenance")
    return {c.slug: worst([c.status, *raised.get(c.slug, ())]) for c in components}


def build_snapshot(
    page: Page,
    components: Sequence[Component],
    incidents: Sequence[PublicIncident],
    maintenances: Sequence[Maintenance],
    now: datetime,
    *,
    states: Mapping[str, tuple[StateChange, ...]] | None = None,
) -> Snapshot:
    effective = effective_statuses(components, incidents, maintenances, now)
    return Snapshot(
        page,
        now,
        tuple(components),
        tuple(incidents),
        tuple(maintenances),
        effective,
        dict(states or {}),
    )


def indicator(snapshot: Snapshot) -> str:
    levels = [_COMPONENT_INDICATOR.get(s, "none") for s in snapshot.effective.values()]
    levels += [i.impact for i in snapshot.incidents if i.unresolved and i.impact != "none"]
    if any(m.status(snapshot.now) == "in_progress" for m in snapshot.maintenances):
        levels.append("maintenance")
    return max(levels, key=lambda lv: _INDICATOR_RANK.get(lv, 0), default="none")


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment, zulu=True) if moment is not None else None


def slugify(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out[:60] or "group"


def page_json(snapshot: Snapshot) -> dict[str, Any]:
    moments = [c.updated_at for c in snapshot.components]
    moments += [i.updated_at for i in snapshot.incidents]
    moments += [m.updated_at for m in snapshot.maintenances]
    return {
        "id": snapshot.page.id,
        "name": snapshot.page.name,
        "url": snapshot.page.url,
        "time_zone": snapshot.page.time_zone,
        "updated_at": _iso(max(moments) if moments else snapshot.now),
    }


def status_json(snapshot: Snapshot) -> dict[str, Any]:
    level = indicator(snapshot)
    return {"indicator": level, "description": INDICATOR_DESCRIPTIONS[level]}


def components_json(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Components in Statuspage's shape, groups as components with `group: true`."""
    items: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for component in sorted(snapshot.components, key=lambda c: (c.position, c.name)):
        group_id = None
        if component.group:
            group_id = "group-" + slugify(component.group)
            group = groups.get(group_id)
            if group is None:
                group = {
                    "id": group_id,
                    "name": component.group,
                    "status": "operational",
                    "created_at": _iso(component.created_at),
                    "updated_at": _iso(component.updated_at),
                    "position": component.position,
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": snapshot.page.id,
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [],
                }
                groups[group_id] = group
                items.append(group)
            group["components"].append(component.slug)
            status = snapshot.effective.get(component.slug, component.status)
            group["status"] = worst([group["status"], status])
        items.append(component_json(snapshot, component))
    return items


def component_json(snapshot: Snapshot, component: Component) -> dict[str, Any]:
    """One component in Statuspage's shape, with its effective status."""
    return {
        "id": component.slug,
        "name": component.name,
        "status": snapshot.effective.get(component.slug, component.status),
        "created_at": _iso(component.created_at),
        "updated_at": _iso(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": component.created_at.astimezone(UTC).date().isoformat(),
        "group_id": "group-" + slugify(component.group) if component.group else None,
        "page_id": snapshot.page.id,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def _affected(
    snapshot: Snapshot, slugs: Sequence[str], statuses: Sequence[tuple[str, str]]
) -> list[list[dict[str, Any]]]:
    """Per update (newest first), each affected component's old and new status.

    `statuses` are the updates' (old, new) statuses, newest first; the component's own status
    (set by hand) stands for operational, so a component already degraded stays so.
    """
    by_slug = {c.slug: c for c in snapshot.components}
    known = [slug for slug in slugs if slug in by_slug]

    def actual(slug: str, status: str) -> str:
        return by_slug[slug].status if status == "operational" else status

    return [
        [
            {
                "code": slug,
                "name": by_slug[slug].name,
                "old_status": actual(slug, old),
                "new_status": actual(slug, new),
            }
            for slug in known
        ]
        for old, new in statuses
    ]


def _transitions(news: Sequence[str]) -> list[tuple[str, str]]:
    """(old, new) per update from each update's new status, both newest first."""
    oldest_first = list(reversed(news))
    pairs = []
    previous = "operational"
    for new in oldest_first:
        pairs.append((previous, new))
        previous = new
    return pairs[::-1]


def incident_json(snapshot: Snapshot, incident: PublicIncident) -> dict[str, Any]:
    by_slug = {c.slug: c for c in snapshot.components}
    news = [
        "operational" if u.status == "resolved" else incident.component_status
        for u in incident.updates
    ]
    affected = _affected(snapshot, incident.components, _transitions(news))
    return {
        "id": incident.code,
        "name": incident.name,
        "status": incident.status,
        "impact": incident.impact,
        "created_at": _iso(incident.created_at),
        "updated_at": _iso(incident.updated_at),
        "monitoring_at": _iso(incident.monitoring_at),
        "resolved_at": _iso(incident.resolved_at),
        "started_at": _iso(incident.created_at),
        "shortlink": f"{snapshot.page.url}/incidents/{incident.code}",
        "page_id": snapshot.page.id,
        "incident_updates": [
            {
                "id": update.code,
                "status": update.status,
                "body": update.body,
                "incident_id": incident.code,
                "created_at": _iso(update.created_at),
                "updated_at": _iso(update.created_at),
                "display_at": _iso(update.display_at),
                "affected_components": affected[n],
            }
            for n, update in enumerate(incident.updates)
        ],
        "components": [
            component_json(snapshot, by_slug[slug])
            for slug in incident.components
            if slug in by_slug
        ],
    }


def maintenance_json(snapshot: Snapshot, window: Maintenance) -> dict[str, Any]:
    by_slug = {c.slug: c for c in snapshot.components}
    status = window.status(snapshot.now)
    updates = window.updates(snapshot.now)
    news = ["under_maintenance" if u.status == "in_progress" else "operational" for u in updates]
    affected = _affected(snapshot, window.components, _transitions(news))
    return {
        "id": window.code,
        "name": window.name,
        "status": status,
        "impact": "maintenance",
        "created_at": _iso(window.created_at),
        "updated_at": _iso(window.updated_at),
        "monitoring_at": None,
        "resolved_at": _iso(window.scheduled_until) if status == "completed" else None,
        "started_at": _iso(window.scheduled_for),
        "scheduled_for": _iso(window.scheduled_for),
        "scheduled_until": _iso(window.scheduled_until),
        "shortlink": f"{snapshot.page.url}#maintenance-{window.code}",
        "page_id": snapshot.page.id,
        "incident_updates": [
            {
                "id": update.code,
                "status": update.status,
                "body": update.body,
                "incident_id": window.code,
                "created_at": _iso(update.created_at),
                "updated_at": _iso(update.created_at),
                "display_at": _iso(update.display_at),
                "affected_components": affected[n],
            }
            for n, update in enumerate(updates)
        ],
        "components": [
            component_json(snapshot, by_slug[slug]) for slug in window.components if slug in by_slug
        ],
    }


def visible_components(snapshot: Snapshot) -> list[Component]:
    return [
        c
        for c in snapshot.components
        if not (c.only_show_if_degraded and snapshot.effective.get(c.slug) == "operational")
    ]


def summary_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "page": page_json(snapshot),
        "status": status_json(snapshot),
        "components": components_json(snapshot),
        "incidents": [incident_json(snapshot, i) for i in snapshot.incidents if i.unresolved],
        "scheduled_maintenances": [
            maintenance_json(snapshot, m)
            for m in snapshot.maintenances
            if m.status(snapshot.now) != "completed"
        ],
    }


@dataclass(frozen=True)
class DayUptime:
    day: date
    uptime: float  # percent
    worst: str
    outage_seconds: float


def window_start(now: datetime, days: int = UPTIME_DAYS) -> datetime:
    """Midnight UTC at the start of the uptime window that ends now."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), tzinfo=UTC)


def daily_uptime(
    intervals: Sequence[tuple[datetime, datetime | None, str]],
    now: datetime,
    days: int = UPTIME_DAYS,
) -> list[DayUptime]:
    """Per-day uptime over the last `days` days (oldest first) from (start, end, status).

    An open interval (end None) lasts until now, and today's worst status is at least the
    status of every open interval already begun, even one that began this very second (the
    bars agree with the current state). Only the part of a day that has passed counts for
    today. Overlapping intervals count once, at the worse weight.
    """
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    window_start = datetime.combine(first, time(0), tzinfo=UTC)
    current = [status for begin, finish, status in intervals if finish is None and begin <= now]
    # Clip each interval to the days it touches (work proportional to interval-days).
    per_day: dict[int, list[tuple[datetime, datetime, str]]] = {}
    for begin, finish, status in intervals:
        lo, hi = max(begin, window_start), min(finish or now, now)
        if lo >= hi:
            continue
        index = (lo.astimezone(UTC).date() - first).days
        while index < days:
            day_start = window_start + timedelta(days=index)
            day_end = day_start + timedelta(days=1)
            a, b = max(lo, day_start), min(hi, day_end)
            if a < b:
                per_day.setdefault(index, []).append((a, b, status))
            if hi <= day_end:
                break
            index += 1
    result: list[DayUptime] = []
    for index in range(days):
        clipped = per_day.get(index)
        if not clipped:
            result.append(DayUptime(first + timedelta(days=index), 100.0, "operational", 0.0))
            continue
        start = window_start + timedelta(days=index)
        end = min(start + timedelta(days=1), now)
        length = (end - start).total_seconds()
        downtime = 0.0
        statuses: list[str] = []
        points = sorted({start, end, *(a for a, _, _ in clipped), *(b for _, b, _ in clipped)})
        for lo, hi in itertools.pairwise(points):
            active = [s for a, b, s in clipped if a <= lo and hi <= b]
            if active:
                status = worst(active)
                statuses.append(status)
                downtime += (hi - lo).total_seconds() * DOWNTIME_WEIGHT.get(status, 0.0)
        uptime = 100.0 if length <= 0 else max(0.0, 100.0 * (1 - downtime / length))
        result.append(DayUptime(start.date(), round(uptime, 6), worst(statuses), downtime))
    if current and result:
        today = result[-1]
        result[-1] = DayUptime(
            today.day, today.uptime, worst([today.worst, *current]), today.outage_seconds
        )
    return result


def state_intervals(
    changes: Sequence[StateChange], component: Component
) -> list[tuple[datetime, datetime | None, str]]:
    """The (start, end, status) intervals of a component's states set by hand (oldest
    first); the last one is open. A current state missing from the history (a change made
    outside the service) counts from the component's last change."""
    found = list(changes)
    if not found or found[-1].status != component.status:
        found.append(
            StateChange(max([component.updated_at, *(c.since for c in found)]), component.status)
        )
    intervals: list[tuple[datetime, datetime | None, str]] = []
    for n, change in enumerate(found):
        end = found[n + 1].since if n + 1 < len(found) else None
        if change.status != "operational":
            intervals.append((change.since, end, change.status))
    return intervals


def component_uptime(snapshot: Snapshot, component: Component) -> list[DayUptime]:
    """A component's days over the uptime window: its states set by hand, its public
    incidents (from start to resolution, at their component status) and maintenance."""
    now = snapshot.now
    intervals = state_intervals(snapshot.states.get(component.slug, ()), component)
    for incident in snapshot.incidents:
        if component.slug in incident.components:
            intervals.append((incident.created_at, incident.resolved_at, incident.component_status))
    for window in snapshot.maintenances:
        if window.scheduled_for <= now and component.slug in window.components:
            end = window.scheduled_until if window.scheduled_until < now else None
            intervals.append((window.scheduled_for, end, "under_maintenance"))
    return daily_uptime(intervals, now)


def overall_uptime(days: Sequence[DayUptime], now: datetime) -> float:
    """Uptime over the whole window (today counts only the part that has passed)."""
    if not days:
        return 100.0
    total = (now - datetime.combine(days[0].day, time(0), tzinfo=UTC)).total_seconds()
    down = sum(entry.outage_seconds for entry in days)
    return round(100.0 * (1 - down / total), 6) if total > 0 else 100.0


def uptime_json(snapshot: Snapshot) -> dict[str, Any]:
    """Every public component's uptime over the window and its days (oldest first)."""
    items = []
    for component in snapshot.components:
        days = component_uptime(snapshot, component)
        items.append(
            {
                "id": component.slug,
                "name": component.name,
                "status": snapshot.effective.get(component.slug, component.status),
                "uptime": overall_uptime(days, snapshot.now),
                "days": [
                    {"date": d.day.isoformat(), "uptime": d.uptime, "worst": d.worst} for d in days
                ],
            }
        )
    return {"days": UPTIME_DAYS, "components": items}
