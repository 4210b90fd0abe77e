"""Grafana OnCall public API v1 → an import plan.

Reads `/api/v1/users/`, `/api/v1/teams/`, `/api/v1/schedules/` with `/api/v1/on_call_shifts/`,
`/api/v1/escalation_chains/` with `/api/v1/escalation_policies/`, and `/api/v1/integrations/`,
following the `next` links of its paginated answers. API reference:
https://grafana.com/docs/oncall/latest/oncall-api-reference/ (Users, Teams, Schedules, OnCall
shifts, Escalation chains, Escalation policies, Integrations).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from warroom.importers.common import ContactTemplates, Names, contact, person
from warroom.importers.plan import (
    ImportedOverride,
    ImportedPerson,
    ImportedPolicy,
    ImportedSchedule,
    ImportedTeam,
    ImportPlan,
    Skipped,
)
from warroom.importers.source import Source
from warroom.oncall.models import (
    ALL_DAYS,
    EscalationPolicyIn,
    LayerIn,
    LevelIn,
    OverrideIn,
    RestrictionIn,
    ScheduleIn,
    TeamIn,
)

API_URL = ""  # self-hosted or Grafana Cloud: always given (--api-url)
_UNITS = {
    "hourly": ("hours", timedelta(hours=1)),
    "daily": ("days", timedelta(days=1)),
    "weekly": ("weeks", timedelta(weeks=1)),
}
_DAYS = {"MO": "mon", "TU": "tue", "WE": "wed", "TH": "thu", "FR": "fri", "SA": "sat", "SU": "sun"}


def headers(token: str) -> dict[str, str]:
    return {"Authorization": token}


def next_page(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    link = body.get("next")
    if not link:
        return None
    return {**params, **dict(parse_qsl(urlsplit(str(link)).query))}


def read(source: Source, templates: ContactTemplates, now: datetime) -> ImportPlan:
    def listing(path: str, **params: Any) -> list[dict[str, Any]]:
        return source.get_all(path, "results", dict(params), next_page)

    names = Names()
    skipped: list[Skipped] = []
    users = listing("/api/v1/users/")
    people = [p for p in (_person(u, names, templates, skipped) for u in users) if p]
    teams = [
        ImportedTeam(
            vendor_id=t["id"],
            team=TeamIn(
                name=names.name("team", t["id"], str(t.get("name") or t["id"])),
                members=[
                    member
                    for u in users
                    if t["id"] in (u.get("teams") or [])
                    and (member := names.of("person", u["id"])) is not None
                ],
            ),
        )
        for t in listing("/api/v1/teams/")
    ]
    shifts = {s["id"]: s for s in listing("/api/v1/on_call_shifts/")}
    schedules = [
        built
        for s in listing("/api/v1/schedules/")
        if (built := _schedule(s, shifts, names, skipped, now)) is not None
    ]
    steps = listing("/api/v1/escalation_policies/")
    policies = [
        policy
        for chain in listing("/api/v1/escalation_chains/")
        if (policy := _policy(chain, steps, names, skipped)) is not None
    ]
    for integration in listing("/api/v1/integrations/"):
        chain = names.of(
            "escalation_policy",
            str((integration.get("default_route") or {}).get("escalation_chain_id") or ""),
        )
        skipped.append(
            Skipped(
                kind="integration",
                vendor_id=str(integration["id"]),
                name=str(integration.get("name") or integration["id"]),
                why=f"a {integration.get('type')} alert source routed to {chain or 'no chain'}: "
                "point its sender at a warroom integration (docs/integrations)",
            )
        )
    return ImportPlan(
        vendor="grafana-oncall",
        people=people,
        teams=teams,
        schedules=schedules,
        escalation_policies=policies,
        skipped=skipped,
    )


def _person(
    user: dict[str, Any], names: Names, templates: ContactTemplates, skipped: list[Skipped]
) -> ImportedPerson | None:
    email = str(user.get("email") or "")
    username = str(user.get("username") or email or user["id"])
    name = names.name("person", user["id"], email.split("@")[0] if email else username)
    methods = []
    built = contact(templates, "email", email, 1) if email else None
    if built is not None:
        methods.append(built)
    skipped.append(
        Skipped(
            kind="contact_method",
            vendor_id=user["id"],
            name=f"{name}: phone and SMS",
            why="Grafana OnCall's API does not expose phone numbers; add them in warroom",
        )
    )
    return person(
        user["id"],
        name=name,
        display=username,
        email=email,
        zone=str(user.get("timezone") or "UTC"),
        methods=methods,
        skipped=skipped,
    )


def _local(value: str, shift_zone: ZoneInfo, zone: ZoneInfo) -> datetime:
    """A shift's `start` (wall time in the shift's zone) as wall time in the schedule's."""
    wall = datetime.fromisoformat(value.replace("Z", "+00:00"))
    aware = wall if wall.tzinfo else wall.replace(tzinfo=shift_zone)
    return aware.astimezone(zone).replace(tzinfo=None)


