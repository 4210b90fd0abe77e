"""Time- and condition-based escalation, cadence reminders, contact methods and email."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import Api
from tests.oncall.conftest import advance, drain, events, person
from tests.oncall.test_paging import declare, resolve
from tests.support.receiver import http_receiver
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.incidents.model import Event


def rules_fired(api: Api, incident: str) -> list[str]:
    return [
        e["data"]["rule"] if "rule" in e["data"] else e["data"]["kind"]
        for e in events(api, incident)
        if e["type"] in ("escalated", "reminder") and "kind" in e["data"]
    ]


def test_time_based_matrix_for_sev1(oc_runtime: Runtime, oc_api: Api, clock: FixedClock) -> None:
    with http_receiver() as em, http_receiver() as ex:
        person(oc_api, "em", em.json_url())
        person(oc_api, "exec", ex.json_url())
        incident = declare(oc_api, "SEV1", service="search")
        advance(oc_runtime, clock, 29)
        assert em.requests == []
        advance(oc_runtime, clock, 1)
        # 30 minutes: unresolved and unmitigated → engineering manager; with no commander,
        # the missed SEV1 update (2 × 15 min) escalates to the engineering manager too
        assert len(em.wait_for(3)) == 3 and ex.requests == []
        assert set(rules_fired(oc_api, incident)) == {
            "sev1-unresolved-30m",
            "unmitigated-30m",
            "missed_update",
        }
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
        resolve(oc_api, incident)
        advance(oc_runtime, clock, 60)  # resolved before 60 minutes: executives not told
        assert ex.requests == []
        escalated = events(oc_api, incident, "escalated")[0]["data"]
        assert escalated["notified"] == ["em"] and escalated["kind"] == "time_based"


def test_sev1_unresolved_an_hour_reaches_executives(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as ex:
        person(oc_api, "exec", ex.json_url())
        incident = declare(oc_api, "P0", service="search")  # aliases work
        advance(oc_runtime, clock, 60)
        assert len(ex.wait_for(1)) == 1
        assert "sev1-unresolved-60m" in rules_fired(oc_api, incident)
        # a rule whose target reaches nobody is still recorded, with who was unreachable
        unreached = [
            e["data"]
            for e in events(oc_api, incident, "escalated")
            if e["data"].get("rule") == "sev1-unresolved-30m"
        ]
        assert unreached[0]["unreached"] == ["contact:engineering_manager"]


def test_data_breach_notifies_security_and_legal_and_runs_the_gdpr_clock(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as sec, http_receiver() as legal:
        person(oc_api, "sam", sec.json_url())
        person(oc_api, "legal", legal.json_url())
        oc_api.ok("POST", "/api/v1/oncall/teams", json={"name": "security", "members": ["sam"]})
        incident = declare(oc_api, "SEV3", service="search")
        flag = {"flag": "data_breach_suspected", "reason": "odd exports"}
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/flags", json=flag)
        drain(oc_runtime)
        assert len(sec.wait_for(1)) == 1 and len(legal.wait_for(1)) == 1
        advance(oc_runtime, clock, 24 * 60)
        assert len(legal.wait_for(2)) == 2  # 24 h reminder
        reminder = events(oc_api, incident, "reminder")[-1]["data"]
        assert reminder["kind"] == "clock_reminder" and reminder["clock"].startswith("GDPR")
        assert reminder["deadline"] == (clock.now() + timedelta(hours=48)).isoformat()
        advance(oc_runtime, clock, 24 * 60)
        assert len(legal.wait_for(3)) == 3  # 48 h
        stop = {"flag": "regulator_notified"}
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/flags", json=stop)
        advance(oc_runtime, clock, 30 * 60)  # 66 h and 72 h: the clock was stopped
        assert len(legal.requests) == 3


def test_flags_from_other_packages_and_revenue_threshold(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as em, http_receiver() as ex, http_receiver() as cmd:
        person(oc_api, "em", em.json_url())
        person(oc_api, "exec", ex.json_url())
        person(oc_api, "carol", cmd.json_url())
        incident = declare(oc_api, "SEV3", service="search", roles={"commander": "carol"})
        oc_api.ok(
            "POST", f"/api/v1/incidents/{incident}/flags", json={"flag": "mitigation_exhausted"}
        )
        drain(oc_runtime)
        assert len(em.wait_for(1)) == 1 and len(cmd.wait_for(1)) == 1
        patch = {"impact": {"revenue_per_hour": 5000}}
        oc_api.ok("PATCH", f"/api/v1/incidents/{incident}", json=patch)
        drain(oc_runtime)
        assert ex.requests == []
        patch = {"impact": {"revenue_per_hour": 25000}}
        oc_api.ok("PATCH", f"/api/v1/incidents/{incident}", json=patch)
        drain(oc_runtime)
        assert len(ex.wait_for(1)) == 1  # finance and executives are both exec: told once
        oc_api.ok(
            "PATCH", f"/api/v1/incidents/{incident}", json={"impact": {"revenue_per_hour": 30000}}
        )
        drain(oc_runtime)
        assert len(ex.requests) == 1  # already above the threshold: no new escalation
        assert rules_fired(oc_api, incident).count("revenue") == 1


def _publish_update(runtime: Runtime, incident: str, next_in: timedelta | None = None) -> None:
    data: dict[str, Any] = {"body": "still on it"}
    if next_in is not None:
        data["next_update_at"] = (runtime.clock.now() + next_in).isoformat()
    event = Event("status_update_published", "comms", runtime.clock.now(), data)
    runtime.incidents.append_events(SYSTEM, incident, [event])


def test_update_cadence_reminds_then_escalates_a_missed_update(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as comms, http_receiver() as cmd, http_receiver() as em:
        person(oc_api, "dora", comms.json_url())
        person(oc_api, "carol", cmd.json_url())
        person(oc_api, "em", em.json_url())
        roles = {"commander": "carol", "communications_lead": "dora"}
        incident = declare(oc_api, "SEV2", service="search", roles=roles)
        advance(oc_runtime, clock, 29)
        assert comms.requests == []
        advance(oc_runtime, clock, 1)  # SEV2: an update every 30 minutes
        assert len(comms.wait_for(1)) == 1 and cmd.requests == []
        _publish_update(oc_runtime, incident)
        advance(oc_runtime, clock, 29)
        assert len(comms.requests) == 1  # the update moved the next due time
        advance(oc_runtime, clock, 1)
        assert len(comms.wait_for(2)) == 2
        advance(oc_runtime, clock, 30)  # missed by twice the interval: escalates
        assert len(cmd.wait_for(1)) == 1 and len(em.wait_for(1)) >= 1
        kinds = [
            e["data"]["kind"]
            for e in events(oc_api, incident)
            if e["type"] in ("reminder", "escalated") and "kind" in e["data"]
        ]
        assert kinds.count("update_reminder") >= 2 and "missed_update" in kinds


def test_contact_methods_delay_and_fall_back_with_a_delivery_log(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as down, http_receiver() as later:
        down.status = 503
        person(oc_api, "ann", down.json_url(), later.json_url(), delays=(0, 5))
        oc_api.ok(
            "POST",
            "/api/v1/oncall/escalation-policies",
            json={"name": "search", "levels": [{"delay_minutes": 30, "targets": ["person:ann"]}]},
        )
        incident = declare(oc_api, "SEV3", service="search")
        drain(oc_runtime)
        # ntfy-like first method is down → falls back to the next method at once
        assert len(down.wait_for(1)) == 1 and len(later.wait_for(1)) == 1
        advance(oc_runtime, clock, 5)  # still unacknowledged: the delayed method fires
        assert len(later.wait_for(2)) == 2
        log = oc_api.ok("GET", f"/api/v1/oncall/deliveries?incident={incident}")["items"]
        assert sorted((d["position"], d["ok"]) for d in log) == [(0, False), (0, True), (1, True)]
        assert all("127.0.0.1" not in str(d) for d in log)
        second = declare(oc_api, "SEV3", service="search")
        drain(oc_runtime)
        oc_api.ok("POST", f"/api/v1/incidents/{second}/acknowledge")
        advance(oc_runtime, clock, 10)  # acknowledged: the delayed method is skipped
        assert len(later.requests) == 3


def test_per_severity_preferences(oc_runtime: Runtime, oc_api: Api) -> None:
    with http_receiver() as push, http_receiver() as phone:
        oc_api.ok(
            "POST",
            "/api/v1/oncall/people",
            json={
                "name": "ann",
                "contact_methods": [
                    {"name": "push", "url": push.json_url()},
                    {"name": "phone", "url": phone.json_url()},
                ],
                "preferences": {"SEV1": ["phone", "push"], "sev4": ["push"]},
            },
        )
        oc_api.ok(
            "POST",
            "/api/v1/oncall/pages",
            json={"target": "ann", "message": "hi", "severity": "SEV1"},
        )
        drain(oc_runtime)
        assert len(phone.wait_for(1)) == 1 and push.requests == []


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_email_delivery_to_a_local_smtp_server(oc_runtime: Runtime, oc_api: Api) -> None:
    with smtp_server() as (port, received):
        url = f"mailto://127.0.0.1:{port}?from=warroom@example.com&to=ann@example.com&mode=insecure"
        person(oc_api, "ann", url, email="ann@example.com")
        page = oc_api.ok(
            "POST", "/api/v1/oncall/pages", json={"target": "person:ann", "message": "DB down"}
        )
        drain(oc_runtime)
        assert len(received) == 1
        text = received[0].content.decode()
        assert "DB down" in text and "/api/v1/oncall/ack/" in text
        assert received[0].rcpt_tos == ["ann@example.com"]
        oc_api.ok("POST", f"/api/v1/oncall/pages/{page['id']}/ack")
        listed = oc_api.ok("GET", "/api/v1/oncall/pages")["items"]
        assert listed[0]["acknowledged_by"] == "token:alice"
