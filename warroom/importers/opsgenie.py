"""Opsgenie API v2 → an import plan.

Reads `/v2/users` (and each user's `/contacts`), `/v2/teams` (members from `/v2/teams/{id}`),
`/v2/schedules?expand=rotation` with each schedule's `/overrides`, and `/v2/escalations`,
following Opsgenie's `paging.next` links. API reference: https://docs.opsgenie.com/docs/
(User API, Contact API, Team API, Schedule API, Schedule Override API, Who Is On Call API,
Escalation API).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from warroom.importers.common import ContactTemplates, Names, contact, person, weekly_window
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
    ContactMethod,
    EscalationPolicyIn,
    LayerIn,
    LevelIn,
    OverrideIn,
    RestrictionIn,
    ScheduleIn,
    TeamIn,
)

API_URL = "https://api.opsgenie.com"
PAGE = 100
_DAYS = {
    day: n
    for n, day in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
_UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}
_CONTACTS = {"email": "email", "sms": "sms", "voice": "phone"}


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"GenieKey {token}"}


def next_page(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    link = (body.get("paging") or {}).get("next")
    if not link:
        return None
    return {**params, **dict(parse_qsl(urlsplit(str(link)).query))}


def read(source: Source, templates: ContactTemplates, now: datetime) -> ImportPlan:
    def listing(path: str, **params: Any) -> list[dict[str, Any]]:
        return source.get_all(path, "data", {"offset": 0, "limit": PAGE, **params}, next_page)

    names = Names()
    skipped: list[Skipped] = []
    users = listing("/v2/users")
    people = []
    for user in users:
        contacts = source.get(f"/v2/users/{user['id']}/contacts").get("data") or []
        built = _person(user, contacts, names, templates, skipped)
        if built is not None:
            people.append(built)
    teams = []
    for summary in listing("/v2/teams"):
        detail = source.get(f"/v2/teams/{summary['id']}", {"identifierType": "id"}).get("data")
        teams.append(_team(detail or summary, names))
    schedules = []
    for schedule in listing("/v2/schedules", expand="rotation"):
        overrides = source.get(f"/v2/schedules/{schedule['id']}/overrides").get("data") or []
        schedules.append(_schedule(schedule, overrides, names, skipped, now))
    policies = [
        policy
        for policy in (_policy(e, names, skipped) for e in listing("/v2/escalations"))
        if policy is not None
    ]
    return ImportPlan(
        vendor="opsgenie",
        people=people,
        teams=teams,
        schedules=schedules,
        escalation_policies=policies,
        skipped=skipped,
    )


def _person(
    user: dict[str, Any],
    contacts: list[dict[str, Any]],
    names: Names,
    templates: ContactTemplates,
    skipped: list[Skipped],
) -> ImportedPerson | None:
    username = str(user.get("username") or user["id"])
    name = names.name("person", user["id"], username.split("@")[0])
    methods: list[ContactMethod] = []
    for position, method in enumerate(contacts, start=1):
        kind = _CONTACTS.get(str(method.get("method")))
        address = str(method.get("to") or "")
        if kind in ("sms", "phone"):
            address = "+" + address.replace("-", "")  # Opsgenie writes "49-1701234567"
        built = contact(templates, kind, address, position) if kind else None
        if built is None or method.get("enabled") is False:
            skipped.append(
                Skipped(
                    kind="contact_method",
                    vendor_id=str(method.get("id", "")),
                    name=f"{name}: {method.get('method')}",
                    why="disabled in Opsgenie"
                    if built is not None
                    else "no Apprise URL for this kind: give --email-url/--sms-url/--phone-url"
                    if kind
                    else "no Apprise equivalent (Opsgenie's mobile app)",
                )
            )
            continue
        methods.append(built)
    return person(
        user["id"],
        name=name,
        display=str(user.get("fullName") or username),
        email=username if "@" in username else "",
        zone=str(user.get("timeZone") or "UTC"),
        methods=methods,
        skipped=skipped,
    )


def _team(team: dict[str, Any], names: Names) -> ImportedTeam:
    name = names.name("team", team["id"], str(team.get("name") or team["id"]))
    members = [
        member
        for m in team.get("members") or []
        if (member := names.of("person", str((m.get("user") or {}).get("id")))) is not None
    ]
    return ImportedTeam(vendor_id=team["id"], team=TeamIn(name=name, members=members))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _restrictions(rotation: dict[str, Any]) -> list[RestrictionIn]:
    rule = rotation.get("timeRestriction") or {}
    if rule.get("type") == "time-of-day":
        r = rule.get("restriction") or {}
        start = time(int(r.get("startHour", 0)), int(r.get("startMin", 0)))
        end = time(int(r.get("endHour", 0)), int(r.get("endMin", 0)))
        return [RestrictionIn(days=list(ALL_DAYS), start=start, end=end)]
    result: list[RestrictionIn] = []
    for r in rule.get("restrictions") or []:
        first = _DAYS[str(r["startDay"])] * 1440 + int(r["startHour"]) * 60 + int(r["startMin"])
        last = _DAYS[str(r["endDay"])] * 1440 + int(r["endHour"]) * 60 + int(r["endMin"])
        length = timedelta(minutes=(last - first) % (7 * 1440) or 7 * 1440)
        result.extend(
            weekly_window(
                _DAYS[str(r["startDay"])], time(int(r["startHour"]), int(r["startMin"])), length
            )
        )
    return result


def _schedule(
    schedule: dict[str, Any],
    overrides: list[dict[str, Any]],
    names: Names,
    skipped: list[Skipped],
    now: datetime,
) -> ImportedSchedule:
    zone_name = str(schedule.get("timezone") or "UTC")
    zone = ZoneInfo(zone_name)
    name = names.name("schedule", schedule["id"], str(schedule.get("name") or schedule["id"]))
    layers = []
    # Opsgenie's later rotations take precedence, as warroom's later layers do.
    for rotation in schedule.get("rotations") or []:
        if rotation.get("endDate") and _parse(rotation["endDate"]) <= now:
            continue
        users = [
            names.of("person", str(p.get("id")))
            for p in rotation.get("participants") or []
            if p.get("type") == "user"
        ]
        others = [p for p in rotation.get("participants") or [] if p.get("type") != "user"]
        if others or not users or None in users:
            skipped.append(
                Skipped(
                    kind="schedule_rotation",
                    vendor_id=str(rotation.get("id", "")),
                    name=f"{name}: {rotation.get('name', '')}",
                    why="only rotations of imported users are imported "
                    "(no teams, escalations or empty turns)",
                )
            )
            continue
        layers.append(
            LayerIn(
                name=str(rotation.get("name") or "")[:80],
                users=[u for u in users if u is not None],
                start=_parse(rotation["startDate"]).astimezone(zone).replace(tzinfo=None),
                shift_length=max(1, int(rotation.get("length") or 1)),
                shift_unit=_UNITS.get(str(rotation.get("type")), "days"),
                restrictions=_restrictions(rotation),
            )
        )
    imported = []
    for o in overrides:
        user = names.of("person", str((o.get("user") or {}).get("id")))
        if user is None:
            continue
        imported.append(
            ImportedOverride(
                vendor_id=str(o.get("alias") or o.get("id")),
                override=OverrideIn(
                    start=_parse(o["startDate"]), end=_parse(o["endDate"]), user=user
                ),
            )
        )
    return ImportedSchedule(
        vendor_id=schedule["id"],
        schedule=ScheduleIn(
            name=name,
            description=str(schedule.get("description") or "")[:2000],
            timezone=zone_name,
            layers=layers,
        ),
        overrides=imported,
    )


def _minutes(delay: dict[str, Any] | None) -> int:
    amount = int((delay or {}).get("timeAmount") or 0)
    unit = str((delay or {}).get("timeUnit") or "minutes")
    return amount * {"minutes": 1, "hours": 60, "days": 1440}.get(unit, 1)


def _policy(
    escalation: dict[str, Any], names: Names, skipped: list[Skipped]
) -> ImportedPolicy | None:
    """Opsgenie's rule delays count from the alert; warroom's level delays count from the level
    before. Rules due at the same minute become one level."""
    name = names.name(
        "escalation_policy", escalation["id"], str(escalation.get("name") or escalation["id"])
    )
    due: dict[int, list[str]] = {}
    for rule in escalation.get("rules") or []:
        recipient = rule.get("recipient") or {}
        kind = {"user": "person", "schedule": "schedule", "team": "team"}.get(
            str(recipient.get("type"))
        )
        local = names.of(kind, str(recipient.get("id"))) if kind else None
        if local is None or rule.get("notifyType", "default") != "default":
            skipped.append(
                Skipped(
                    kind="escalation_rule",
                    vendor_id=str(recipient.get("id", "")),
                    name=f"{name}: {recipient.get('type')}",
                    why="recipient not imported, or a notify type other than default",
                )
            )
            continue
        due.setdefault(_minutes(rule.get("delay")), []).append(f"{kind}:{local}")
    if not due:
        skipped.append(
            Skipped(
                kind="escalation_policy",
                vendor_id=escalation["id"],
                name=name,
                why="no rule with an imported recipient",
            )
        )
        return None
    times = sorted(due)
    repeat = escalation.get("repeat") or {}
    levels = [
        LevelIn(
            delay_minutes=min(
                1440,
                (times[n + 1] - at) if n + 1 < len(times) else int(repeat.get("waitInterval") or 0),
            ),
            targets=due[at],
        )
        for n, at in enumerate(times)
    ]
    if times[0] > 0:
        skipped.append(
            Skipped(
                kind="escalation_delay",
                vendor_id=escalation["id"],
                name=name,
                why=f"the first rule waits {times[0]} min in Opsgenie; "
                "warroom pages the first level at once",
            )
        )
    return ImportedPolicy(
        vendor_id=escalation["id"],
        policy=EscalationPolicyIn(
            name=name,
            description=str(escalation.get("description") or "")[:2000],
            levels=levels,
            repeat=min(10, int(repeat.get("count") or 0)),
        ),
    )


def who_is_on_call(source: Source, schedule_id: str, at: datetime) -> str | None:
    """Opsgenie's own answer (Who Is On Call API, flat): the username on call, if any."""
    body = source.get(
        f"/v2/schedules/{schedule_id}/on-calls", {"date": at.isoformat(), "flat": "true"}
    )
    recipients = (body.get("data") or {}).get("onCallRecipients") or []
    return str(recipients[0]) if recipients else None
