"""The on-call API: scopes, validation, calendar feeds, config checks, the service method."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import icalendar
import pytest

from tests.conftest import Api
from tests.oncall.conftest import CONFIG, drain, events, person
from tests.support.receiver import http_receiver
from warroom.core.config import _problems_of, parse_config
from warroom.core.errors import ConfigError
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings


def _schedule(api: Api) -> None:
    person(api, "ann")
    person(api, "bob")
    api.ok(
        "POST",
        "/api/v1/oncall/schedules",
        json={
            "name": "primary",
            "timezone": "America/New_York",
            "layers": [
                {"users": ["ann", "bob"], "start": "2026-11-01T00:00", "shift_unit": "days"}
            ],
        },
    )


def test_viewers_read_but_cannot_write(oc_api: Api, oc_client: Any, oc_token: Any) -> None:
    _schedule(oc_api)
    viewer = Api(oc_client, oc_token("viewer", name="v"))
    assert viewer.get("/api/v1/oncall/people")[0] == 200
    assert viewer.get("/api/v1/oncall/who")[0] == 200
    for method, path, body in [
        ("POST", "/api/v1/oncall/people", {"name": "zed"}),
        ("PATCH", "/api/v1/oncall/people/ann", {"email": "x@y"}),
        ("DELETE", "/api/v1/oncall/people/ann", None),
        ("POST", "/api/v1/oncall/pages", {"target": "ann", "message": "x"}),
        (
            "POST",
            "/api/v1/oncall/schedules/primary/overrides",
            {"user": "bob", "start": "2026-11-23T00:00Z", "end": "2026-11-24T00:00Z"},
        ),
    ]:
        status, reply = viewer.request(method, path, json=body)
        assert status == 403, (path, reply)
    status, _ = viewer.post("/api/v1/outbox/1/retry")
    assert status == 403
    assert Api(oc_client, None).get("/api/v1/oncall/people")[0] == 401


def test_validation_errors_change_nothing(oc_api: Api) -> None:
    _schedule(oc_api)
    bad = [
        ("/api/v1/oncall/people", {"name": "ann"}, 409),
        ("/api/v1/oncall/people", {"name": "x", "contact_methods": [{"url": "nope"}]}, 422),
        ("/api/v1/oncall/teams", {"name": "t", "members": ["ghost"]}, 422),
        ("/api/v1/oncall/escalation-policies", {"name": "p", "levels": []}, 422),
        (
            "/api/v1/oncall/escalation-policies",
            {"name": "p", "levels": [{"targets": ["schedule:ghost"]}]},
            422,
        ),
        (
            "/api/v1/oncall/escalation-policies",
            {"name": "p", "levels": [{"targets": ["oops"]}]},
            422,
        ),
        (
            "/api/v1/oncall/schedules/primary/overrides",
            {"user": "bob", "start": "2026-11-24T00:00Z", "end": "2026-11-23T00:00Z"},
            422,
        ),
        ("/api/v1/oncall/pages", {"target": "ghost", "message": "x"}, 404),
    ]
    reserved = [  # names of the web's own pages (/oncall/schedules/new, .../import)
        ("/api/v1/oncall/schedules", {"name": "new"}),
        ("/api/v1/oncall/escalation-policies", {"name": "import", "levels": [{"targets": []}]}),
        ("/api/v1/oncall/people", {"name": "new"}),
    ]
    for path, body in reserved:
        status, reply = oc_api.post(path, json=body)
        assert status == 422 and "reserved" in str(reply), (path, reply)
    for path, body, code in bad:
        status, reply = oc_api.post(path, json=body)
        assert status == code, (path, reply)
        assert "error" in reply
    assert oc_api.ok("GET", "/api/v1/oncall/escalation-policies")["items"] == []
    assert oc_api.ok("GET", "/api/v1/oncall/teams")["items"] == []


def test_calendar_feeds_need_a_key_or_a_token(oc_api: Api, oc_client: Any) -> None:
    _schedule(oc_api)
    url = oc_api.ok("GET", "/api/v1/oncall/schedules/primary/feed-url")["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    feed = oc_client.get("/" + path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(feed.content)
    shifts = [e for e in cal.walk("VEVENT")]
    assert len(shifts) > 20
    first = shifts[0]
    assert str(first.get("summary")).startswith("On call: ")
    forged = oc_client.get("/" + path.replace("key=", "key=x"))
    assert forged.status_code == 403
    assert oc_client.get("/api/v1/oncall/schedules/primary/calendar.ics").status_code == 401
    assert oc_api.get("/api/v1/oncall/schedules/primary/calendar.ics")[0] == 200
    person_url = oc_api.ok("GET", "/api/v1/oncall/people/ann/feed-url")["url"]
    person_feed = oc_client.get("/" + person_url.split("://", 1)[1].split("/", 1)[1])
    events_ = icalendar.Calendar.from_ical(person_feed.content).walk("VEVENT")
    assert events_ and all("ann" in str(e.get("summary")) for e in events_)
    # another schedule's key does not open this one
    other = oc_client.get(
        "/api/v1/oncall/schedules/primary/calendar.ics?" + person_url.split("?", 1)[1]
    )
    assert other.status_code == 403


def test_who_is_on_call_is_a_service_method(oc_runtime: Runtime, oc_api: Api) -> None:
    _schedule(oc_api)
    service = oc_runtime.oncall
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # day 22 of the rotation → ann
    found = service.who_is_on_call(at=at)
    assert found[0]["schedule"] == "primary" and found[0]["person"] == "ann"
    assert found[0]["since"] == "2026-11-23T05:00:00+00:00"  # midnight New York
    assert found[0]["until"] == "2026-11-24T05:00:00+00:00"


def test_config_cross_references() -> None:
    config = {
        **CONFIG,
        "oncall": {
            "contacts": {"legal": ["person:x"], "no_such_contact": ["person:y"]},
            "escalation_policies": [
                {"name": "payments", "levels": [{"targets": ["schedule:primary"]}]}
            ],
            "default_escalation_policy": "ghost",
        },
    }
    _, problems = _problems_of(config)
    paths = {p["path"] for p in problems}
    assert "oncall.contacts.no_such_contact" in paths
    assert "services.1.escalation_policy" in paths  # search → unknown
    assert "oncall.default_escalation_policy" in paths
    with pytest.raises(ConfigError):
        parse_config({**config, "oncall": {"escalation_policies": [{"name": "x", "levels": []}]}})
    # with policies kept in the database, the config does not list them: no complaint
    assert _problems_of(CONFIG)[1] == []


def test_config_defined_escalation_policy_pages(settings: Settings, clock: Any) -> None:
    from starlette.testclient import TestClient

    from warroom.api.app import create_app
    from warroom.core import auth

    config = {
        "policy": "default",
        "services": [{"name": "api", "escalation_policy": "api"}],
        "oncall": {
            "escalation_policies": [
                {"name": "api", "levels": [{"delay_minutes": 5, "targets": ["person:ann"]}]}
            ]
        },
    }
    rt = Runtime.build(settings, clock=clock, config=parse_config(config), run_migrations=False)
    try:
        with rt.db.write() as conn:
            _, token = auth.create_token(
                conn, name="a", scopes=["responder"], created_by="t", now=clock.now()
            )
        with TestClient(create_app(rt)) as client, http_receiver() as ann:
            api = Api(client, token)
            person(api, "ann", ann.json_url())
            listed = api.ok("GET", "/api/v1/oncall/escalation-policies")["items"]
            assert listed[0]["source"] == "config"
            incident = api.ok(
                "POST",
                "/api/v1/incidents",
                json={"title": "x", "severity": "SEV2", "services": ["api"]},
            )["id"]
            drain(rt)
            assert len(ann.wait_for(1)) == 1
            assert events(api, incident, "paged")[0]["data"]["policy"] == "api"
    finally:
        rt.close()


def test_swap_writes_both_overrides_or_neither(oc_runtime: Runtime, oc_api: Api) -> None:
    _schedule(oc_api)
    service = oc_runtime.oncall
    ann_day = {"start": "2026-11-23T05:00Z", "end": "2026-11-24T05:00Z"}
    bob_day = {"start": "2026-11-24T05:00Z", "end": "2026-11-25T05:00Z"}
    bad = [
        ({"first": {**ann_day, "user": "bob"}, "second": {**bob_day, "user": "ann"}}, 422),
        (
            {
                "first": {**ann_day, "user": "bob", "replaces": "ann"},
                "second": {**bob_day, "user": "ann", "replaces": "ghost"},
            },
            422,
        ),
        (
            {
                "first": {**ann_day, "user": "ann", "replaces": "ann"},
                "second": {**bob_day, "user": "ann", "replaces": "ann"},
            },
            422,
        ),
    ]
    for body, code in bad:
        status, reply = oc_api.post("/api/v1/oncall/schedules/primary/swap", json=body)
        assert status == code, reply
    assert oc_api.ok("GET", "/api/v1/oncall/schedules/primary")["overrides"] == []
    swapped = oc_api.ok(
        "POST",
        "/api/v1/oncall/schedules/primary/swap",
        json={
            "first": {**ann_day, "user": "bob", "replaces": "ann"},
            "second": {**bob_day, "user": "ann", "replaces": "bob"},
        },
    )
    assert [(o["user"], o["replaces"]) for o in swapped["items"]] == [
        ("bob", "ann"),
        ("ann", "bob"),
    ]
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert service.who_is_on_call(at=at)[0]["person"] == "bob"
    assert service.who_is_on_call(at=at.replace(day=24))[0]["person"] == "ann"