def _schedule(
    schedule: dict[str, Any],
    shifts: dict[str, dict[str, Any]],
    names: Names,
    skipped: list[Skipped],
    now: datetime,
) -> ImportedSchedule | None:
    name = names.name("schedule", schedule["id"], str(schedule.get("name") or schedule["id"]))
    if schedule.get("type") not in ("web", "calendar"):
        skipped.append(
            Skipped(
                kind="schedule",
                vendor_id=schedule["id"],
                name=name,
                why="an iCal schedule: import its feed with `warroom oncall schedule import`",
            )
        )
        return None
    zone_name = str(schedule.get("time_zone") or "UTC")
    zone = ZoneInfo(zone_name)
    rotations: list[tuple[int, LayerIn]] = []
    overrides: list[ImportedOverride] = []
    for shift_id in schedule.get("shifts") or []:
        shift = shifts.get(shift_id)
        if shift is None:
            continue
        shift_zone = ZoneInfo(str(shift.get("time_zone") or zone_name))
        label = f"{name}: {shift.get('name') or shift_id}"
        if shift.get("until") and _local(shift["until"], shift_zone, ZoneInfo("UTC")) <= (
            now.astimezone(UTC).replace(tzinfo=None)
        ):
            continue
        if shift.get("type") == "override":
            user = next((p for u in shift.get("users") or [] if (p := names.of("person", u))), None)
            start = datetime.fromisoformat(shift["start"]).replace(tzinfo=shift_zone)
            if user is not None:
                overrides.append(
                    ImportedOverride(
                        vendor_id=shift_id,
                        override=OverrideIn(
                            start=start,
                            end=start + timedelta(seconds=int(shift["duration"])),
                            user=user,
                        ),
                    )
                )
            continue
        unit = _UNITS.get(str(shift.get("frequency")))
        groups = shift.get("rolling_users") or [[u] for u in shift.get("users") or []]
        people = [names.of("person", group[0]) for group in groups if group]
        if (
            shift.get("type") not in ("rolling_users", "recurrent_event")
            or unit is None
            or (not people or None in people)
        ):
            skipped.append(
                Skipped(
                    kind="on_call_shift",
                    vendor_id=shift_id,
                    name=label,
                    why="only recurring shifts of imported users are imported",
                )
            )
            continue
        if any(len(group) > 1 for group in groups):
            skipped.append(
                Skipped(
                    kind="on_call_shift",
                    vendor_id=shift_id,
                    name=label,
                    why="groups on call together: the first of each group kept",
                )
            )
        first = int(shift.get("start_rotation_from_user_index") or 0) % len(people)
        people = people[first:] + people[:first]
        start = _local(shift["start"], shift_zone, zone)
        interval = max(1, int(shift.get("interval") or 1))
        period = unit[1] * interval
        duration = timedelta(seconds=int(shift.get("duration") or period.total_seconds()))
        days = [_DAYS[d] for d in shift.get("by_day") or [] if d in _DAYS]
        restrictions: list[RestrictionIn] = []
        if duration < timedelta(days=1) and duration < period:
            end = (start + duration).time()
            restrictions.append(
                RestrictionIn(days=days or list(ALL_DAYS), start=start.time(), end=end)
            )
        elif days:
            restrictions.append(RestrictionIn(days=days))
        if days and unit[0] == "days":
            skipped.append(
                Skipped(
                    kind="on_call_shift",
                    vendor_id=shift_id,
                    name=label,
                    why=f"rotates each calendar day in warroom, not only on {', '.join(days)}",
                )
            )
        rotations.append(
            (
                int(shift.get("level") or 0),
                LayerIn(
                    name=str(shift.get("name") or "")[:80],
                    users=[p for p in people if p is not None],
                    start=start,
                    shift_length=interval,
                    shift_unit=unit[0],
                    restrictions=restrictions,
                ),
            )
        )
    # Higher levels win in Grafana OnCall; later layers win in warroom.
    layers = [layer for _, layer in sorted(rotations, key=lambda pair: pair[0])]
    return ImportedSchedule(
        vendor_id=schedule["id"],
        schedule=ScheduleIn(name=name, timezone=zone_name, layers=layers),
        overrides=overrides,
    )


