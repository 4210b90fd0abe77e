"""A local Opsgenie API v2 serving fixtures shaped as Opsgenie documents its responses.

References (https://docs.opsgenie.com/docs/):
- User API, list users (`data`, `paging.next`, `totalCount`): .../user-api#list-user
- Contact API (`method`: email, sms, voice, mobile; `to`): .../contact-api#list-contacts
- Team API, get team (`members` with `user`): .../team-api#get-team
- Schedule API, list with `expand=rotation` (`rotations` with `startDate`, `type`
  hourly/daily/weekly, `length`, `participants`, `timeRestriction` of type
  `weekday-and-time-of-day`): .../schedule-api#list-schedules
- Schedule Override API (`alias`, `user`, `startDate`, `endDate`): .../schedule-override-api
- Who Is On Call API with `flat=true` (`onCallRecipients`): .../who-is-on-call-api
- Escalation API (`rules` with `delay` from the alert's creation, `recipient`, `repeat`):
  .../escalation-api
- Authentication `Authorization: GenieKey <key>`: .../authentication
- Rate limiting (429): .../api-rate-limiting
"""

from __future__ import annotations

import copy
from typing import Any

from tests.importers.vendor_api import VendorApi, serve

__all__ = ["INSTANTS", "KEY", "OpsgenieApi", "serve"]

KEY = "og-test-key"


def _user(id_: str, username: str, full_name: str) -> dict[str, Any]:
    return {"type": "user", "id": id_, "username": username, "fullName": full_name}


def _business_day(day: str) -> dict[str, Any]:
    return {
        "startDay": day,
        "startHour": 9,
        "startMin": 0,
        "endDay": day,
        "endHour": 17,
        "endMin": 0,
    }


FIXTURES: dict[str, Any] = {
    "users": [
        {
            "id": "OU1",
            "username": "ann@example.com",
            "fullName": "Ann Example",
            "role": {"id": "Admin", "name": "Admin"},
            "timeZone": "Europe/Berlin",
        },
        {
            "id": "OU2",
            "username": "bob@example.com",
            "fullName": "Bob Builder",
            "role": {"id": "User", "name": "User"},
            "timeZone": "Europe/Berlin",
        },
        {
            "id": "OU3",
            "username": "cem@example.com",
            "fullName": "Cem Çelik",
            "role": {"id": "User", "name": "User"},
            "timeZone": "Europe/Istanbul",
        },
    ],
    "contacts": {
        "OU1": [
            {"id": "OC1", "method": "email", "to": "ann@example.com", "enabled": True},
            {"id": "OC2", "method": "sms", "to": "49-1701234567", "enabled": True},
            {"id": "OC3", "method": "mobile", "to": "Ann's phone", "enabled": True},
        ],
        "OU2": [{"id": "OC4", "method": "email", "to": "bob@example.com", "enabled": True}],
        "OU3": [],
    },
    "teams": {
        "OT1": {
            "id": "OT1",
            "name": "Platform",
            "description": "",
            "members": [
                {"user": {"id": "OU1", "username": "ann@example.com"}, "role": "admin"},
                {"user": {"id": "OU2", "username": "bob@example.com"}, "role": "user"},
            ],
        }
    },
    "schedules": [
        {
            "id": "OS1",
            "name": "Platform Primary",
            "description": "",
            "timezone": "Europe/Berlin",
            "enabled": True,
            "ownerTeam": {"id": "OT1", "name": "Platform"},
            "rotations": [
                {
                    "id": "OR1",
                    "name": "Nights and weekends",
                    "startDate": "2027-03-22T08:00:00Z",
                    "type": "daily",
                    "length": 1,
                    "participants": [
                        _user("OU1", "ann@example.com", "Ann Example"),
                        _user("OU2", "bob@example.com", "Bob Builder"),
                    ],
                },
                {
                    "id": "OR2",
                    "name": "Business hours",
                    "startDate": "2027-03-01T08:00:00Z",
                    "type": "weekly",
                    "length": 1,
                    "participants": [_user("OU3", "cem@example.com", "Cem Çelik")],
                    "timeRestriction": {
                        "type": "weekday-and-time-of-day",
                        "restrictions": [
                            _business_day(d)
                            for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
                        ],
                    },
                },
            ],
        }
    ],
    "overrides": {
        "OS1": [
            {
                "alias": "ov-1",
                "user": {"type": "user", "id": "OU1", "username": "ann@example.com"},
                "startDate": "2027-03-29T16:00:00Z",
                "endDate": "2027-03-29T18:00:00Z",
                "rotations": [],
            }
        ]
    },
    "escalations": [
        {
            "id": "OE1",
            "name": "Platform",
            "description": "",
            "rules": [
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                    "recipient": {"type": "schedule", "id": "OS1", "name": "Platform Primary"},
                },
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 15, "timeUnit": "minutes"},
                    "recipient": {"type": "user", "id": "OU3", "username": "cem@example.com"},
                },
            ],
            "repeat": {
                "waitInterval": 10,
                "count": 2,
                "resetRecipientStates": False,
                "closeAlertAfterAll": False,
            },
        }
    ],
    # Opsgenie's own answer, worked out by hand: the daily 09:00 handoff keeps Berlin time
    # across the DST change of 2027-03-28; the later rotation (business hours) wins on
    # weekdays; Ann's override wins on Monday evening.
    "oncalls": {
        ("OS1", "2027-03-27T20:00:00+00:00"): "bob@example.com",
        ("OS1", "2027-03-28T06:30:00+00:00"): "bob@example.com",
        ("OS1", "2027-03-28T07:30:00+00:00"): "ann@example.com",
        ("OS1", "2027-03-29T08:00:00+00:00"): "cem@example.com",
        ("OS1", "2027-03-29T17:00:00+00:00"): "ann@example.com",
        ("OS1", "2027-03-29T19:00:00+00:00"): "bob@example.com",
    },
}
INSTANTS = sorted({at for _, at in FIXTURES["oncalls"]})


