"""A local PagerDuty REST API v2 serving fixtures shaped as PagerDuty documents its responses.

References (the shapes below follow them):
- Users, with `include[]=contact_methods`:
  https://developer.pagerduty.com/api-reference/c96e889522dd6-list-users
- Contact methods (`email_contact_method`, `sms_contact_method` with `country_code`, ...):
  https://developer.pagerduty.com/api-reference/50d46c0eb020d-list-a-user-s-contact-methods
- Teams: https://developer.pagerduty.com/api-reference/0138639504311-list-teams
- Schedules and one schedule with `schedule_layers` (`rotation_virtual_start`,
  `rotation_turn_length_seconds`, `restrictions` daily/weekly with `start_day_of_week` 1 =
  Monday): https://developer.pagerduty.com/api-reference/3f03afb2c84a4-get-a-schedule
- Overrides: https://developer.pagerduty.com/api-reference/4d8fa7b5a8d8b-list-overrides
- Escalation policies (`escalation_rules`, `escalation_delay_in_minutes`, `num_loops`):
  https://developer.pagerduty.com/api-reference/51b21014a4f5a-list-escalation-policies
- Services: https://developer.pagerduty.com/api-reference/e960cca205c0f-list-services
- On-calls: https://developer.pagerduty.com/api-reference/3a6b910f11050-list-all-of-the-on-calls
- Pagination (`offset`, `limit`, `more`): https://developer.pagerduty.com/docs/pagination
- Rate limits (429): https://developer.pagerduty.com/docs/rest-api-rate-limits
- Auth header `Authorization: Token token=...`:
  https://developer.pagerduty.com/docs/authentication

The API lists a schedule's layers top (winning) layer first.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.importers.vendor_api import VendorApi, serve

__all__ = ["INSTANTS", "ROUTING_KEY", "TOKEN", "PagerDutyApi", "save", "serve"]

TOKEN = "pd-test-token"
ROUTING_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def _ref(kind: str, id_: str, summary: str) -> dict[str, str]:
    return {"id": id_, "type": kind, "summary": summary}


def _weekday_business_hours(day: int) -> dict[str, Any]:
    return {
        "type": "weekly_restriction",
        "start_day_of_week": day,
        "start_time_of_day": "09:00:00",
        "duration_seconds": 8 * 3600,
    }


FIXTURES: dict[str, Any] = {
    "users": [
        {
            "id": "PU1",
            "type": "user",
            "name": "Ann Example",
            "email": "ann@example.com",
            "time_zone": "Europe/Berlin",
            "role": "admin",
            "teams": [_ref("team_reference", "PT1", "Platform")],
            "contact_methods": [
                {
                    "id": "PC1",
                    "type": "email_contact_method",
                    "label": "Work",
                    "address": "ann@example.com",
                },
                {
                    "id": "PC2",
                    "type": "sms_contact_method",
                    "label": "Mobile",
                    "country_code": 49,
                    "address": "1701234567",
                },
                {
                    "id": "PC3",
                    "type": "push_notification_contact_method",
                    "label": "Phone",
                    "address": "abc123",
                },
            ],
        },
        {
            "id": "PU2",
            "type": "user",
            "name": "Bob Builder",
            "email": "bob@example.com",
            "time_zone": "Europe/Berlin",
            "role": "user",
            "teams": [_ref("team_reference", "PT1", "Platform")],
            "contact_methods": [
                {
                    "id": "PC4",
                    "type": "email_contact_method",
                    "label": "Work",
                    "address": "bob@example.com",
                },
            ],
        },
        {
            "id": "PU3",
            "type": "user",
            "name": "Cem Çelik",
            "email": "cem@example.com",
            "time_zone": "Europe/Istanbul",
            "role": "user",
            "teams": [],
            "contact_methods": [],
        },
    ],
    "teams": [{"id": "PT1", "type": "team", "name": "Platform", "summary": "Platform"}],
    "schedules": {
        "PS1": {
            "id": "PS1",
            "type": "schedule",
            "name": "Platform Primary",
            "time_zone": "Europe/Berlin",
            "description": "Primary on-call for the platform team",
            "schedule_layers": [
                {
                    "id": "PL2",
                    "name": "Business hours",
                    "start": "2027-03-01T09:00:00+01:00",
                    "end": None,
                    "rotation_virtual_start": "2027-03-01T09:00:00+01:00",
                    "rotation_turn_length_seconds": 604800,
                    "users": [{"user": _ref("user_reference", "PU3", "Cem Çelik")}],
                    "restrictions": [_weekday_business_hours(day) for day in range(1, 6)],
                },
                {
                    "id": "PL1",
                    "name": "Nights and weekends",
                    "start": "2027-03-24T12:00:00+01:00",
                    "end": None,
                    "rotation_virtual_start": "2027-03-22T09:00:00+01:00",
                    "rotation_turn_length_seconds": 86400,
                    "users": [
                        {"user": _ref("user_reference", "PU1", "Ann Example")},
                        {"user": _ref("user_reference", "PU2", "Bob Builder")},
                    ],
                    "restrictions": [],
                },
            ],
        }
    },
    "overrides": {
        "PS1": [
            {
                "id": "PO1",
                "start": "2027-03-29T18:00:00+02:00",
                "end": "2027-03-29T20:00:00+02:00",
                "user": _ref("user_reference", "PU1", "Ann Example"),
            }
        ]
    },
    "escalation_policies": [
        {
            "id": "PE1",
            "type": "escalation_policy",
            "name": "Platform",
            "description": "",
            "num_loops": 2,
            "escalation_rules": [
                {
                    "id": "PR1",
                    "escalation_delay_in_minutes": 10,
                    "targets": [_ref("schedule_reference", "PS1", "Platform Primary")],
                },
                {
                    "id": "PR2",
                    "escalation_delay_in_minutes": 30,
                    "targets": [_ref("user_reference", "PU3", "Cem Çelik")],
                },
            ],
        }
    ],
    "services": [
        {
            "id": "PSV1",
            "type": "service",
            "name": "Checkout API",
            "escalation_policy": _ref("escalation_policy_reference", "PE1", "Platform"),
            # As listed with include[]=integrations: the integration objects, with their keys.
            "integrations": [
                {
                    "id": "PI1",
                    "type": "events_api_v2_inbound_integration",
                    "name": "Prometheus",
                    "summary": "Prometheus",
                    "integration_key": ROUTING_KEY,
                },
            ],
        }
    ],
    # PagerDuty's own answer to "who is on call" (/oncalls), worked out by hand from the
    # schedule above: the 09:00 handoff stays at 09:00 Berlin time across the DST change of
    # 2027-03-28 (02:00 CET -> 03:00 CEST); Cem's business hours win on weekdays; Ann's
    # override wins on Monday evening.
    "oncalls": {
        ("PS1", "2027-03-27T20:00:00+00:00"): "PU2",  # Sat 21:00 CET: night layer, Bob
        ("PS1", "2027-03-28T06:30:00+00:00"): "PU2",  # Sun 08:30 CEST: before the handoff
        ("PS1", "2027-03-28T07:30:00+00:00"): "PU1",  # Sun 09:30 CEST: Ann after it
        ("PS1", "2027-03-29T08:00:00+00:00"): "PU3",  # Mon 10:00 CEST: business hours
        ("PS1", "2027-03-29T17:00:00+00:00"): "PU1",  # Mon 19:00 CEST: Ann's override
        ("PS1", "2027-03-29T19:00:00+00:00"): "PU2",  # Mon 21:00 CEST: night layer, Bob
    },
}
INSTANTS = sorted({at for _, at in FIXTURES["oncalls"]})


class PagerDutyApi(VendorApi):
    """Serves FIXTURES (deep-copied, so a test may change its own) with PagerDuty's paging."""

    unauthorized = {"error": {"message": "Unauthorized", "code": 2006}}
    rate_limited = {"error": {"message": "Rate Limit Exceeded", "code": 2020}}

    def __init__(self) -> None:
        super().__init__()
        self.data = copy.deepcopy(FIXTURES)

    def authorized(self, authorization: str | None) -> bool:
        return authorization == f"Token token={TOKEN}"

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        one = {k: v[0] for k, v in query.items()}
        offset, limit = int(one.get("offset", 0)), min(int(one.get("limit", 25)), self.page_size)

        def page(key: str, items: list[Any]) -> tuple[int, Any]:
            chunk = items[offset : offset + limit]
            more = offset + limit < len(items)
            return 200, {key: chunk, "offset": offset, "limit": limit, "more": more, "total": None}

        if path == "/users":
            return page("users", self.data["users"])
        if path == "/teams":
            return page("teams", self.data["teams"])
        if path == "/schedules":
            summaries = [
                {k: s[k] for k in ("id", "type", "name", "time_zone")}
                for s in self.data["schedules"].values()
            ]
            return page("schedules", summaries)
        if path.startswith("/schedules/") and path.endswith("/overrides"):
            schedule_id = path.split("/")[2]
            return 200, {"overrides": self.data["overrides"].get(schedule_id, [])}
        if path.startswith("/schedules/"):
            found = self.data["schedules"].get(path.split("/")[2])
            return (200, {"schedule": found}) if found else (404, {"error": {"code": 2100}})
        if path == "/escalation_policies":
            return page("escalation_policies", self.data["escalation_policies"])
        if path == "/services":
            return page("services", self.data["services"])
        if path == "/oncalls":
            schedule_id = one.get("schedule_ids[]", "")
            at = one.get("since", "")
            user = self.data["oncalls"].get((schedule_id, at))
            entries = (
                [
                    {
                        "escalation_level": 1,
                        "schedule": _ref("schedule_reference", schedule_id, ""),
                        "user": _ref("user_reference", user, ""),
                        "start": at,
                        "end": at,
                    }
                ]
                if user
                else []
            )
            return 200, {"oncalls": entries, "offset": 0, "limit": 25, "more": False}
        return 404, {"error": {"message": "Not Found", "code": 2100}}


def save(api: PagerDutyApi, root: Any) -> None:
    """The fixtures as a directory of saved responses (`warroom import pagerduty --from`)."""
    api.page_size = 10_000
    for path in ("/users", "/teams", "/schedules", "/escalation_policies", "/services"):
        _, body = api.answer(path, {})
        (root / f"{path.strip('/')}.json").write_text(json.dumps(body))
    (root / "schedules").mkdir(exist_ok=True)
    for schedule_id in api.data["schedules"]:
        for suffix in ("", "/overrides"):
            _, body = api.answer(f"/schedules/{schedule_id}{suffix}", {})
            target = root / f"schedules/{schedule_id}{suffix}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(body))
