"""Paging and escalation end to end: real HTTP delivery (Apprise json://), worker, timeline."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Api
from tests.oncall.conftest import advance, drain, events, person
from tests.support.receiver import Receiver, http_receiver
from tests.support.smtp import smtp_server
from warroom.core import tables
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime


def setup_payments(api: Api, ann: Receiver, bob: Receiver, repeat: int = 0) -> None:
    person(api, "ann", ann.json_url())
    person(api, "bob", bob.json_url())
    api.ok(
        "POST",
        "/api/v1/oncall/schedules",
        json={
            "name": "primary",
            "timezone": "Europe/Berlin",
            "layers": [{"users": ["ann"], "start": "2026-01-05T09:00", "shift_unit": "weeks"}],
        },
    )
    api.ok(
        "POST",
        "/api/v1/oncall/escalation-policies",
        json={
            "name": "payments",
            "repeat": repeat,
            "levels": [
                {"delay_minutes": 5, "targets": ["schedule:primary"]},
                {"delay_minutes": 10, "targets": ["person:bob"]},
            ],
        },
    )


def declare(api: Api, severity: str = "SEV2", service: str = "payments", **extra: Any) -> str:
    body = {"title": "Checkout failing", "severity": severity, "services": [service], **extra}
    return str(api.ok("POST", "/api/v1/incidents", json=body)["id"])


CHECKLIST = {
    key: {"confirmed": True}
    for key in (
        "issue_gone",
        "error_rates_baseline",
        "users_can_use_feature",
        "monitoring_stable",
        "stakeholders_notified",
    )
}


def resolve(api: Api, incident: str) -> None:
    api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": "ok", "checklist": CHECKLIST},
    )


def ack_link(message: dict[str, Any]) -> str:
    found = re.search(r"http://\S+/api/v1/oncall/ack/(\S+)", message["message"])
    assert found, message
    return f"/api/v1/oncall/ack/{found.group(1)}"


def test_page_escalates_level_by_level_until_acknowledged(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        incident = declare(oc_api)
        drain(oc_runtime)
        assert len(ann.wait_for(1)) == 1 and bob.requests == []
        assert "Acknowledge: http://" in ann.requests[0].json()["message"]
        paged = events(oc_api, incident, "paged")
        assert paged[0]["data"]["notified"] == ["ann"] and paged[0]["data"]["level"] == 1
        assert len(events(oc_api, incident, "notification_sent")) == 1
        advance(oc_runtime, clock, 4)
        assert bob.requests == []
        advance(oc_runtime, clock, 1)  # level 1's 5 minutes are up
        assert len(bob.wait_for(1)) == 1
        escalated = events(oc_api, incident, "escalated")
        assert [e["data"]["level"] for e in escalated] == [2]
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
        advance(oc_runtime, clock, 60)
        assert len(ann.requests) == 1 and len(bob.requests) == 1
        drain(oc_runtime)
    with oc_runtime.db.read() as conn:
        kinds = conn.execute(
            select(tables.outbox.c.kind, tables.outbox.c.status).where(
                tables.outbox.c.kind == "oncall.escalate"
            )
        ).all()
    assert sorted(s for _, s in kinds) == ["done", "done"]


def test_repeat_loops_then_acknowledge_stops_it(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob, repeat=1)
        incident = declare(oc_api)
        drain(oc_runtime)
        advance(oc_runtime, clock, 5)
        advance(oc_runtime, clock, 10)  # loop 2, level 1: ann again
        assert len(ann.wait_for(2)) == 2 and len(bob.requests) == 1
        advance(oc_runtime, clock, 5)  # loop 2, level 2
        assert len(bob.wait_for(2)) == 2
        advance(oc_runtime, clock, 60)  # no loop 3
        assert len(ann.requests) == 2 and len(bob.requests) == 2
        loops = [
            (e["data"]["loop"], e["data"]["level"])
            for e in events(oc_api, incident)
            if e["type"] in ("paged", "escalated") and "loop" in e["data"]
        ]
        assert loops == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_signed_link_acknowledges_once_and_stops_escalation(
    oc_runtime: Runtime, oc_api: Api, oc_client: Any, clock: FixedClock
) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        incident = declare(oc_api)
        drain(oc_runtime)
        link = ack_link(ann.wait_for(1)[0].json())
        page = oc_client.get(link)  # no token needed: the link is the credential
        assert page.status_code == 200 and "<form method=post>" in page.text
        assert oc_api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "triggered"
        forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        assert oc_client.post(forged).status_code == 403
        done = oc_client.post(link)
        assert done.status_code == 200, done.text
        assert done.json()["acknowledged"] == incident
        again = oc_client.post(link)
        assert again.status_code == 409 and again.json()["error"]["code"] == "link_used"
        state = oc_api.ok("GET", f"/api/v1/incidents/{incident}")
        assert state["status"] == "acknowledged"
        ack = events(oc_api, incident, "acknowledged")[0]
        assert ack["actor"] == "ann (ack link)"
        advance(oc_runtime, clock, 30)
        assert bob.requests == []


def test_expired_link_is_refused(
    oc_runtime: Runtime, oc_api: Api, oc_client: Any, clock: FixedClock
) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        incident = declare(oc_api)
        drain(oc_runtime)
        link = ack_link(ann.wait_for(1)[0].json())
    clock.advance(__import__("datetime").timedelta(hours=25))
    expired = oc_client.post(link)
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "link_expired"
    assert oc_api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "triggered"


def test_reopen_pages_again(oc_runtime: Runtime, oc_api: Api, clock: FixedClock) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        incident = declare(oc_api)
        drain(oc_runtime)
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
        resolve(oc_api, incident)
        advance(oc_runtime, clock, 10)
        assert len(ann.requests) == 1
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/reopen", json={"reason": "again"})
        drain(oc_runtime)
        assert len(ann.wait_for(2)) == 2
        advance(oc_runtime, clock, 5)
        assert len(bob.wait_for(1)) == 1  # the reopened page escalates too


def test_sev4_only_notifies_and_sev1_pages_the_commander(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as ann, http_receiver() as bob, http_receiver() as cmd:
        setup_payments(oc_api, ann, bob)
        person(oc_api, "carol", cmd.json_url())
        low = declare(oc_api, "SEV4")
        drain(oc_runtime)
        assert len(ann.wait_for(1)) == 1
        advance(oc_runtime, clock, 30)
        assert bob.requests == []  # notify only: no escalation
        assert events(oc_api, low, "paged")[0]["data"]["paging"] == "notify"
        declare(oc_api, "SEV1", roles={"commander": "carol"})
        drain(oc_runtime)
        assert len(cmd.wait_for(1)) == 1 and len(ann.wait_for(2)) == 2


def test_no_escalation_policy_pages_nobody(oc_runtime: Runtime, oc_api: Api) -> None:
    incident = declare(oc_api, service="search")  # its policy "search" does not exist
    drain(oc_runtime)
    # the policy is looked up at fire time: a missing one is recorded, not silently lost
    paged = events(oc_api, incident, "paged")
    assert "not found" in paged[0]["data"]["problem"]


def test_raising_the_severity_of_an_unacknowledged_incident_pages(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock
) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        incident = declare(oc_api, "SEV4")
        drain(oc_runtime)
        assert len(ann.wait_for(1)) == 1
        advance(oc_runtime, clock, 10)
        assert bob.requests == []  # SEV4 only notifies
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/severity", json={"severity": "SEV2"})
        drain(oc_runtime)
        assert len(ann.wait_for(2)) == 2  # paged now
        advance(oc_runtime, clock, 5)
        assert len(bob.wait_for(1)) == 1  # and escalating
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/severity", json={"severity": "SEV3"})
        drain(oc_runtime)
        assert len(ann.requests) == 2  # lowering it does not page again


def test_an_ack_link_from_before_a_reopen_does_not_acknowledge_the_reopened_incident(
    oc_runtime: Runtime, oc_api: Api, oc_client: Any
) -> None:
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        incident = declare(oc_api)
        drain(oc_runtime)
        old_link = ack_link(ann.wait_for(1)[0].json())
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
        resolve(oc_api, incident)
        oc_api.ok("POST", f"/api/v1/incidents/{incident}/reopen", json={"reason": "again"})
        drain(oc_runtime)
        new_page = ann.wait_for(2)[1].json()
        stale = oc_client.post(old_link)
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "link_superseded"
        assert oc_api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "reopened"
        # the page for the recurrence says so, and its own link works
        assert new_page["title"].endswith("(recurred)")
        assert new_page["message"].startswith(f"Recurred: {incident} was resolved and reopened")
        assert oc_client.post(ack_link(new_page)).status_code == 200
        assert oc_api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "acknowledged"


def test_a_manual_page_names_the_person_who_sent_it(oc_runtime: Runtime, oc_api: Api) -> None:
    with http_receiver() as ann:
        person(oc_api, "ann", ann.json_url())
        oc_api.ok("POST", "/api/v1/oncall/pages", json={"target": "ann", "message": "help"})
        person(oc_api, "alice", display_name="Alice Example")  # the token's person
        oc_api.ok("POST", "/api/v1/oncall/pages", json={"target": "ann", "message": "again"})
        drain(oc_runtime)
        titles = sorted(r.json()["title"] for r in ann.wait_for(2))
    assert titles == ["Page from Alice Example", "Page from alice"]  # never "token:alice"


def test_an_emailed_page_is_plain_text_with_the_alert_text_intact(
    oc_runtime: Runtime, oc_api: Api
) -> None:
    with smtp_server() as mailbox:
        person(oc_api, "ann", mailbox.mailto() + "&to=ann@example.com")
        oc_api.ok(
            "POST",
            "/api/v1/oncall/escalation-policies",
            json={"name": "payments", "levels": [{"targets": ["person:ann"]}]},
        )
        summary = 'Errors on <checkout-api>: <a href="http://evil.example/ack">Acknowledge</a>'
        declare(oc_api, summary=summary)
        drain(oc_runtime)
        message = mailbox.wait_for(1)[0]
    parts = {
        p.get_content_type(): p.get_content()
        for p in message.walk()
        if p.get_content_maintype() == "text"
    }
    assert list(parts) == ["text/plain"]
    assert summary in parts["text/plain"] and "/api/v1/oncall/ack/" in parts["text/plain"]


def test_a_round_of_pages_reads_a_schedule_once_and_the_next_round_sees_it_changed(
    oc_runtime: Runtime, oc_api: Api, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Escalation steps fired in one transaction read each schedule once (not once per
    page); a change to the schedule (an override) is seen by the steps of the next round."""
    loads: list[str] = []
    schedules = oc_runtime.oncall.directory.schedules
    load = schedules.load_schedule

    def counted(conn: Any, name: str) -> Any:
        loads.append(name)
        return load(conn, name)

    monkeypatch.setattr(schedules, "load_schedule", counted)
    with http_receiver() as ann, http_receiver() as bob:
        setup_payments(oc_api, ann, bob)
        first = [declare(oc_api) for _ in range(3)]
        drain(oc_runtime)
        assert loads == ["primary"]
        assert len(ann.wait_for(3)) == 3 and bob.requests == []
        now = clock.now()
        oc_api.ok(
            "POST",
            "/api/v1/oncall/schedules/primary/overrides",
            json={
                "user": "bob",
                "start": now.isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
            },
        )
        second = declare(oc_api)
        drain(oc_runtime)
        assert len(bob.wait_for(1)) == 1 and len(ann.requests) == 3
    assert [events(oc_api, i, "paged")[0]["data"]["notified"] for i in first] == [["ann"]] * 3
    assert events(oc_api, second, "paged")[0]["data"]["notified"] == ["bob"]
