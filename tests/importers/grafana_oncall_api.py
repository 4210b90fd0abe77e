"""A local Grafana OnCall public API (v1) serving fixtures shaped as its reference documents.

References (https://grafana.com/docs/oncall/latest/oncall-api-reference/):
- Authentication: the token alone in `Authorization`; pagination: `count`, `next`,
  `previous`, `results`, `page_size`, `current_page_number`, `total_pages`.
- users (`email`, `username`, `timezone`, `teams`), teams.
- schedules (`type` web/ical/calendar, `time_zone`, `shifts`) and their `final_shifts`
  (`user_email`, `shift_start`, `shift_end`).
- on_call_shifts (`type` rolling_users/override, `level`, `start` as wall time in `time_zone`,
  `duration` in seconds, `frequency`, `interval`, `by_day`, `rolling_users`,
  `start_rotation_from_user_index`).
- escalation_chains; escalation_policies (`position`, `type` wait/notify_persons/
  notify_on_call_from_schedule/repeat_escalation, `duration` in seconds).
- integrations (`default_route.escalation_chain_id`).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from tests.importers.vendor_api import VendorApi, serve

__all__ = ["INSTANTS", "TOKEN", "GrafanaOnCallApi", "serve"]

TOKEN = "goc-test-token"

FIXTURES: dict[str, Any] = {
    "users": [
        {
            "id": "GU1",
            "email": "ann@example.com",
            "username": "ann",
            "role": "admin",
            "timezone": "Europe/Berlin",
            "teams": ["GT1"],
        },
        {
            "id": "GU2",
            "email": "bob@example.com",
            "username": "bob",
            "role": "user",
            "timezone": "Europe/Berlin",
            "teams": ["GT1"],
        },
        {
            "id": "GU3",
            "email": "cem@example.com",
            "username": "cem",
            "role": "user",
            "timezone": "Europe/Istanbul",
            "teams": [],
        },
    ],
    "teams": [{"id": "GT1", "name": "Platform", "email": None, "avatar_url": ""}],
    "on_call_shifts": [
        {
            "id": "GS1",
            "name": "Nights and weekends",
            "type": "rolling_users",
            "level": 1,
            "team_id": None,
            "time_zone": "Europe/Berlin",
            "start": "2027-03-22T09:00:00",
            "duration": 86400,
            "frequency": "daily",
            "interval": 1,
            "week_start": "MO",
            "rolling_users": [["GU1"], ["GU2"]],
            "start_rotation_from_user_index": 0,
            "until": None,
        },
        {
            "id": "GS2",
            "name": "Business hours",
            "type": "rolling_users",
            "level": 2,
            "team_id": None,
            "time_zone": "Europe/Berlin",
            "start": "2027-03-01T09:00:00",
            "duration": 28800,
            "frequency": "weekly",
            "interval": 1,
            "week_start": "MO",
            "by_day": ["MO", "TU", "WE", "TH", "FR"],
            "rolling_users": [["GU3"]],
            "start_rotation_from_user_index": 0,
            "until": None,
        },
        {
            "id": "GO1",
            "name": "Ann covers",
            "type": "override",
            "team_id": None,
            "time_zone": "Europe/Berlin",
            "start": "2027-03-29T18:00:00",
            "duration": 7200,
            "users": ["GU1"],
        },
    ],
    "schedules": [
        {
            "id": "GSC1",
            "name": "Platform Primary",
            "type": "web",
            "team_id": "GT1",
            "time_zone": "Europe/Berlin",
            "on_call_now": [],
            "shifts": ["GS1", "GS2", "GO1"],
        },
    ],
    "escalation_chains": [{"id": "GC1", "name": "Platform", "team_id": "GT1"}],
    "escalation_policies": [
        {
            "id": "GP1",
            "escalation_chain_id": "GC1",
            "position": 0,
            "type": "notify_on_call_from_schedule",
            "notify_on_call_from_schedule": "GSC1",
        },
        {"id": "GP2", "escalation_chain_id": "GC1", "position": 1, "type": "wait", "duration": 900},
        {
            "id": "GP3",
            "escalation_chain_id": "GC1",
            "position": 2,
            "type": "notify_persons",
            "persons_to_notify": ["GU3"],
        },
        {"id": "GP4", "escalation_chain_id": "GC1", "position": 3, "type": "wait", "duration": 600},
        {"id": "GP5", "escalation_chain_id": "GC1", "position": 4, "type": "repeat_escalation"},
    ],
    "integrations": [
        {
            "id": "GI1",
            "name": "Alertmanager",
            "type": "alertmanager",
            "default_route": {"id": "GR1", "escalation_chain_id": "GC1"},
        },
    ],
    # Grafana OnCall's own answer, worked out by hand as for the other vendors: the daily 09:00
    # handoff keeps Berlin time across the DST change; level 2 wins on weekdays 09-17; the
    # override wins on Monday 18:00-20:00.
    "oncalls": {
        ("GSC1", "2027-03-27T20:00:00+00:00"): "bob@example.com",
        ("GSC1", "2027-03-28T06:30:00+00:00"): "bob@example.com",
        ("GSC1", "2027-03-28T07:30:00+00:00"): "ann@example.com",
        ("GSC1", "2027-03-29T08:00:00+00:00"): "cem@example.com",
        ("GSC1", "2027-03-29T17:00:00+00:00"): "ann@example.com",
        ("GSC1", "2027-03-29T19:00:00+00:00"): "bob@example.com",
    },
}
INSTANTS = sorted({at for _, at in FIXTURES["oncalls"]})


class GrafanaOnCallApi(VendorApi):
    unauthorized = {"detail": "Invalid token."}
    rate_limited = {"detail": "Request was throttled."}

    def __init__(self) -> None:
        super().__init__()
        self.data = copy.deepcopy(FIXTURES)

    def authorized(self, authorization: str | None) -> bool:
        return authorization == TOKEN

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        one = {k: v[0] for k, v in query.items()}
        number = int(one.get("page", 1))

        def page(items: list[Any]) -> tuple[int, Any]:
            size = self.page_size
            total = max(1, -(-len(items) // size))
            more = number < total
            return 200, {
                "count": len(items),
                "next": f"http://oncall.example.com{path}?page={number + 1}" if more else None,
                "previous": None,
                "results": items[(number - 1) * size : number * size],
                "page_size": size,
                "current_page_number": number,
                "total_pages": total,
            }

        lists = (
            "users",
            "teams",
            "on_call_shifts",
            "schedules",
            "escalation_chains",
            "escalation_policies",
            "integrations",
        )
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[2] in lists:
            return page(self.data[parts[2]])
        if len(parts) == 5 and parts[2] == "schedules" and parts[4] == "final_shifts":
            first = datetime.fromisoformat(one["start_date"]).date()
            last = datetime.fromisoformat(one["end_date"]).date()
            results = []
            for (schedule_id, at), email in self.data["oncalls"].items():
                moment = datetime.fromisoformat(at)
                if schedule_id == parts[3] and first <= moment.date() <= last:
                    results.append(
                        {
                            "user_pk": "",
                            "user_email": email,
                            "user_username": email,
                            "shift_start": (moment - timedelta(minutes=1)).isoformat(),
                            "shift_end": (moment + timedelta(minutes=1)).isoformat(),
                        }
                    )
            return 200, {"count": len(results), "next": None, "results": results}
        return 404, {"detail": "Not found."}
