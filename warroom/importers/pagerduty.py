"""PagerDuty REST API v2 → an import plan.

Reads `/users` (with contact methods), `/teams`, `/schedules/{id}` (layers, restrictions) with
`/schedules/{id}/overrides`, `/escalation_policies` and `/services`, following PagerDuty's
classic `offset`/`limit`/`more` pagination. API reference:
https://developer.pagerduty.com/api-reference/ (Users, Teams, Schedules, Escalation Policies,
Services, On-Calls) and https://developer.pagerduty.com/docs/pagination.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from warroom.importers.common import ContactTemplates, Names, contact, person, weekly_window
from warroom.importers.plan import (
    ImportedOverride,
    ImportedPerson,
    ImportedPolicy,
    ImportedSchedule,
    ImportedService,
    ImportedTeam,
    ImportPlan,
    RoutingKey,
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

API_URL = "https://api.pagerduty.com"
PAGE = 100
_CONTACT_KINDS = {
    "email_contact_method": "email",
    "email_contact_method_reference": "email",
    "sms_contact_method": "sms",
    "sms_contact_method_reference": "sms",
    "phone_contact_method": "phone",
    "phone_contact_method_reference": "phone",
}


def headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Token token={token}",
        "Accept": "application/vnd.pagerduty+json;version=2",
    }


def next_page(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    if not body.get("more"):
        return None
    # The server may give fewer than asked (it caps `limit`); the body says how many it used.
    used = int(body.get("limit") or params.get("limit", PAGE))
    return {**params, "offset": int(params.get("offset", 0)) + used}


def read(source: Source, templates: ContactTemplates, now: datetime) -> ImportPlan:
    """Everything PagerDuty has that warroom keeps, as a plan (nothing is written here)."""

    def listing(path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return source.get_all(path, key, {"offset": 0, "limit": PAGE, **params}, next_page)

    names = Names()
    skipped: list[Skipped] = []
    users = listing("/users", "users", **{"include[]": "contact_methods"})
    people = [_person(u, names, templates, skipped) for u in users]
    teams = [_team(t, users, names) for t in listing("/teams", "teams")]
    schedules = []
    for summary in listing("/schedules", "schedules"):
        detail = source.get(f"/schedules/{summary['id']}").get("schedule") or summary
        window = {"since": now.isoformat(), "until": (now + timedelta(days=90)).isoformat()}
        overrides = source.get(f"/schedules/{summary['id']}/overrides", window).get("overrides", [])
        built = _schedule(detail, overrides, names, skipped, now)
        if built is not None:
            schedules.append(built)
    policies = [
        p
        for p in (
            _policy(e, names, skipped)
            for e in listing("/escalation_policies", "escalation_policies")
        )
        if p is not None
    ]
    services = [
        _service(s, names)
        for s in listing("/services", "services", **{"include[]": "integrations"})
    ]
    return ImportPlan(
        vendor="pagerduty",
        people=[p for p in people if p is not None],
        teams=teams,
        schedules=schedules,
        escalation_policies=policies,
        services=services,
        skipped=skipped,
    )


_EVENTS_INTEGRATIONS = {
    "events_api_v2_inbound_integration",
    "generic_events_api_inbound_integration",
}


def _service(service: dict[str, Any], names: Names) -> ImportedService:
    """A service, the policy that pages for it, and its Events API keys (kept in warroom, so
    senders change only the URL)."""
    name = names.name("service", service["id"], str(service.get("name") or service["id"]))
    keys = [
        RoutingKey(
            vendor_id=str(i["id"]),
            name=names.name("integration", str(i["id"]), f"pd-{name}-{i.get('name') or i['id']}"),
            key=str(i["integration_key"]),
        )
        for i in service.get("integrations") or []
        if i.get("type") in _EVENTS_INTEGRATIONS and i.get("integration_key")
    ]
    return ImportedService(
        vendor_id=service["id"],
        name=name,
        escalation_policy=names.of(
            "escalation_policy", str((service.get("escalation_policy") or {}).get("id", ""))
        ),
        integrations=[
            str(i.get("summary") or i.get("name") or i.get("type") or i.get("id"))
            for i in service.get("integrations") or []
        ],
        routing_keys=keys,
    )


def _person(
    user: dict[str, Any], names: Names, templates: ContactTemplates, skipped: list[Skipped]
) -> ImportedPerson | None:
    email = str(user.get("email") or "")
    display = str(user.get("name") or email or user["id"])
    name = names.name("person", user["id"], email.split("@")[0] if email else display)
    methods: list[ContactMethod] = []
    for position, method in enumerate(user.get("contact_methods") or [], start=1):
        kind = _CONTACT_KINDS.get(str(method.get("type")))
        address = str(method.get("address") or "")
        if kind in ("sms", "phone") and method.get("country_code"):
            address = f"+{method['country_code']}{address}"
        built = contact(templates, kind, address, position) if kind else None
        if built is None:
            skipped.append(
                Skipped(
                    kind="contact_method",
                    vendor_id=str(method.get("id", "")),
                    name=f"{name}: {method.get('type')}",
                    why="no Apprise URL for this kind: give --email-url/--sms-url/--phone-url"
                    if kind
                    else "no Apprise equivalent (e.g. push notifications to the vendor's app)",
                )
            )
            continue
        methods.append(built)
    return person(
        user["id"],
        name=name,
        display=display,
        email=email,
        zone=str(user.get("time_zone") or "UTC"),
        methods=methods,
        skipped=skipped,
    )


def _team(team: dict[str, Any], users: list[dict[str, Any]], names: Names) -> ImportedTeam:
    name = names.name("team", team["id"], str(team.get("name") or team["id"]))
    members = [
        member
        for u in users
        if any(t.get("id") == team["id"] for t in u.get("teams") or [])
        and (member := names.of("person", u["id"])) is not None
    ]
    return ImportedTeam(vendor_id=team["id"], team=TeamIn(name=name, members=members))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _restrictions(layer: dict[str, Any]) -> list[RestrictionIn]:
    result: list[RestrictionIn] = []
    for r in layer.get("restrictions") or []:
        start = time.fromisoformat(str(r.get("start_time_of_day", "00:00:00")))
        length = timedelta(seconds=int(r.get("duration_seconds", 0)))
        if r.get("type") == "daily_restriction":
            if length >= timedelta(days=1):
                continue
            end = (datetime.combine(datetime.min, start) + length).time()
            result.append(RestrictionIn(days=list(ALL_DAYS), start=start, end=end))
        else:  # weekly_restriction: start_day_of_week 1 (Monday) .. 7 (Sunday)
            day = (int(r.get("start_day_of_week", 1)) - 1) % 7
            result.extend(weekly_window(day, start, length))
    return result


def _schedule(
    schedule: dict[str, Any],
    overrides: list[dict[str, Any]],
    names: Names,
    skipped: list[Skipped],
    now: datetime,
) -> ImportedSchedule | None:
    zone_name = str(schedule.get("time_zone") or "UTC")
    zone = ZoneInfo(zone_name)
    name = names.name("schedule", schedule["id"], str(schedule.get("name") or schedule["id"]))
    layers: list[LayerIn] = []
    # PagerDuty lists the top layer (which wins) first; warroom's later layers win.
    for layer in reversed(schedule.get("schedule_layers") or []):
        if layer.get("end") and _parse(layer["end"]) <= now:
            continue  # ended: PagerDuty shows nobody from it any more
        users = [names.of("person", u["user"]["id"]) for u in layer.get("users") or []]
        if not users or None in users:
            skipped.append(
                Skipped(
                    kind="schedule_layer",
                    vendor_id=str(layer.get("id", "")),
                    name=f"{name}: {layer.get('name', '')}",
                    why="names people PagerDuty did not list (deactivated?)",
                )
            )
            continue
        turn = int(layer["rotation_turn_length_seconds"])
        anchor = _parse(layer["rotation_virtual_start"]).astimezone(zone).replace(tzinfo=None)
        if turn % 604800 == 0:
            length, unit = turn // 604800, "weeks"
        elif turn % 86400 == 0:
            length, unit = turn // 86400, "days"
        else:
            length, unit = max(1, turn // 3600), "hours"
            if turn % 3600:
                skipped.append(
                    Skipped(
                        kind="schedule_layer",
                        vendor_id=str(layer.get("id", "")),
                        name=f"{name}: {layer.get('name', '')}",
                        why=f"turns of {turn} s rounded to whole hours",
                    )
                )
        # A layer that starts after its rotation's anchor begins at the handoff before its
        # start: move the anchor there and turn the rotation so the same person is on.
        start = _parse(layer["start"]).astimezone(zone).replace(tzinfo=None)
        step = (
            timedelta(days=length * (7 if unit == "weeks" else 1))
            if unit != "hours"
            else (timedelta(hours=length))
        )
        turns = max(0, (start - anchor) // step)
        anchor += turns * step
        users = users[turns % len(users) :] + users[: turns % len(users)]
        layers.append(
            LayerIn(
                name=str(layer.get("name") or "")[:80],
                users=[u for u in users if u is not None],
                start=anchor,
                shift_length=length,
                shift_unit=unit,
                restrictions=_restrictions(layer),
            )
        )
    imported_overrides = []
    for o in overrides:
        user = names.of("person", (o.get("user") or {}).get("id", ""))
        if user is None:
            continue
        imported_overrides.append(
            ImportedOverride(
                vendor_id=str(o["id"]),
                override=OverrideIn(start=_parse(o["start"]), end=_parse(o["end"]), user=user),
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
        overrides=imported_overrides,
    )


_TARGET_KINDS = {
    "user_reference": "person",
    "user": "person",
    "schedule_reference": "schedule",
    "schedule": "schedule",
}


def _policy(policy: dict[str, Any], names: Names, skipped: list[Skipped]) -> ImportedPolicy | None:
    name = names.name("escalation_policy", policy["id"], str(policy.get("name") or policy["id"]))
    levels = []
    for rule in policy.get("escalation_rules") or []:
        targets = []
        for target in rule.get("targets") or []:
            kind = _TARGET_KINDS.get(str(target.get("type")))
            local = names.of(kind, str(target.get("id"))) if kind else None
            if local is None:
                skipped.append(
                    Skipped(
                        kind="escalation_target",
                        vendor_id=str(target.get("id", "")),
                        name=f"{name}: {target.get('type')}",
                        why="target not imported",
                    )
                )
                continue
            targets.append(f"{kind}:{local}")
        if targets:
            levels.append(
                LevelIn(
                    delay_minutes=min(1440, int(rule.get("escalation_delay_in_minutes", 30))),
                    targets=targets,
                )
            )
    if not levels:
        skipped.append(
            Skipped(
                kind="escalation_policy",
                vendor_id=policy["id"],
                name=name,
                why="no level with an imported target",
            )
        )
        return None
    loops = int(policy.get("num_loops") or 0)
    return ImportedPolicy(
        vendor_id=policy["id"],
        policy=EscalationPolicyIn(
            name=name,
            description=str(policy.get("description") or "")[:2000],
            levels=levels,
            repeat=min(10, loops),
        ),
    )


def who_is_on_call(source: Source, schedule_id: str, at: datetime) -> str | None:
    """PagerDuty's own answer (`/oncalls`) for one schedule at one instant: its user's id."""
    body = source.get(
        "/oncalls",
        {"schedule_ids[]": schedule_id, "since": at.isoformat(), "until": at.isoformat()},
    )
    for entry in body.get("oncalls") or []:
        if (entry.get("schedule") or {}).get("id") == schedule_id:
            user = entry.get("user") or {}
            return str(user.get("id")) if user.get("id") else None
    return None
