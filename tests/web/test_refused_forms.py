"""The one form helper on the on-call, tokens and account forms: a refused form comes back
with what was typed and the reason beside the field it is about (`pages.field_error`), and
nothing was written."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from tests.web.conftest import PASSWORD, WebUser
from warroom.core import auth
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.oncall import models

ADMIN = Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session")


def beside(html: str, form_id: str, field: str) -> str:
    """The reason shown beside `field` of the form `form_id` ('' when none)."""
    found = re.search(rf'<p class="field-error" id="{form_id}-{field}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_policy_form_keeps_what_was_typed_and_says_why_beside_the_level(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    bob = web_as("bob", "responder")
    form = {
        "form_id": "policy",
        "name": "night-watch",
        "description": "Pages at night",
        "repeat": "2",
        "level-0-delay": "0",
        "level-0-targets": "",
        "level-0-mode": "all",
        "level-1-delay": "5",
        "level-1-targets": "",
        "level-1-mode": "round_robin",
    }
    refused = bob.post_form("/oncall/policies", form)
    assert refused.status_code == 422
    assert "name at least one target" in beside(refused.text, "policy", "level-0")
    assert beside(refused.text, "policy", "name") == ""
    for value in ('value="night-watch"', 'value="Pages at night"', 'value="2"', 'value="5"'):
        assert value in refused.text
    assert '<option value="round_robin" selected>' in refused.text
    assert runtime.oncall.list_policies() == []
    runtime.oncall.create_person(ADMIN, models.PersonIn(name="carol"))
    level = models.LevelIn(targets=["person:carol"])
    runtime.oncall.create_policy(
        ADMIN, models.EscalationPolicyIn(name="night-watch", levels=[level])
    )
    duplicate = {**form, "level-0-targets": "person:carol", "level-1-delay": ""}
    again = bob.post_form("/oncall/policies", duplicate)
    assert again.status_code == 409
    assert "already exists" in beside(again.text, "policy", "name")


def test_override_form_defaults_to_you_and_keeps_what_was_typed(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    for name in ("bob", "carol"):
        runtime.oncall.create_person(ADMIN, models.PersonIn(name=name))
    start = runtime.clock.now().replace(tzinfo=None) - timedelta(hours=1)
    runtime.oncall.create_schedule(
        ADMIN,
        models.ScheduleIn(name="primary", layers=[models.LayerIn(users=["carol"], start=start)]),
    )
    bob = web_as("bob", "responder")
    page = bob.get("/oncall/schedules/primary").text
    override = page[page.index('id="override-form"') :]
    assert '<option value="bob" selected>bob (you)</option>' in override
    form = {"form_id": "override", "user": "carol", "start": "soon", "end": "2026-12-01T10:00"}
    refused = bob.post_form("/oncall/schedules/primary/overrides", form)
    assert refused.status_code == 422
    assert "give a date and time" in beside(refused.text, "override", "start")
    override = refused.text[refused.text.index('id="override-form"') :]
    assert 'value="soon"' in override and 'value="2026-12-01T10:00"' in override
    assert '<option value="carol" selected>' in override
    assert runtime.oncall.show("schedule", "primary")["overrides"] == []


def test_delete_without_the_tick_is_said_beside_the_box(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    runtime.oncall.create_person(ADMIN, models.PersonIn(name="carol"))
    bob = web_as("bob", "responder")
    refused = bob.post_form("/oncall/people/carol/delete", {"form_id": "delete"})
    assert refused.status_code == 422
    assert "tick the box" in beside(refused.text, "delete", "confirm")
    assert [p["name"] for p in runtime.oncall.list_items("person")] == ["carol"]


def test_team_form_says_unknown_members_beside_them(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    bob = web_as("bob", "responder")
    refused = bob.post_form("/oncall/teams", {"form_id": "team", "name": "ops", "manager": "zed"})
    assert refused.status_code == 422
    assert "zed" in beside(refused.text, "team", "members")
    assert 'value="ops"' in refused.text
    assert runtime.oncall.list_items("team") == []


def test_tokens_form_keeps_name_kind_and_scopes_and_says_why(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    ada = web_as("ada", "admin")
    form = {"form_id": "token", "name": "grafana alerts", "kind": "token"}
    refused = ada.post_form("/admin/tokens", form)
    assert refused.status_code == 422
    assert "tick at least one scope" in beside(refused.text, "token", "scopes")
    assert 'value="grafana alerts"' in refused.text
    assert 'value="responder" checked' not in refused.text  # nothing was ticked: none shown
    agent = {"form_id": "token", "name": "triage-bot", "kind": "agent", "scopes": "admin"}
    refused = ada.client.post(
        "/admin/tokens", data={**agent, "csrf_token": ada.csrf}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert "cannot have the admin scope" in beside(refused.text, "token", "kind")
    assert '<option value="agent" selected>' in refused.text
    assert 'value="admin" checked' in refused.text
    empty = ada.post_form("/admin/tokens", {"form_id": "token", "name": " ", "scopes": "viewer"})
    assert "needs a name" in beside(empty.text, "token", "name")
    with runtime.db.read() as conn:
        assert [t["name"] for t in auth.list_tokens(conn)] == []
    made = ada.post_form("/admin/tokens", {**agent, "scopes": "responder"})
    assert made.status_code == 201 and 'id="new-token"' in made.text
    assert "agent" in made.text


def test_account_password_reasons_beside_their_fields_and_never_echoed(
    web_as: Callable[[str, str], WebUser],
) -> None:
    carol = web_as("carol", "responder")
    base = {"form_id": "password", "current_password": PASSWORD}
    differ = carol.post_form(
        "/account/password", {**base, "password": "x" * 10, "password_again": "y" * 10}
    )
    assert differ.status_code == 422
    assert "differ" in beside(differ.text, "password", "password_again")
    assert "x" * 10 not in differ.text
    wrong = carol.post_form(
        "/account/password",
        {**base, "current_password": "nope", "password": "z" * 10, "password_again": "z" * 10},
    )
    assert wrong.status_code == 401
    assert "current password is wrong" in beside(wrong.text, "password", "current_password")
    short = carol.post_form(
        "/account/password", {**base, "password": "short", "password_again": "short"}
    )
    assert "at least 8" in beside(short.text, "password", "password")
