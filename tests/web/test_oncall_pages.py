"""Services, escalation policies, schedules, people and teams pages, through HTTP.

Every write is a form post with the session's CSRF token; the service behind it is the only
writer. Bad input answers 4xx with the reason on the form and changes nothing; a viewer sees
the pages without forms and a forged post is refused with 403.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web.conftest import WebUser
from warroom.alerts.domain import AlertIn
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.oncall import models

ADMIN = Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session")

CONFIG = {
    "services": [
        {
            "name": "payments-api",
            "description": "Takes <b>payments</b>",
            "owner_team": "payments",
            "escalation_policy": "payments-critical",
            "tier": 1,
        },
        {"name": "checkout", "owner_team": "payments", "dependencies": ["payments-api"]},
    ]
}


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    yield rt
    rt.close()


def _oncall(runtime: Runtime) -> Any:
    return runtime.oncall


def _people(runtime: Runtime, *names: str) -> None:
    for name in names:
        _oncall(runtime).create_person(ADMIN, models.PersonIn(name=name))


def _rotation(runtime: Runtime, name: str, users: list[str], unit: str = "days") -> None:
    start = (runtime.clock.now() - timedelta(hours=1)).astimezone(UTC).replace(tzinfo=None)
    _oncall(runtime).create_schedule(
        ADMIN,
        models.ScheduleIn(
            name=name, layers=[models.LayerIn(users=users, start=start, shift_unit=unit)]
        ),
    )


def _names(runtime: Runtime, kind: str) -> list[str]:
    if kind == "escalation_policy":
        return [p["name"] for p in _oncall(runtime).list_policies()]
    return [item["name"] for item in _oncall(runtime).list_items(kind)]


def _forms(html: str) -> list[str]:
    """The actions of the page's forms other than logging out."""
    return [a for a in re.findall(r'<form method="post" action="([^"]+)"', html) if a != "/logout"]


# ---- services -------------------------------------------------------------------------------


def test_services_page_shows_owner_policy_on_call_incidents_changes_and_alerts(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _people(runtime, "carol", "dave")
    _oncall(runtime).create_team(ADMIN, models.TeamIn(name="payments", members=["carol", "dave"]))
    _rotation(runtime, "payments-primary", ["carol", "dave"])
    _oncall(runtime).create_policy(
        ADMIN,
        models.EscalationPolicyIn(
            name="payments-critical",
            levels=[
                models.LevelIn(delay_minutes=0, targets=["schedule:payments-primary"]),
                models.LevelIn(delay_minutes=15, targets=["team:payments"]),
            ],
        ),
    )
    incident = runtime.incidents.declare(
        ADMIN,
        schemas.DeclareIn(title="Payments failing", services=["payments-api"], severity="SEV2"),
    ).public_id
    from warroom.workbench.schemas import ChangeIn

    runtime.workbench.record_change(
        ADMIN,
        ChangeIn(service="payments-api", kind="deploy", version="2.14.0", description="pool 5"),
    )
    alerts = runtime.alerts
    integration, _ = alerts.create_integration(ADMIN, "prom", "alertmanager")
    alerts.ingest(
        integration,
        [
            AlertIn(
                identity="a1",
                status="firing",
                labels={"alertname": "Errors", "service": "payments-api"},
                summary="payments-api 5xx high",
                group_key="g1",
                starts_at=runtime.clock.now(),
            ),
            AlertIn(
                identity="a2",
                status="firing",
                labels={"alertname": "Lag", "service": "legacy-batch"},
                summary="batch lag",
                group_key="g2",
                starts_at=runtime.clock.now(),
            ),
        ],
    )

    victor = web_as("victor", "viewer")
    assert 'href="/services"' in victor.get("/").text
    page = victor.get("/services")
    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1]
    payments = rows.split("</tr>")[0]
    assert "payments-api" in payments and 'href="/oncall/teams/payments"' in payments
    assert 'href="/oncall/policies/payments-critical"' in payments
    assert "carol" in payments and incident in payments and "deploy 2.14.0" in payments
    assert "1 open" in payments
    assert "Takes &lt;b&gt;payments&lt;/b&gt;" in payments  # catalog text is escaped
    assert "legacy-batch" in rows and "(not in the catalog)" in rows
    assert rows.index("checkout") < rows.index("legacy-batch")  # the catalog first

    detail = victor.get("/services/payments-api").text
    assert "First level (schedule:payments-primary) reaches: <strong>carol</strong>" in detail
    assert "after 15 min: team:payments" in detail
    assert incident in detail and "pool 5" in detail and "payments-api 5xx high" in detail
    assert 'href="/services/checkout"' in detail  # used by checkout
    assert "(1 open, 1 attached to incidents)" in detail
    assert _forms(detail) == []
    assert "not in the catalog" in victor.get("/services/legacy-batch").text
    assert victor.get("/services/nothing-here").status_code == 404


# ---- escalation policies --------------------------------------------------------------------


