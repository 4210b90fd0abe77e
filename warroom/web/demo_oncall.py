"""The on-call part of `warroom demo`: people, teams, schedules with layers and an override,
and escalation policies, written through `OncallService` like any other change.

The names match the catalog in `demo.yaml` (owner teams, escalation policies). The contact
methods point at `.invalid` hosts: a demo page is recorded but reaches nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime

CATALOG = Path(__file__).parent / "demo.yaml"

PEOPLE = (
    ("alice", "Alice Martin", "Europe/Berlin"),
    ("bob", "Bob Okafor", "Europe/London"),
    ("carol", "Carol Nguyen", "Europe/Berlin"),
    ("dave", "Dave Kowalski", "Europe/Warsaw"),
    ("erin", "Erin Walsh", "America/New_York"),
)


def _monday_before(moment: datetime, zone: ZoneInfo, weeks: int) -> datetime:
    """A Monday 09:00 wall time, `weeks` weeks before the week of `moment` (naive, local)."""
    local = moment.astimezone(zone)
    monday = (local - timedelta(days=local.weekday() + 7 * weeks)).date()
    return datetime(monday.year, monday.month, monday.day, 9, 0)


def load_oncall(runtime: Runtime, clock: FixedClock, admin: Principal) -> dict[str, Any] | None:
    """Create the demo's on-call data."""
    oncall = runtime.oncall
    from warroom.oncall import models

    now = clock.now()
    clock.set(now - timedelta(days=30))
    for name, display, tz in PEOPLE:
        oncall.create_person(
            admin,
            models.PersonIn(
                name=name,
                display_name=display,
                email=f"{name}@example.com",
                timezone=tz,
                contact_methods=[
                    models.ContactMethod(name="push", url=f"ntfy://ntfy.example.invalid/{name}"),
                    models.ContactMethod(
                        name="email", url=f"mailto://{name}@example.invalid", delay_minutes=5
                    ),
                ],
            ),
        )
    for team, members, manager in (
        ("platform", ["bob", "dave", "erin"], "alice"),
        ("payments", ["bob", "carol"], "alice"),
        ("search", ["dave", "erin"], "carol"),
    ):
        oncall.create_team(admin, models.TeamIn(name=team, members=members, manager=manager))

    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    oncall.create_schedule(
        admin,
        models.ScheduleIn(
            name="platform-primary",
            description="Platform on call: a week each, handoff Monday 09:00 Berlin time",
            timezone="Europe/Berlin",
            layers=[
                models.LayerIn(
                    name="weekly",
                    users=["bob", "dave", "erin"],
                    start=_monday_before(now, berlin, 6),
                    shift_unit="weeks",
                )
            ],
        ),
    )
    start = (now - timedelta(days=20)).astimezone(UTC).replace(hour=8, minute=0, tzinfo=None)
    oncall.create_schedule(
        admin,
        models.ScheduleIn(
            name="payments-primary",
            description="Payments: daily handoff at 08:00 UTC",
            timezone="UTC",
            layers=[
                models.LayerIn(name="daily", users=["carol", "bob"], start=start, shift_unit="days")
            ],
        ),
    )
    oncall.create_schedule(
        admin,
        models.ScheduleIn(
            name="search-business-hours",
            description="Search: business hours in New York, weekdays only",
            timezone="America/New_York",
            layers=[
                models.LayerIn(
                    name="weekdays",
                    users=["erin", "dave"],
                    start=_monday_before(now, new_york, 4),
                    shift_unit="weeks",
                    restrictions=[
                        models.RestrictionIn(
                            days=["mon", "tue", "wed", "thu", "fri"], start=time(9), end=time(17)
                        )
                    ],
                )
            ],
        ),
    )
    for policy, levels, repeat in (
        (
            "edge-critical",
            [
                models.LevelIn(delay_minutes=0, targets=["schedule:platform-primary"]),
                models.LevelIn(delay_minutes=15, targets=["team:platform"]),
                models.LevelIn(delay_minutes=30, targets=["person:alice"]),
            ],
            1,
        ),
        (
            "payments-critical",
            [
                models.LevelIn(delay_minutes=0, targets=["schedule:payments-primary"]),
                models.LevelIn(delay_minutes=10, targets=["team:payments"], mode="round_robin"),
            ],
            2,
        ),
        (
            "search-default",
            [
                models.LevelIn(delay_minutes=0, targets=["schedule:search-business-hours"]),
                models.LevelIn(delay_minutes=30, targets=["team:search"]),
            ],
            0,
        ),
    ):
        oncall.create_policy(
            admin, models.EscalationPolicyIn(name=policy, levels=levels, repeat=repeat)
        )
    clock.set(now - timedelta(days=1))
    # Tomorrow evening someone takes the platform shift for four hours.
    evening = (
        (now + timedelta(days=1))
        .astimezone(berlin)
        .replace(hour=18, minute=0, second=0, microsecond=0)
    )
    current = oncall.who_is_on_call(evening, "platform-primary")[0]["person"]
    cover = "dave" if current != "dave" else "bob"
    oncall.add_override(
        admin,
        "platform-primary",
        models.OverrideIn(
            start=evening, end=evening + timedelta(hours=4), user=cover, replaces=current
        ),
    )
    clock.set(now)
    return {
        "people": [p[0] for p in PEOPLE],
        "schedules": ["platform-primary", "payments-primary", "search-business-hours"],
    }
