"""SCIM 2.0 at /scim/v2: the scim2-tester compliance checks, what identity providers send
(Entra ID, Okta: filters, paging, PATCH paths), and deprovisioning's effects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.conftest import Api
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.oncall import models
from warroom.web import users

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def scim(client: TestClient, make_token: Callable[..., str]) -> Api:
    return Api(client, make_token("scim", name="okta"))


def test_scim2_tester_finds_no_error(
    client: TestClient, runtime: Runtime, make_token: Callable[..., str]
) -> None:
    runtime.settings.base_url = "http://testserver"
    http = TestClient(client.app, base_url="http://testserver/scim/v2")
    http.headers["Authorization"] = f"Bearer {make_token('scim', name='tester')}"
    scim_client = SyncSCIMClient(http)
    scim_client.discover()
    results = check_server(scim_client)
    failures = [
        f"{r.title}: {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)
        # Deliberate: removing `active` leaves an account active (an absent `active` is not
        # "disabled"), and warroom always reports the account's state.
        and not (r.title == "check_remove_attribute" and "'active'" in str(r.reason))
    ]
    assert len(results) > 20
    assert failures == [], "\n".join(failures)


def test_only_a_scim_token_may_provision(
    client: TestClient, make_token: Callable[..., str], admin_api: Api
) -> None:
    anonymous = client.get("/scim/v2/Users")
    assert anonymous.status_code == 401
    assert anonymous.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    status, body = admin_api.get("/scim/v2/Users")
    assert status == 403 and "'scim' scope" in body["detail"]
    # ...and a scim token is nothing else.
    scim_only = Api(client, make_token("scim", name="okta"))
    assert scim_only.get("/api/v1/incidents")[0] == 403


def _user(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": f"{name}@example.com",
        "name": {"givenName": name.title(), "familyName": "Example"},
        "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        "active": True,
        **extra,
    }


def test_identity_provider_requests_filter_page_and_patch(scim: Api) -> None:
    ids = {n: scim.ok("POST", "/scim/v2/Users", json=_user(n))["id"] for n in ("ann", "ben", "cy")}
    # Okta/Entra look a person up before creating them; userName is case-insensitive.
    status, found = scim.get('/scim/v2/Users?filter=userName eq "BEN@example.com"')
    assert status == 200 and found["totalResults"] == 1
    assert found["Resources"][0]["id"] == ids["ben"]
    assert (
        scim.get('/scim/v2/Users?filter=userName eq "nobody@example.com"')[1]["totalResults"] == 0
    )
    status, bad = scim.get('/scim/v2/Users?filter=userName co "a"')
    assert status == 400 and bad["scimType"] == "invalidFilter"
    assert scim.post("/scim/v2/Users", json=_user("ann"))[0] == 409

    first = scim.ok("GET", "/scim/v2/Users?startIndex=1&count=2")
    second = scim.ok("GET", "/scim/v2/Users?startIndex=3&count=2")
    assert first["totalResults"] == 3 and first["itemsPerPage"] == 2
    assert second["itemsPerPage"] == 1 and second["startIndex"] == 3
    seen = [r["id"] for r in first["Resources"] + second["Resources"]]
    assert sorted(seen) == sorted(ids.values())

    # Entra ID's PATCH: capitalised ops, string booleans, filtered paths.
    patched = scim.ok(
        "PATCH",
        f"/scim/v2/Users/{ids['ann']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "ann@new.example",
                },
                {"op": "Replace", "path": "name.familyName", "value": "Renamed"},
                {"op": "Add", "path": "displayName", "value": "Ann R."},
            ],
        },
    )
    assert patched["emails"][0]["value"] == "ann@new.example"
    assert patched["name"]["familyName"] == "Renamed" and patched["displayName"] == "Ann R."

    group = scim.ok(
        "POST",
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "SRE On-Call", "members": [{"value": ids["ann"]}]},
    )
    etag = group["meta"]["version"]
    scim.ok(
        "PATCH",
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": ids["ben"]}, {"value": ids["cy"]}],
                },
            ],
        },
    )
    removed = scim.ok(
        "PATCH",
        f"/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "{ids["ben"]}"]'},
            ],
        },
    )
    assert sorted(x["value"] for x in removed["members"]) == sorted([ids["ann"], ids["cy"]])
    # ETags: a stale If-Match is refused.
    status, _ = scim.request(
        "PATCH",
        f"/scim/v2/Groups/{group['id']}",
        headers={"If-Match": etag},
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "displayName", "value": "x"}],
        },
    )
    assert status == 412
    lean = scim.ok("GET", f"/scim/v2/Groups/{group['id']}?excludedAttributes=members")
    assert "members" not in lean and lean["displayName"] == "SRE On-Call"
    ann = scim.ok("GET", f"/scim/v2/Users/{ids['ann']}")
    assert ann["groups"][0]["display"] == "SRE On-Call"


def _settings(runtime: Runtime, **values: Any) -> None:
    for key, value in values.items():
        setattr(runtime.settings, key, value)


def test_groups_map_to_roles_and_on_call_teams(scim: Api, runtime: Runtime) -> None:
    _settings(runtime, admin_groups="warroom-admins", responder_groups="SRE On-Call")
    ann = scim.ok("POST", "/scim/v2/Users", json=_user("ann"))
    ben = scim.ok("POST", "/scim/v2/Users", json=_user("ben"))
    scim.ok(
        "POST",
        "/scim/v2/Groups",
        json={
            "schemas": [GROUP],
            "displayName": "SRE On-Call",
            "members": [{"value": ann["id"]}, {"value": ben["id"]}],
        },
    )
    admins = scim.ok(
        "POST",
        "/scim/v2/Groups",
        json={
            "schemas": [GROUP],
            "displayName": "warroom-admins",
            "members": [{"value": ann["id"]}],
        },
    )
    with runtime.db.read() as conn:
        roles = {u["name"]: u["role"] for u in users.list_users(conn)}
    assert roles["ann"] == "admin" and roles["ben"] == "responder"
    oncall = runtime.oncall
    assert oncall.show("team", "sre-on-call")["members"] == ["ann", "ben"]
    assert oncall.show("person", "ann")["email"] == "ann@example.com"
    # Leaving the admins' group takes the admin role away.
    scim.ok(
        "PATCH",
        f"/scim/v2/Groups/{admins['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{ann["id"]}"]'}],
        },
    )
    with runtime.db.read() as conn:
        assert {u["name"]: u["role"] for u in users.list_users(conn)}["ann"] == "responder"


@pytest.mark.parametrize("how", ["active-false", "delete"])
def test_deprovisioning_disables_the_person_at_once(
    how: str, scim: Api, client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    dana = scim.ok("POST", "/scim/v2/Users", json=_user("dana"))
    now = clock.now()
    with runtime.db.write() as conn:
        # dana has a browser session and an API token she made for a script.
        session_id, _ = users.open_session(
            conn, _user_id(runtime, "dana"), "dana", "responder", now
        )
        _, token = auth.create_token(
            conn, name="dana-script", scopes=["responder"], created_by="user:dana", now=now
        )
    oncall = runtime.oncall
    principal = auth.SYSTEM
    oncall.update_person(
        principal,
        "dana",
        models.PersonPatch(
            contact_methods=[models.ContactMethod(name="mail", url="mailto://dana@example.com")]
        ),
    )
    oncall.create_schedule(
        principal,
        models.ScheduleIn.model_validate(
            {
                "name": "primary",
                "timezone": "UTC",
                "layers": [
                    {
                        "users": ["dana"],
                        "start": (now - timedelta(days=1)).isoformat(),
                        "shift_length": 1,
                        "shift_unit": "weeks",
                    }
                ],
            }
        ),
    )
    oncall.create_policy(
        principal,
        models.EscalationPolicyIn.model_validate(
            {"name": "p", "levels": [{"targets": ["schedule:primary"]}]}
        ),
    )
    assert oncall.who_is_on_call(now, "primary")[0]["person"] == "dana"
    assert Api(client, token).get("/api/v1/incidents")[0] == 200

    if how == "delete":
        status, _ = scim.request("DELETE", f"/scim/v2/Users/{dana['id']}")
        assert status == 204
        assert scim.get(f"/scim/v2/Users/{dana['id']}")[0] == 404
    else:
        off = scim.ok(
            "PATCH",
            f"/scim/v2/Users/{dana['id']}",
            json={
                "schemas": [PATCH],
                "Operations": [{"op": "Replace", "value": {"active": "False"}}],
            },
        )
        assert off["active"] is False

    # The session and the token stop working at once...
    with runtime.db.read() as conn:
        assert users.lookup(conn, session_id, now) is None
    assert Api(client, token).get("/api/v1/incidents")[0] == 401
    # ...she is no longer paged, and her shift shows as a gap.
    with runtime.db.read() as conn:
        assert oncall.resolve(conn, "schedule:primary", now) == []
        assert oncall.resolve(conn, "person:dana", now) == []
        assert oncall.person_methods(conn, "dana", None) == []
    assert oncall.who_is_on_call(now, "primary")[0]["person"] is None
    assert oncall.shifts("primary", now, now + timedelta(days=1)) == []

    if how == "active-false":  # re-activated: on call again (her old token stays revoked)
        scim.ok(
            "PATCH",
            f"/scim/v2/Users/{dana['id']}",
            json={
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "active", "value": True}],
            },
        )
        assert oncall.who_is_on_call(now, "primary")[0]["person"] == "dana"
        assert Api(client, token).get("/api/v1/incidents")[0] == 401


def _user_id(runtime: Runtime, name: str) -> int:
    with runtime.db.read() as conn:
        return next(u["id"] for u in users.list_users(conn) if u["name"] == name)


def test_bad_input_changes_nothing(scim: Api) -> None:
    status, body = scim.post("/scim/v2/Users", json={"schemas": [USER]})
    assert status == 400 and body["scimType"] == "invalidValue"
    status, body = scim.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "g", "members": [{"value": "nope"}]},
    )
    assert status == 400 and "unknown member" in body["detail"]
    assert scim.ok("GET", "/scim/v2/Groups")["totalResults"] == 0
    assert scim.ok("GET", "/scim/v2/Users")["totalResults"] == 0
    status, body = scim.request("PATCH", "/scim/v2/Users/missing", json={"Operations": []})
    assert status == 404