def _policy_form(name: str, levels: list[tuple[str, str, str]], repeat: str = "0") -> Any:
    data: dict[str, Any] = {"name": name, "description": "Pays <i>people</i>", "repeat": repeat}
    for n, (delay, targets, mode) in enumerate(levels):
        data[f"level-{n}-delay"] = delay
        data[f"level-{n}-targets"] = targets
        data[f"level-{n}-mode"] = mode
    data["level-9-delay"] = ""  # an untouched blank row is ignored
    data["level-9-targets"] = ""
    return data


def test_escalation_policy_create_view_edit_delete(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _people(runtime, "carol", "dave")
    _rotation(runtime, "primary", ["carol"])
    bob = web_as("bob", "responder")
    assert "level-2-targets" in bob.get("/oncall/policies/new").text  # three level rows

    created = bob.post_form(
        "/oncall/policies",
        _policy_form(
            "db-critical",
            [("0", "schedule:primary", "all"), ("10", "person:carol, person:dave", "round_robin")],
            repeat="2",
        ),
    )
    assert (
        created.status_code == 303 and created.headers["location"] == "/oncall/policies/db-critical"
    )
    policy = _oncall(runtime).show("escalation_policy", "db-critical")
    assert policy["repeat"] == 2 and policy["description"] == "Pays <i>people</i>"
    assert policy["levels"] == [
        {"delay_minutes": 0, "targets": ["schedule:primary"], "mode": "all"},
        {"delay_minutes": 10, "targets": ["person:carol", "person:dave"], "mode": "round_robin"},
    ]
    page = bob.get("/oncall/policies/db-critical").text
    assert "Pays &lt;i&gt;people&lt;/i&gt;" in page and "round robin" in page
    assert 'value="person:carol, person:dave"' in page  # the edit form is filled in

    edited = bob.post_form(
        "/oncall/policies/db-critical",
        {**_policy_form("ignored", [("5", "person:dave", "all")]), "description": "just dave"},
    )
    assert edited.status_code == 303
    policy = _oncall(runtime).show("escalation_policy", "db-critical")
    assert policy["levels"] == [{"delay_minutes": 5, "targets": ["person:dave"], "mode": "all"}]
    assert policy["repeat"] == 0 and policy["description"] == "just dave"
    assert "db-critical" in bob.get("/oncall/policies").text
    assert "db-critical" in bob.get("/oncall").text

    unconfirmed = bob.post_form("/oncall/policies/db-critical/delete")
    assert unconfirmed.status_code == 422 and "tick the box" in unconfirmed.text
    assert "db-critical" in _names(runtime, "escalation_policy")
    deleted = bob.post_form("/oncall/policies/db-critical/delete", {"confirm": "yes"})
    assert deleted.status_code == 303
    assert "db-critical" not in _names(runtime, "escalation_policy")


@pytest.mark.parametrize(
    ("levels", "repeat", "message"),
    [
        ([("0", "person:nobody", "all")], "0", "target person:nobody: no person"),
        ([("0", "carol", "all")], "0", "targets look like person:NAME"),
        ([("soon", "person:carol", "all")], "0", "valid integer"),
        ([("-5", "person:carol", "all")], "0", "greater than or equal to 0"),
        ([("5", "", "all")], "0", "level 1: name at least one target"),
        ([], "0", "at least one level"),
        ([("0", "person:carol", "loud")], "0", "mode"),
        ([("0", "person:carol", "all")], "11", "less than or equal to 10"),
    ],
)
def test_bad_escalation_policy_is_refused_on_the_form_and_changes_nothing(
    web_as: Callable[[str, str], WebUser],
    runtime: Runtime,
    levels: list[tuple[str, str, str]],
    repeat: str,
    message: str,
) -> None:
    _people(runtime, "carol")
    bob = web_as("bob", "responder")
    refused = bob.post_form("/oncall/policies", _policy_form("bad-policy", levels, repeat))
    assert refused.status_code == 422, refused.text
    assert message in refused.text and 'role="alert"' in refused.text
    assert 'value="bad-policy"' in refused.text  # what was typed is kept
    assert _names(runtime, "escalation_policy") == []


def test_bad_policy_edit_and_duplicate_name_change_nothing(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _people(runtime, "carol")
    level = models.LevelIn(delay_minutes=3, targets=["person:carol"])
    _oncall(runtime).create_policy(ADMIN, models.EscalationPolicyIn(name="p1", levels=[level]))
    before = _oncall(runtime).show("escalation_policy", "p1")
    bob = web_as("bob", "responder")
    refused = bob.post_form(
        "/oncall/policies/p1", _policy_form("p1", [("1", "team:ghosts", "all")])
    )
    assert refused.status_code == 422 and "team:ghosts" in refused.text
    # The editor is folded under the read view, and open again on a refusal.
    assert '<details class="card edit-fold" id="policy-edit" open>' in refused.text
    assert (
        '<details class="card edit-fold" id="policy-edit">' in bob.get("/oncall/policies/p1").text
    )
    assert _oncall(runtime).show("escalation_policy", "p1") == before
    again = bob.post_form("/oncall/policies", _policy_form("p1", [("0", "person:carol", "all")]))
    assert again.status_code == 409 and "already exists" in again.text
    assert bob.post_form("/oncall/policies/ghost/delete", {"confirm": "yes"}).status_code == 404


def test_config_file_policy_is_shown_but_not_editable(
    web_as: Callable[[str, str], WebUser], settings: Settings, clock: FixedClock
) -> None:
    config = {
        "oncall": {
            "escalation_policies": [
                {"name": "from-file", "levels": [{"delay_minutes": 0, "targets": ["team:ops"]}]}
            ]
        }
    }
    runtime = Runtime.build(
        settings, clock=clock, config=parse_config(config), run_migrations=False
    )
    try:
        from starlette.testclient import TestClient

        from tests.web.conftest import csrf_of, login
        from warroom.api.app import create_app
        from warroom.web import users

        with runtime.db.write() as conn:
            users.create_user(
                conn, name="bob", password="correct horse battery", role="responder",
                created_by="tests", now=runtime.clock.now(),
            )  # fmt: skip
        with TestClient(create_app(runtime)) as client:
            login(client, "bob")
            page = client.get("/oncall/policies/from-file").text
            assert "team:ops" in page and "Defined in the config file" in page
            assert _forms(page) == []
            token = csrf_of(page)
            refused = client.post(
                "/oncall/policies/from-file",
                data={"csrf_token": token, "level-0-targets": "team:ops", "level-0-delay": "1"},
            )
            assert refused.status_code == 409 and "change it there" in refused.text
            deleted = client.post(
                "/oncall/policies/from-file/delete", data={"csrf_token": token, "confirm": "yes"}
            )
            assert deleted.status_code == 409
            assert [p["name"] for p in _oncall(runtime).list_policies()] == ["from-file"]
    finally:
        runtime.close()


# ---- the viewer and CSRF -------------------------------------------------------------------------


def test_viewer_sees_every_page_read_only_and_forged_posts_are_refused(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _people(runtime, "carol", "dave")
    _rotation(runtime, "primary", ["carol", "dave"])
    _oncall(runtime).create_team(ADMIN, models.TeamIn(name="ops", members=["carol"]))
    level = models.LevelIn(delay_minutes=0, targets=["schedule:primary"])
    _oncall(runtime).create_policy(ADMIN, models.EscalationPolicyIn(name="p1", levels=[level]))
    victor = web_as("victor", "viewer")
    for path in (
        "/oncall",
        "/oncall/policies",
        "/oncall/policies/p1",
        "/oncall/schedules",
        "/oncall/schedules/primary",
        "/oncall/people",
        "/oncall/people/carol",
        "/oncall/teams",
        "/oncall/teams/ops",
        "/services",
    ):
        page = victor.get(path)
        assert page.status_code == 200, path
        assert _forms(page.text) == [], path
    schedule_page = victor.get("/oncall/schedules/primary").text
    assert "calendar.ics?key=" in schedule_page and "<strong>carol</strong>" in schedule_page
    assert victor.get("/oncall/policies/new").status_code == 403
    assert victor.get("/oncall/schedules/new").status_code == 403

    now = runtime.clock.now()
    forged: list[tuple[str, dict[str, Any]]] = [
        ("/oncall/policies", _policy_form("p2", [("0", "person:carol", "all")])),
        ("/oncall/policies/p1", _policy_form("p1", [("9", "person:dave", "all")])),
        ("/oncall/policies/p1/delete", {"confirm": "yes"}),
        (
            "/oncall/schedules",
            {"name": "s2", "layer-0-users": "carol", "layer-0-start": "2026-01-01T09:00"},
        ),
        ("/oncall/schedules/primary", {"description": "hacked"}),
        (
            "/oncall/schedules/primary/overrides",
            {
                "user": "dave",
                "start": now.isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
            },
        ),
        ("/oncall/schedules/primary/delete", {"confirm": "yes"}),
        ("/oncall/people", {"name": "mallory"}),
        ("/oncall/people/carol", {"display_name": "hacked"}),
        ("/oncall/people/carol/delete", {"confirm": "yes"}),
        ("/oncall/teams", {"name": "evil"}),
        ("/oncall/teams/ops", {"members": "dave"}),
        ("/oncall/teams/ops/delete", {"confirm": "yes"}),
    ]
    state = {kind: _oncall(runtime).list_items(kind) for kind in ("person", "team", "schedule")}
    policies = _oncall(runtime).list_policies()
    for path, data in forged:
        refused = victor.post_form(path, data)
        assert refused.status_code == 403, (path, refused.text[:300])
        assert _forms(refused.text) == [], path
    assert {k: _oncall(runtime).list_items(k) for k in state} == state
    assert _oncall(runtime).list_policies() == policies
    assert _oncall(runtime).show("schedule", "primary")["overrides"] == []


def test_forms_without_the_csrf_token_are_refused(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    bob = web_as("bob", "responder")
    for path, data in (
        ("/oncall/people", {"name": "mallory"}),
        ("/oncall/teams", {"name": "evil"}),
        ("/oncall/policies", _policy_form("p", [("0", "person:bob", "all")])),
    ):
        assert bob.post_form(path, data, csrf=False).status_code == 403
        assert bob.post_form(path, {**data, "csrf_token": "stale"}, csrf=False).status_code == 403
    assert _oncall(runtime).list_items("person") == []
    assert _oncall(runtime).list_items("team") == []


# ---- schedules ------------------------------------------------------------------------------


def _on_call(page: str) -> str:
    found = re.search(r'<strong id="on-call-person"[^>]*>([^<]*)</strong>', page)
    assert found, page[:2000]
    return "nobody" if found.group(1) == "Nobody" else found.group(1)


def test_schedule_create_edit_and_override_change_who_is_on_call(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, clock: FixedClock
) -> None:
    _people(runtime, "carol", "dave", "erin")
    bob = web_as("bob", "responder")
    assert 'name="layer-0-users"' in bob.get("/oncall/schedules/new").text
    now = runtime.clock.now()
    start = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    created = bob.post_form(
        "/oncall/schedules",
        {
            "name": "db-primary",
            "description": "Database <primary>",
            "timezone": "Europe/Berlin",
            "layer-0-name": "weekly",
            "layer-0-users": "carol, dave",
            "layer-0-start": start,
            "layer-0-shift_length": "1",
            "layer-0-shift_unit": "days",
            "layer-0-restrictions": "",
            "layer-1-users": "",
            "layer-1-start": "",
        },
    )
    assert created.status_code == 303, created.text
    schedule = _oncall(runtime).show("schedule", "db-primary")
    assert schedule["timezone"] == "Europe/Berlin"
    assert [layer["users"] for layer in schedule["layers"]] == [["carol", "dave"]]
    page = bob.get("/oncall/schedules/db-primary").text
    assert "Database &lt;primary&gt;" in page and "calendar.ics?key=" in page
    # Started two hours ago in Berlin time, which is ahead of UTC: check the person, not 'carol'.
    first = _on_call(page)
    assert first in ("carol", "dave")
    other = "dave" if first == "carol" else "carol"
    shifts = page.split('id="next-shifts"')[1].split("</table>")[0]
    assert shifts.count("<tr>") >= 10  # 14 days of daily shifts (plus the header row)

    # An override for erin from now for an hour: erin is on call now.
    local_now = now.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    added = bob.post_form(
        "/oncall/schedules/db-primary/overrides",
        {
            "user": "erin",
            "replaces": "",
            "start": local_now.strftime("%Y-%m-%dT%H:%M"),
            "end": (local_now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert added.status_code == 303, added.text
    page = bob.get("/oncall/schedules/db-primary").text
    assert _on_call(page) == "erin"
    overrides = _oncall(runtime).show("schedule", "db-primary")["overrides"]
    assert len(overrides) == 1 and overrides[0]["created_by"] == "user:bob"
    # The datetime-local input was read in the schedule's zone.
    assert datetime.fromisoformat(overrides[0]["start"]) == now.replace(second=0, microsecond=0)
    removed = bob.post_form(f"/oncall/schedules/db-primary/overrides/{overrides[0]['id']}/delete")
    assert removed.status_code == 303
    assert _on_call(bob.get("/oncall/schedules/db-primary").text) == first

    # Take the current shift: only that person's shift is replaced.
    shift = _oncall(runtime).shifts("db-primary", now, now + timedelta(days=1))[0]
    taken = bob.post_form(
        "/oncall/schedules/db-primary/overrides",
        {"user": "erin", "replaces": shift.user, "start": shift.start.isoformat(),
         "end": shift.end.isoformat()},
    )  # fmt: skip
    assert taken.status_code == 303
    assert _on_call(bob.get("/oncall/schedules/db-primary").text) == "erin"
    for o in _oncall(runtime).show("schedule", "db-primary")["overrides"]:
        bob.post_form(f"/oncall/schedules/db-primary/overrides/{o['id']}/delete")

    # Swap the current shift with the next one: two overrides, written together.
    current, following = _oncall(runtime).shifts("db-primary", now, now + timedelta(days=3))[:2]
    swapped = bob.post_form(
        "/oncall/schedules/db-primary/swap",
        {
            "first": f"{current.start.isoformat()}|{current.end.isoformat()}|{current.user}",
            "second": f"{following.start.isoformat()}|{following.end.isoformat()}|{following.user}",
        },
    )
    assert swapped.status_code == 303, swapped.text
    assert _on_call(bob.get("/oncall/schedules/db-primary").text) == other
    assert len(_oncall(runtime).show("schedule", "db-primary")["overrides"]) == 2
    later = _oncall(runtime).who_is_on_call(following.start + timedelta(minutes=1), "db-primary")
    assert later[0]["person"] == first

    # Edit: a restricted second layer for erin on weekdays.
    edited = bob.post_form(
        "/oncall/schedules/db-primary",
        {
            "description": "edited",
            "timezone": "UTC",
            "layer-0-users": "dave",
            "layer-0-start": start,
            "layer-0-shift_length": "12",
            "layer-0-shift_unit": "hours",
            "layer-1-name": "business hours",
            "layer-1-users": "erin",
            "layer-1-start": start,
            "layer-1-shift_length": "1",
            "layer-1-shift_unit": "weeks",
            "layer-1-restrictions": "mon-fri 09:00-17:00; sat 10:00-12:00",
        },
    )
    assert edited.status_code == 303, edited.text
    schedule = _oncall(runtime).show("schedule", "db-primary")
    assert schedule["timezone"] == "UTC" and schedule["description"] == "edited"
    assert schedule["layers"][1]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00:00", "end": "17:00:00"},
        {"days": ["sat"], "start": "10:00:00", "end": "12:00:00"},
    ]
    page = bob.get("/oncall/schedules/db-primary").text
    assert 'value="mon-fri 09:00-17:00; sat 10:00-12:00"' in page  # round-trips into the form
    assert "db-primary" in bob.get("/oncall/schedules").text

    assert (
        bob.post_form("/oncall/schedules/db-primary/delete", {"confirm": "yes"}).status_code == 303
    )
    assert _names(runtime, "schedule") == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"layer-0-users": "carol, ghost"}, "unknown person(s): ghost"),
        ({"layer-0-restrictions": "weekdays 9-5"}, "layer 1: restriction"),
        ({"layer-0-restrictions": "mon-fry 09:00-17:00"}, "is not a day"),
        ({"layer-0-shift_length": "0"}, "greater than or equal to 1"),
        ({"layer-0-shift_unit": "months"}, "shift_unit"),
        ({"layer-0-start": ""}, "layer 1: give the first handoff"),
        ({"layer-0-start": "tomorrow"}, "start"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"name": "Bad Name"}, "lowercase slug"),
    ],
)
def test_bad_schedule_is_refused_on_the_form_and_changes_nothing(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, fields: dict[str, str], message: str
) -> None:
    _people(runtime, "carol")
    bob = web_as("bob", "responder")
    form = {
        "name": "s1",
        "timezone": "UTC",
        "layer-0-users": "carol",
        "layer-0-start": "2026-01-05T09:00",
        "layer-0-shift_length": "1",
        "layer-0-shift_unit": "weeks",
        "layer-0-restrictions": "",
        **fields,
    }
    refused = bob.post_form("/oncall/schedules", form)
    assert refused.status_code == 422, refused.text[:500]
    assert message in refused.text
    assert _names(runtime, "schedule") == []


def test_bad_overrides_and_swaps_are_refused_and_change_nothing(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _people(runtime, "carol", "dave")
    _rotation(runtime, "primary", ["carol", "dave"])
    bob = web_as("bob", "responder")
    now = runtime.clock.now()
    later = now + timedelta(hours=1)
    a, b = now.isoformat(), later.isoformat()
    for data, message in (
        ({"user": "dave", "start": b, "end": a}, "must end after"),
        ({"user": "ghost", "start": a, "end": b}, "unknown person"),
        ({"user": "", "start": a, "end": b}, "choose who"),
        ({"user": "dave", "start": "soon", "end": b}, "start: give a date"),
        ({"user": "dave", "replaces": "dave", "start": a, "end": b}, "own shift"),
    ):  # fmt: skip
        refused = bob.post_form("/oncall/schedules/primary/overrides", data)
        assert refused.status_code == 422, (data, refused.text[:300])
        assert message in refused.text
    current, _, third = _oncall(runtime).shifts("primary", now, now + timedelta(days=3))[:3]

    def key(s: Any) -> str:
        return f"{s.start.isoformat()}|{s.end.isoformat()}|{s.user}"

    same_person = bob.post_form(
        "/oncall/schedules/primary/swap", {"first": key(current), "second": key(third)}
    )
    assert same_person.status_code == 422 and "two different people" in same_person.text
    garbage = bob.post_form("/oncall/schedules/primary/swap", {"first": "x", "second": "y"})
    assert garbage.status_code == 422 and "from the list" in garbage.text
    assert _oncall(runtime).show("schedule", "primary")["overrides"] == []
    assert bob.post_form("/oncall/schedules/primary/overrides/999/delete").status_code == 404
    assert bob.post_form("/oncall/schedules/ghost/overrides", {}).status_code == 404


# ---- people and teams -----------------------------------------------------------------------


def test_people_create_edit_keep_secret_urls_and_order_methods(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    bob = web_as("bob", "responder")
    created = bob.post_form(
        "/oncall/people",
        {
            "name": "carol",
            "display_name": "Carol <C>",
            "email": "carol@example.com",
            "timezone": "Europe/Berlin",
            "cm-0-name": "email",
            "cm-0-url": "mailto://carol@example.com",
            "cm-0-delay": "5",
            "cm-0-order": "2",
            "cm-1-name": "push",
            "cm-1-url": "ntfy://ntfy.example.com/carol-secret-topic",
            "cm-1-delay": "0",
            "cm-1-order": "1",
            "cm-2-name": "",
            "cm-2-url": "",
        },
    )
    assert created.status_code == 303, created.text
    assert _oncall(runtime).contact_urls("carol") == {
        "push": "ntfy://ntfy.example.com/carol-secret-topic",
        "email": "mailto://carol@example.com",
    }
    person = _oncall(runtime).show("person", "carol")
    assert [(m["name"], m["delay_minutes"]) for m in person["contact_methods"]] == [
        ("push", 0),
        ("email", 5),
    ]
    listing = bob.get("/oncall/people").text
    assert "Carol &lt;C&gt;" in listing and "push (ntfy)" in listing
    page = bob.get("/oncall/people/carol").text
    assert "carol-secret-topic" not in page and "carol@example.com" in page

    # Edit: the URL left empty keeps the stored one; 'email' is removed; a new one is added.
    edited = bob.post_form(
        "/oncall/people/carol",
        {
            "display_name": "Carol",
            "email": "carol@example.com",
            "timezone": "UTC",
            "cm-0-orig": "push",
            "cm-0-name": "phone-push",
            "cm-0-url": "",
            "cm-0-delay": "1",
            "cm-0-order": "1",
            "cm-1-orig": "email",
            "cm-1-name": "email",
            "cm-1-remove": "1",
            "cm-2-name": "chat",
            "cm-2-url": "json://localhost:9/hook",
            "cm-2-delay": "10",
            "cm-2-order": "2",
        },
    )
    assert edited.status_code == 303, edited.text
    assert _oncall(runtime).contact_urls("carol") == {
        "phone-push": "ntfy://ntfy.example.com/carol-secret-topic",
        "chat": "json://localhost:9/hook",
    }
    assert _oncall(runtime).show("person", "carol")["timezone"] == "UTC"

    before = _oncall(runtime).show("person", "carol")
    for data, message in (
        ({"timezone": "Nowhere/Land"}, "unknown time zone"),
        ({"cm-0-orig": "", "cm-0-name": "x", "cm-0-url": "not a url"}, "not an Apprise URL"),
        ({"cm-0-orig": "", "cm-0-name": "x", "cm-0-url": ""}, "give its Apprise URL"),
        ({"cm-0-orig": "chat", "cm-0-name": "chat", "cm-0-delay": "-1"}, "greater than or equal"),
        ({"cm-0-orig": "chat", "cm-0-name": "chat", "cm-1-orig": "phone-push",
          "cm-1-name": "chat"}, "unique"),
    ):  # fmt: skip
        refused = bob.post_form("/oncall/people/carol", {"timezone": "UTC", **data})
        assert refused.status_code == 422, (data, refused.text[:300])
        assert message in refused.text
        assert "carol-secret-topic" not in refused.text
        assert '<details class="card edit-fold" id="person-edit" open>' in refused.text
    assert (
        '<details class="card edit-fold" id="person-edit">' in bob.get("/oncall/people/carol").text
    )
    assert _oncall(runtime).show("person", "carol") == before
    duplicate = bob.post_form("/oncall/people", {"name": "carol"})
    assert duplicate.status_code == 409
    bad_name = bob.post_form("/oncall/people", {"name": "Carol Smith"})
    assert bad_name.status_code == 422 and 'value="Carol Smith"' in bad_name.text
    assert _names(runtime, "person") == ["carol"]

    assert bob.post_form("/oncall/people/carol/delete", {"confirm": "yes"}).status_code == 303
    assert _names(runtime, "person") == []


def test_person_contact_methods_per_severity_on_the_form(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    """Each policy severity has a field naming the methods to use for it, in order; a method
    renamed on the same form is followed, a removed one dropped, an unknown one refused."""
    bob = web_as("bob", "responder")
    form = bob.get("/oncall/people").text
    for sev in ("SEV1", "SEV2", "SEV3", "SEV4"):
        assert f'name="pref-{sev}"' in form
    methods = {
        "cm-0-name": "push",
        "cm-0-url": "ntfy://ntfy.example.com/dana",
        "cm-1-name": "phone",
        "cm-1-url": "json://localhost:9/phone",
        "cm-2-name": "email",
        "cm-2-url": "mailto://dana@example.com",
    }
    created = bob.post_form(
        "/oncall/people",
        {"name": "dana", **methods, "pref-SEV1": "phone, push", "pref-SEV4": "email"},
    )
    assert created.status_code == 303, created.text
    person = _oncall(runtime).show("person", "dana")
    assert person["preferences"] == {"SEV1": ["phone", "push"], "SEV4": ["email"]}
    page = bob.get("/oncall/people/dana").text
    assert "SEV1: phone → push" in page and 'value="phone, push"' in page
    with runtime.db.read() as conn:
        assert _oncall(runtime).person_methods(conn, "dana", "SEV1")[0]["name"] == "phone"
        assert len(_oncall(runtime).person_methods(conn, "dana", "SEV2")) == 3

    # Rename phone -> pager and remove email on the same form: the choices follow.
    edited = bob.post_form(
        "/oncall/people/dana",
        {
            "timezone": "UTC",
            "cm-0-orig": "push",
            "cm-0-name": "push",
            "cm-1-orig": "phone",
            "cm-1-name": "pager",
            "cm-2-orig": "email",
            "cm-2-name": "email",
            "cm-2-remove": "1",
            "pref-SEV1": "phone, push",
            "pref-SEV4": "email",
        },
    )
    assert edited.status_code == 303, edited.text
    assert _oncall(runtime).show("person", "dana")["preferences"] == {"SEV1": ["pager", "push"]}

    before = _oncall(runtime).show("person", "dana")
    refused = bob.post_form(
        "/oncall/people/dana",
        {"timezone": "UTC", "cm-0-orig": "push", "cm-0-name": "push", "pref-SEV2": "fax"},
    )
    assert refused.status_code == 422 and "unknown contact method" in refused.text
    assert _oncall(runtime).show("person", "dana") == before


def _ical(runtime: Runtime) -> str:
    """Two shifts of bob (tomorrow and the day after, 08:00-20:00 UTC) and one of a stranger."""
    day = (runtime.clock.now() + timedelta(days=1)).strftime("%Y%m%d")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:1@test\r\nDTSTART:{day}T080000Z\r\nDTEND:{day}T200000Z\r\n"
        "RRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:On call: bob\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:2@test\r\nDTSTART:{day}T200000Z\r\nDTEND:{day}T230000Z\r\n"
        "SUMMARY:Mallory <script>\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_schedule_import_from_an_ical_file_on_the_schedules_page(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    """A responder uploads an .ics file (or pastes it): each event becomes a shift of the person
    it names; people warroom does not know are reported and skipped. Bad input changes nothing."""
    _people(runtime, "bob")
    bob = web_as("bob", "responder")
    assert 'action="/oncall/schedules/import"' in bob.get("/oncall/schedules").text
    ics = _ical(runtime)
    sent = bob.client.post(
        "/oncall/schedules/import",
        data={"csrf_token": bob.csrf, "name": "rota", "timezone": "Europe/Berlin"},
        files={"file": ("rota.ics", ics.encode(), "text/calendar")},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text[:500]
    page = bob.get(sent.headers["location"]).text
    assert "Imported 2 shift(s)" in page
    assert "Mallory &lt;script&gt;" in page and "<script>" not in page.split("<main")[1]
    tomorrow_noon = (runtime.clock.now() + timedelta(days=1)).replace(hour=12, minute=0)
    assert _oncall(runtime).who_is_on_call(at=tomorrow_noon, schedule="rota")[0]["person"] == "bob"
    assert _oncall(runtime).show("schedule", "rota")["timezone"] == "Europe/Berlin"

    # Pasted into the same schedule: the shifts are added again (an import adds, never edits).
    pasted = bob.post_form("/oncall/schedules/import", {"name": "rota", "ical_text": ics})
    assert pasted.status_code == 303

    before = [(s["name"], s["timezone"]) for s in _oncall(runtime).list_items("schedule")]
    for data, message in (
        ({"name": "new-rota"}, "choose an .ics file or paste"),
        ({"name": "new-rota", "ical_text": "not a calendar"}, ""),
        ({"name": "Bad Name", "ical_text": ics}, ""),
        ({"name": "new-rota", "timezone": "Nowhere/Land", "ical_text": ics}, "timezone"),
    ):
        refused = bob.post_form("/oncall/schedules/import", data)
        assert refused.status_code == 422, (data, refused.status_code, refused.text[:300])
        assert message in refused.text
    assert [(s["name"], s["timezone"]) for s in _oncall(runtime).list_items("schedule")] == before
    viewer = web_as("vera", "viewer")
    assert 'action="/oncall/schedules/import"' not in viewer.get("/oncall/schedules").text
    assert (
        viewer.post_form("/oncall/schedules/import", {"name": "x", "ical_text": ics}).status_code
        == 403
    )


def test_policy_contacts_page_maps_each_contact_and_refuses_bad_targets(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    """Every contact the policy's rules name is listed with whom it reaches; a responder maps
    one to people, schedules, teams or managers; bad targets change nothing."""
    _people(runtime, "lena", "sam")
    bob = web_as("bob", "responder")
    page = bob.get("/oncall/contacts").text
    for contact in ("security", "legal", "engineering_manager", "privacy"):
        assert f'action="/oncall/contacts/{contact}"' in page
    saved = bob.post_form("/oncall/contacts/legal", {"targets": "person:lena, person:sam"})
    assert saved.status_code == 303, saved.text[:300]
    legal = next(c for c in _oncall(runtime).contacts() if c["name"] == "legal")
    assert legal["targets"] == ["person:lena", "person:sam"] and legal["source"] == "database"
    with runtime.db.read() as conn:
        assert _oncall(runtime).resolve(conn, "contact:legal", runtime.clock.now()) == [
            "lena",
            "sam",
        ]
    assert "person:lena, person:sam" in bob.get("/oncall/contacts").text

    for name, targets in (
        ("legal", "person:nobody"),
        ("legal", "bogus"),
        ("janitor", "person:sam"),
    ):
        refused = bob.post_form(f"/oncall/contacts/{name}", {"targets": targets})
        assert refused.status_code in (404, 422), (name, targets, refused.status_code)
        assert 'class="flash error"' in refused.text
    legal = next(c for c in _oncall(runtime).contacts() if c["name"] == "legal")
    assert legal["targets"] == ["person:lena", "person:sam"]

    viewer = web_as("vera", "viewer")
    assert "/oncall/contacts/legal" not in viewer.get("/oncall/contacts").text
    assert viewer.post_form("/oncall/contacts/legal", {"targets": ""}).status_code == 403


def test_teams_create_edit_and_refuse_unknown_people(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _people(runtime, "carol", "dave", "erin")
    bob = web_as("bob", "responder")
    form_page = bob.get("/oncall/teams").text
    assert 'name="members" value="erin"' in form_page
    created = bob.client.post(
        "/oncall/teams",
        data={"csrf_token": bob.csrf, "name": "payments", "members": ["carol", "dave"],
              "manager": "erin"},
        follow_redirects=False,
    )  # fmt: skip
    assert created.status_code == 303, created.text
    team = _oncall(runtime).show("team", "payments")
    assert team["members"] == ["carol", "dave"] and team["manager"] == "erin"
    page = bob.get("/oncall/teams/payments").text
    assert 'href="/services/payments-api"' in page  # the catalog's owner_team
    assert 'value="carol" checked' in page

    edited = bob.client.post(
        "/oncall/teams/payments",
        data={"csrf_token": bob.csrf, "members": ["erin"], "manager": ""},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    team = _oncall(runtime).show("team", "payments")
    assert team["members"] == ["erin"] and team["manager"] is None

    refused = bob.post_form("/oncall/teams/payments", {"members": "ghost", "manager": ""})
    assert refused.status_code == 422 and "unknown person(s): ghost" in refused.text
    refused = bob.post_form("/oncall/teams", {"name": "ops", "manager": "ghost"})
    assert refused.status_code == 422 and 'value="ops"' in refused.text
    assert _names(runtime, "team") == ["payments"]
    assert _oncall(runtime).show("team", "payments")["members"] == ["erin"]
    # The catalog names this team as an owner: deleting it is refused.
    refused = bob.post_form("/oncall/teams/payments/delete", {"confirm": "yes"})
    assert refused.status_code == 422 and "owner of payments-api" in refused.text
    assert _names(runtime, "team") == ["payments"]


# ---- the demo ------------------------------------------------------------------------------------


def test_demo_with_its_catalog_fills_the_services_and_on_call_pages(
    settings: Settings, clock: FixedClock
) -> None:
    from starlette.testclient import TestClient

    from tests.web.conftest import login
    from warroom.api.app import create_app
    from warroom.core.config import load_config
    from warroom.web.demo import load_into
    from warroom.web.demo_oncall import CATALOG

    runtime = Runtime.build(
        settings, clock=clock, config=load_config(CATALOG), run_migrations=False
    )
    try:
        result = load_into(runtime, clock, password="demo password")
        assert result["catalog"] is True
        oncall = _oncall(runtime)
        now_on_call = {r["schedule"]: r["person"] for r in oncall.who_is_on_call()}
        assert now_on_call["platform-primary"] in ("bob", "dave", "erin")
        assert now_on_call["payments-primary"] in ("carol", "bob")
        overrides = oncall.show("schedule", "platform-primary")["overrides"]
        assert len(overrides) == 1 and overrides[0]["replaces"]
        with TestClient(create_app(runtime)) as client:
            assert login(client, "victor", "demo password").status_code == 303
            services = client.get("/services").text
            for name in ("public-api", "edge-lb", "checkout", "payments-api", "search"):
                assert f'href="/services/{name}"' in services
            assert "(not in the catalog)" not in services
            public_api = services.split('href="/services/public-api"')[1].split("</tr>")[0]
            assert now_on_call["platform-primary"] in public_api
            sev1 = next(i["id"] for i in result["incidents"] if i["severity"] == "SEV1")
            assert sev1 in public_api
            detail = client.get("/services/public-api").text
            assert "edge-critical" in detail and "3.8.1" in detail
            schedule = client.get("/oncall/schedules/platform-primary").text
            assert "instead of" in schedule and "calendar.ics?key=" in schedule
            assert (
                "mon-fri 09:00-17:00" in client.get("/oncall/schedules/search-business-hours").text
            )
            assert "round robin" in client.get("/oncall/policies/payments-critical").text
            people = client.get("/oncall/people").text
            assert "Erin Walsh" in people and "example.invalid" not in people
    finally:
        runtime.close()


def test_demo_without_a_catalog_still_lists_the_services_it_mentions(
    settings: Settings, clock: FixedClock
) -> None:
    from starlette.testclient import TestClient

    from tests.web.conftest import login
    from warroom.api.app import create_app
    from warroom.web.demo import load_into

    runtime = Runtime.build(settings, clock=clock, run_migrations=False)
    try:
        result = load_into(runtime, clock, password="demo password")
        assert result["catalog"] is False and result["oncall"]
        with TestClient(create_app(runtime)) as client:
            assert login(client, "victor", "demo password").status_code == 303
            services = client.get("/services").text
            for name in ("public-api", "edge-lb", "checkout", "payments-api", "search"):
                assert f'href="/services/{name}"' in services
            assert services.count("(not in the catalog)") == 5
            assert "<strong>" in client.get("/oncall/schedules/payments-primary").text
    finally:
        runtime.close()
