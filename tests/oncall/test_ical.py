"""iCal: floating times in the import's zone, re-imports matched by UID, warroom's own feed
importable, and feed UIDs that stay the same as the feed's window moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from tests.conftest import Api
from tests.oncall.conftest import person
from warroom.core.clock import FixedClock

BERLIN = ZoneInfo("Europe/Berlin")


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        + "".join(f"BEGIN:VEVENT\r\n{e}END:VEVENT\r\n" for e in events)
        + "END:VCALENDAR\r\n"
    )


def event(uid: str, start: datetime, hours: int, who: str, extra: str = "") -> str:
    """A VEVENT with floating times (no zone, no Z)."""
    end = start + timedelta(hours=hours)
    return (
        f"UID:{uid}\r\nDTSTART:{start:%Y%m%dT%H%M%S}\r\nDTEND:{end:%Y%m%dT%H%M%S}\r\n"
        f"SUMMARY:On call: {who}\r\n{extra}"
    )


def overrides(api: Api, name: str) -> list[tuple[str, str, str]]:
    found = api.ok("GET", f"/api/v1/oncall/schedules/{name}")["overrides"]
    return sorted((o["user"], o["start"], o["end"]) for o in found)


def import_(api: Api, text: str, name: str = "rota", tz: str = "Europe/Berlin") -> Any:
    body = {"name": name, "ical_text": text, "timezone": tz}
    return api.ok("POST", "/api/v1/oncall/schedules/import", json=body)


def test_floating_times_are_in_the_imports_time_zone(oc_api: Api, clock: FixedClock) -> None:
    person(oc_api, "ann")
    day = (clock.now() + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    import_(oc_api, calendar(event("a@test", day.replace(tzinfo=None), 12, "ann")))
    ((user, start, _),) = overrides(oc_api, "rota")
    wall = day.replace(tzinfo=None).replace(tzinfo=BERLIN)  # 08:00 in Berlin, not in UTC
    assert user == "ann" and datetime.fromisoformat(start) == wall


def test_reimporting_matches_by_uid_and_replaces_what_changed(
    oc_api: Api, clock: FixedClock
) -> None:
    person(oc_api, "ann")
    person(oc_api, "bob")
    day = (clock.now() + timedelta(days=2)).replace(
        hour=8, minute=0, second=0, microsecond=0, tzinfo=None
    )
    weekly = event("r@test", day, 12, "bob", "RRULE:FREQ=DAILY;COUNT=3\r\n")
    text = calendar(event("a@test", day, 12, "ann"), weekly)
    first = import_(oc_api, text)
    assert first["shifts_added"] == 4
    before = overrides(oc_api, "rota")
    again = import_(oc_api, text)
    assert (again["shifts_added"], again["shifts_unchanged"], again["shifts_removed"]) == (0, 4, 0)
    assert overrides(oc_api, "rota") == before  # nothing twice
    # ann's shift moved two hours later, and the daily one lost its last day
    moved = calendar(
        event("a@test", day + timedelta(hours=2), 12, "ann"),
        event("r@test", day, 12, "bob", "RRULE:FREQ=DAILY;COUNT=2\r\n"),
    )
    changed = import_(oc_api, moved)
    assert (changed["shifts_added"], changed["shifts_unchanged"], changed["shifts_removed"]) == (
        1,
        2,
        2,
    )
    after = overrides(oc_api, "rota")
    assert [o[0] for o in after].count("bob") == 2 and [o[0] for o in after].count("ann") == 1


def test_warroom_feeds_import_back_with_stable_uids(
    oc_api: Api, oc_client: Any, clock: FixedClock
) -> None:
    person(oc_api, "ann")
    person(oc_api, "bob")
    oc_api.ok(
        "POST",
        "/api/v1/oncall/schedules",
        json={
            "name": "primary",
            "layers": [
                {"users": ["ann", "bob"], "start": "2026-01-05T09:00", "shift_unit": "days"}
            ],
        },
    )
    url = oc_api.ok("GET", "/api/v1/oncall/schedules/primary/feed-url")["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]

    def feed() -> dict[datetime, str]:
        response = oc_client.get(f"/{path}")
        assert response.status_code == 200
        cal = icalendar.Calendar.from_ical(response.content)
        return {e.get("dtstart").dt: str(e.get("uid")) for e in cal.walk("VEVENT")}

    first = feed()
    clock.advance(timedelta(hours=30))  # the feed's window moves on
    second = feed()
    # every shift of the second fetch that the first one had is the same event (same UID),
    # the first shift too (its start is its own, not the window's)
    last = max(first)
    again = {uid for start, uid in second.items() if start <= last}
    assert len(again) > 10 and again <= set(first.values())
    assert min(second) < clock.now() - timedelta(days=7)  # the true start, before the window
    # warroom's own feed imports back: every event names a known person
    text = oc_client.get(f"/{path}").text
    result = import_(oc_api, text, name="copy", tz="UTC")
    assert result["skipped"] == [] and result["shifts_added"] > 10


def test_bad_calendars_get_a_4xx_and_change_nothing(oc_api: Api) -> None:
    body = {"name": "rota", "ical_text": "not a calendar", "timezone": "UTC"}
    status, reply = oc_api.request("POST", "/api/v1/oncall/schedules/import", json=body)
    assert status == 422 and reply["error"]["code"] == "bad_ical"
    body = {"name": "rota", "ical_text": calendar(), "timezone": "Mars/Olympus"}
    status, _ = oc_api.request("POST", "/api/v1/oncall/schedules/import", json=body)
    assert status == 422
    assert oc_api.ok("GET", "/api/v1/oncall/schedules")["items"] == []