class OpsgenieApi(VendorApi):
    unauthorized = {"message": "Could not authenticate", "took": 0.0, "requestId": "r"}
    rate_limited = {"message": "You are making too many requests!", "took": 0.0, "requestId": "r"}

    def __init__(self) -> None:
        super().__init__()
        self.data = copy.deepcopy(FIXTURES)

    def authorized(self, authorization: str | None) -> bool:
        return authorization == f"GenieKey {KEY}"

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        one = {k: v[0] for k, v in query.items()}
        offset, limit = int(one.get("offset", 0)), min(int(one.get("limit", 20)), self.page_size)

        def page(items: list[Any]) -> tuple[int, Any]:
            body: dict[str, Any] = {
                "data": items[offset : offset + limit],
                "totalCount": len(items),
                "took": 0.01,
                "requestId": "r",
            }
            if offset + limit < len(items):
                body["paging"] = {
                    "next": f"https://api.opsgenie.com{path}?limit={limit}&offset={offset + limit}"
                }
            return 200, body

        parts = path.strip("/").split("/")
        if path == "/v2/users":
            return page(self.data["users"])
        if len(parts) == 4 and parts[1] == "users" and parts[3] == "contacts":
            return 200, {"data": self.data["contacts"].get(parts[2], [])}
        if path == "/v2/teams":
            return page(
                [
                    {k: t[k] for k in ("id", "name", "description")}
                    for t in self.data["teams"].values()
                ]
            )
        if len(parts) == 3 and parts[1] == "teams":
            team = self.data["teams"].get(parts[2])
            return (200, {"data": team}) if team else (404, {"message": "No team"})
        if path == "/v2/schedules":
            return page(self.data["schedules"])
        if len(parts) == 4 and parts[1] == "schedules" and parts[3] == "overrides":
            return 200, {"data": self.data["overrides"].get(parts[2], [])}
        if len(parts) == 4 and parts[1] == "schedules" and parts[3] == "on-calls":
            username = self.data["oncalls"].get((parts[2], one.get("date", "")))
            return 200, {
                "data": {
                    "_parent": {"id": parts[2]},
                    "onCallRecipients": [username] if username else [],
                }
            }
        if path == "/v2/escalations":
            return page(self.data["escalations"])
        return 404, {"message": "Not found"}
