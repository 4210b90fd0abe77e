"""The pure SCIM pieces: filters, PATCH paths, role mapping."""

from __future__ import annotations

from typing import Any

import pytest

from warroom.core.settings import Settings
from warroom.identity.accounts import role_for_groups, team_slug
from warroom.identity.scim_model import ScimError, apply_patch, parse_filter

USER: dict[str, Any] = {
    "userName": "ann@example.com",
    "name": {"givenName": "Ann"},
    "emails": [{"value": "ann@example.com", "type": "work", "primary": True}],
    "active": True,
}


def test_filters_identity_providers_send() -> None:
    flt = parse_filter('UserName Eq "Ann@Example.com"', {"userName"})
    assert flt is not None and (flt.attribute, flt.value) == ("userName", "Ann@Example.com")
    escaped = parse_filter(r'externalId eq "a \"quoted\" id"', {"externalId"})
    assert escaped is not None and escaped.value == 'a "quoted" id'
    assert parse_filter(None, {"userName"}) is None
    for bad in ('userName sw "a"', 'title eq "x"', 'userName eq "a" and active eq true'):
        with pytest.raises(ScimError) as refused:
            parse_filter(bad, {"userName"})
        assert refused.value.status == 400 and refused.value.scim_type == "invalidFilter"


def test_patch_paths() -> None:
    multi, read_only = {"emails", "groups"}, {"groups"}
    ops = [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@new.example"},
        {"op": "add", "path": 'emails[type eq "home"].value', "value": "a@home.example"},
        {"op": "replace", "path": "name.familyName", "value": "Smith"},
        {"op": "Replace", "value": {"active": "False", "displayName": "Ann S."}},
    ]
    patched = apply_patch(USER, ops, multi, read_only)
    assert [e["value"] for e in patched["emails"]] == ["a@new.example", "a@home.example"]
    assert patched["name"] == {"givenName": "Ann", "familyName": "Smith"}
    assert patched["active"] == "False" and patched["displayName"] == "Ann S."
    assert USER["emails"][0]["value"] == "ann@example.com"  # the input is not modified
    removed = apply_patch(
        patched, [{"op": "remove", "path": 'emails[type eq "home"]'}], multi, read_only
    )
    assert [e["type"] for e in removed["emails"]] == ["work"]
    with pytest.raises(ScimError) as read_only_refused:
        apply_patch(USER, [{"op": "add", "path": "groups", "value": []}], multi, read_only)
    assert read_only_refused.value.scim_type == "mutability"
    with pytest.raises(ScimError):
        apply_patch(USER, [{"op": "remove"}], multi, read_only)
    with pytest.raises(ScimError):
        apply_patch(USER, [{"op": "move", "path": "active"}], multi, read_only)


def test_members_add_and_remove_by_value() -> None:
    group = {"displayName": "g", "members": [{"value": "a"}, {"value": "b"}]}
    multi = {"members"}
    added = apply_patch(
        group,
        [{"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]}],
        multi,
        set(),
    )
    assert [m["value"] for m in added["members"]] == ["a", "b", "c"]
    gone = apply_patch(added, [{"op": "remove", "path": 'members[value eq "b"]'}], multi, set())
    assert [m["value"] for m in gone["members"]] == ["a", "c"]
    # Okta/Entra also remove members with a value list and no filter.
    okta = apply_patch(
        gone, [{"op": "remove", "path": "members", "value": [{"value": "a"}]}], multi, set()
    )
    assert [m["value"] for m in okta["members"]] == ["c"]


def test_roles_from_groups_highest_wins() -> None:
    settings = Settings(admin_groups="SRE-Leads", responder_groups="oncall, sre-leads-backup")
    assert role_for_groups(["marketing", "oncall", "sre-leads"], settings) == "admin"
    assert role_for_groups(["ONCALL"], settings) == "responder"
    assert role_for_groups(["marketing"], settings) is None
    assert role_for_groups([], settings.model_copy(update={"default_role": "viewer"})) == "viewer"
    assert team_slug("SRE On-Call (EU)") == "sre-on-call-eu"
