"""Change correlation (pure): which recorded changes may have caused an incident, and why.

A change scores by time proximity to `started_at` (1.0 at impact, falling linearly to 0 at
the window's edge) weighted by its relation to the affected services (same service 1.0, a
dependency 0.6) and its kind (deploys most likely, then config, flags, infrastructure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from warroom.core.durations import format_duration

CHANGE_KINDS = ("deploy", "config", "flag", "infra")
RELATION_WEIGHT = {"same service": 1.0, "dependency": 0.6}
KIND_WEIGHT = {"deploy": 1.0, "config": 0.9, "flag": 0.8, "infra": 0.7}
KIND_TEXT = {
    "deploy": "deploy",
    "config": "config change",
    "flag": "feature flag change",
    "infra": "infrastructure change",
}


@dataclass(frozen=True)
class Change:
    id: int
    service: str
    kind: str
    version: str
    at: datetime
    by: str = ""
    link: str = ""
    description: str = ""


@dataclass(frozen=True)
class Correlation:
    change: Change
    score: float
    relation: str  # "same service" | "dependency"
    minutes_before: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_id": self.change.id,
            "service": self.change.service,
            "kind": self.change.kind,
            "version": self.change.version,
            "at": self.change.at.isoformat(),
            "by": self.change.by,
            "link": self.change.link,
            "score": round(self.score, 3),
            "relation": self.relation,
            "minutes_before": round(self.minutes_before, 1),
            "reason": self.reason,
        }


def related_services(
    services: Sequence[str], dependencies: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Each service that matters for the incident and how: the affected ones and what they
    depend on (directly)."""
    relation: dict[str, str] = {}
    for service in services:
        for dep in dependencies.get(service, ()):
            relation.setdefault(dep, "dependency")
    for service in services:
        relation[service] = "same service"
    return relation


def _ago(delta: timedelta) -> str:
    if delta < timedelta(minutes=1):
        return "less than a minute"
    minutes = round(delta.total_seconds() / 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return format_duration(delta)


def describe(change: Change, relation: str, before: timedelta) -> str:
    """'deploy of payments v2.3.1, 7 minutes before impact, same service'."""
    what = KIND_TEXT.get(change.kind, change.kind)
    version = f" {change.version}" if change.version else ""
    return f"{what} of {change.service}{version}, {_ago(before)} before impact, {relation}"


def score(change: Change, relation: str, started_at: datetime, window: timedelta) -> float:
    before = started_at - change.at
    if before < timedelta(0) or before > window or window <= timedelta(0):
        return 0.0
    proximity = 1.0 - before / window
    return proximity * RELATION_WEIGHT[relation] * KIND_WEIGHT.get(change.kind, 0.5)


def correlate(
    changes: Sequence[Change],
    *,
    services: Sequence[str],
    dependencies: Mapping[str, Sequence[str]],
    started_at: datetime,
    window: timedelta,
) -> list[Correlation]:
    """Changes to the affected services or their dependencies within `window` before
    `started_at`, best first (ties: closest first)."""
    relation_of = related_services(services, dependencies)
    found: list[Correlation] = []
    for change in changes:
        relation = relation_of.get(change.service)
        if relation is None:
            continue
        before = started_at - change.at
        if before < timedelta(0) or before > window:
            continue
        found.append(
            Correlation(
                change=change,
                score=score(change, relation, started_at, window),
                relation=relation,
                minutes_before=before.total_seconds() / 60,
                reason=describe(change, relation, before),
            )
        )
    found.sort(key=lambda c: (-c.score, c.minutes_before, c.change.id))
    return found
