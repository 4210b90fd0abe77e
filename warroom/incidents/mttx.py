"""Time to detect / acknowledge / mitigate / resolve for one incident, from its milestones.

The milestones are folded from timeline events (never row update times). A missing or
out-of-order milestone yields None for the phases it bounds, plus a flag saying why, so
figures built on this show the problem instead of silently counting or dropping it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
    values = [moments.get(name) for name in MOMENTS]
    phases, total, flags = phases_of(values, reopen_count, MOMENTS.index(mttr_from))
    return Breakdown(dict(zip(PHASE_NAMES, phases, strict=True)), total, flags)


PHASE_NAMES = tuple(phase for phase, _, _ in PHASES)
_PAIRS = ((0, 1), (1, 2), (2, 3), (3, 4))


def phases_of(
    moments: Sequence[Any], reopen_count: int = 0, origin: int = 0
) -> tuple[list[Any], Any, list[str]]:
    """The rules behind `breakdown`, over any ordered, subtractable moments (datetimes, or
    epoch milliseconds when metrics aggregate many incidents): `moments` are the five
    MOMENTS in order, `origin` the index MTTR is measured from. Returns (the four phases,
    the total, flags); a missing or out-of-order milestone gives None plus a flag."""
    resolved = moments[4]
    flags: list[str] = []
    phases: list[Any] = []
    for start, end in _PAIRS:
        begin, finish = moments[start], moments[end]
        if begin is None or finish is None:
            phases.append(None)
            if finish is None and resolved is not None:
                flags.append(f"missing {MOMENTS[end]}")
        elif finish < begin:
            phases.append(None)
            flags.append(f"{MOMENTS[end]} before {MOMENTS[start]}")
        else:
            phases.append(finish - begin)
    first = moments[origin]
    total = None
    if first is not None and resolved is not None:
        if resolved >= first:
            total = resolved - first
        else:
            flags.append(f"resolved_at before {MOMENTS[origin]}")
    if reopen_count:
        flags.append(f"reopened {reopen_count}x (counted once, total time)")
    return phases, total, flags