def _policy(
    chain: dict[str, Any], steps: list[dict[str, Any]], names: Names, skipped: list[Skipped]
) -> ImportedPolicy | None:
    name = names.name("escalation_policy", chain["id"], str(chain.get("name") or chain["id"]))
    levels: list[LevelIn] = []
    repeat = 0
    pending_wait = 0
    for step in sorted(
        (s for s in steps if s.get("escalation_chain_id") == chain["id"]),
        key=lambda s: int(s.get("position") or 0),
    ):
        kind = step.get("type")
        if kind == "wait":
            if levels:
                levels[-1].delay_minutes = min(
                    1440, levels[-1].delay_minutes + int(step.get("duration") or 0) // 60
                )
            else:
                pending_wait += int(step.get("duration") or 0) // 60
            continue
        if kind == "repeat_escalation":
            repeat = 5  # Grafana OnCall repeats a chain up to five times
            continue
        targets: list[str] = []
        mode = "all"
        if kind in ("notify_persons", "notify_person_next_each_time"):
            targets = [
                f"person:{p}"
                for u in step.get("persons_to_notify") or []
                if (p := names.of("person", u))
            ]
            mode = "round_robin" if kind == "notify_person_next_each_time" else "all"
        elif kind == "notify_on_call_from_schedule":
            local = names.of("schedule", str(step.get("notify_on_call_from_schedule")))
            targets = [f"schedule:{local}"] if local else []
        elif kind == "notify_team_members":
            local = names.of("team", str(step.get("notify_to_team_members")))
            targets = [f"team:{local}"] if local else []
        if not targets:
            skipped.append(
                Skipped(
                    kind="escalation_step",
                    vendor_id=str(step.get("id", "")),
                    name=f"{name}: {kind}",
                    why="no warroom equivalent or its target was not imported",
                )
            )
            continue
        levels.append(LevelIn(delay_minutes=0, targets=targets, mode=mode))
    if pending_wait:
        skipped.append(
            Skipped(
                kind="escalation_step",
                vendor_id=chain["id"],
                name=name,
                why=f"a first wait of {pending_wait} min: warroom pages the first level at once",
            )
        )
    if not levels:
        skipped.append(
            Skipped(
                kind="escalation_chain",
                vendor_id=chain["id"],
                name=name,
                why="no step with an imported target",
            )
        )
        return None
    return ImportedPolicy(
        vendor_id=chain["id"], policy=EscalationPolicyIn(name=name, levels=levels, repeat=repeat)
    )


def who_is_on_call(source: Source, schedule_id: str, at: datetime) -> str | None:
    """Grafana OnCall's own answer (the schedule's final shifts): the e-mail of who is on."""
    day = at.astimezone(UTC).date()
    body = source.get(
        f"/api/v1/schedules/{schedule_id}/final_shifts",
        {
            "start_date": (day - timedelta(days=1)).isoformat(),
            "end_date": (day + timedelta(days=1)).isoformat(),
        },
    )
    for shift in body.get("results") or []:
        start = datetime.fromisoformat(str(shift["shift_start"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(shift["shift_end"]).replace("Z", "+00:00"))
        if start <= at < end:
            return str(shift.get("user_email") or "") or None
    return None
