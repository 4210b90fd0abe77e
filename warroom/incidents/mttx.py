"""Time to detect / acknowledge / mitigate / resolve for one incident, from its milestones.

The milestones are folded from timeline events (never row update times). A missing or
out-of-order milestone yields None for the phases it bounds, plus a flag saying why, so
figures built on this show the problem instead of silently counting or dropping it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from warroom.incidents.model import IncidentState

PHASES = (
    ("time_to_detect", "started_at", "detected_at"),
    ("time_to_acknowledge", "detected_at", "acknowledged_at"),
    ("time_to_mitigate", "acknowledged_at", "mitigated_at"),
    ("time_to_resolve", "mitigated_at", "resolved_at"),
)


@dataclass(frozen=True)
class Breakdown:
    phases: dict[str, timedelta | None]
    total: timedelta | None
    flags: list[str] = field(default_factory=list)

    def seconds(self) -> dict[str, float | None]:
        values = {**self.phases, "mttr": self.total}
        return {k: (v.total_seconds() if v is not None else None) for k, v in values.items()}


MOMENTS = ("started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at")


def breakdown(state: IncidentState, mttr_from: str = "started_at") -> Breakdown:
    """The MTTx phases of one incident and its total time to resolve."""
    moments = {name: getattr(state, name) for name in MOMENTS}
    return breakdown_of(moments, state.reopen_count, mttr_from)


def breakdown_of(
    moments: Mapping[str, datetime | None], reopen_count: int = 0, mttr_from: str = "started_at"
) -> Breakdown:
    """The same breakdown from plain milestones (e.g. read from the projection in bulk)."""
    resolved_at = moments.get("resolved_at")
    flags: list[str] = []
    phases: dict[str, timedelta | None] = {}
    for phase, start, end in PHASES:
        begin, finish = moments.get(start), moments.get(end)
        if begin is None or finish is None:
            phases[phase] = None
            if finish is None and resolved_at is not None:
                flags.append(f"missing {end}")
            continue
        if finish < begin:
            phases[phase] = None
            flags.append(f"{end} before {start}")
            continue
        phases[phase] = finish - begin
    origin = moments.get(mttr_from)
    total = None
    if origin is not None and resolved_at is not None:
        if resolved_at >= origin:
            total = resolved_at - origin
        else:
            flags.append(f"resolved_at before {mttr_from}")
    if reopen_count:
        flags.append(f"reopened {reopen_count}x (counted once, total time)")
    return Breakdown(phases, total, flags)
