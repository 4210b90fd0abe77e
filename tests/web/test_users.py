"""The user lifecycle over the web, the API and the CLI: reset and change a password, disable
(sessions and tokens stop at once) and enable, change role, delete; the audit log page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from argon2 import Parameters, Type, extract_parameters
from starlette.testclient import TestClient
from typer.testing import CliRunner

from tests.support.cli import use_local_database
from tests.web.conftest import PASSWORD, WebUser, login
from warroom.api.app import create_app
from warroom.cli.main import app as cli_app
from warroom.core import auth
from warroom.core.runtime import Runtime
from warroom.web import users

HTML = {"Accept": "text/html"}


def _token_for(runtime: Runtime, created_by: str) -> str:
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name=f"{created_by}-script", scopes=["responder"], created_by=created_by,
            now=runtime.clock.now(),
        )  # fmt: skip
    return token


def test_disable_stops_sessions_and_tokens_at_once_and_enable_restores_login(
    runtime: Runtime, web_as: Callable[[str, str], WebUser], client: TestClient
) -> None:
    admin = web_as("ada", "admin")
    bob = web_as("bob", "responder")
    token = _token_for(runtime, "user:bob")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/incidents", headers=bearer).status_code == 200
    assert bob.get("/incidents", headers=HTML).status_code == 200

    done = admin.post_form("/admin/users/bob/disable")
    assert done.status_code == 200 and "1 API token(s) revoked" in done.text
    # The open session and the token stop on their very next request.
    assert bob.get("/incidents", headers=HTML, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/incidents", headers=bearer).status_code == 401
    fresh = TestClient(create_app(runtime))
    assert login(fresh, "bob").status_code == 401
    listed = {u["name"]: u for u in admin.get("/api/v1/users").json()["items"]}
    assert listed["bob"]["disabled_at"] is not None

    assert admin.post_form("/admin/users/bob/enable").status_code == 200
    assert login(fresh, "bob").status_code == 303
    # A revoked token stays revoked.
    assert client.get("/api/v1/incidents", headers=bearer).status_code == 401


def test_last_admin_and_yourself_are_protected(web_as: Callable[[str, str], WebUser]) -> None:
    ada = web_as("ada", "admin")
    refused = ada.post_form("/admin/users/ada/disable")
    assert refused.status_code == 409 and "yourself" in refused.text
    refused = ada.post_form("/admin/users/ada/role", {"role": "viewer"})
    assert refused.status_code == 409 and "last enabled admin" in refused.text
    web_as("bob", "responder")
    refused = ada.post_form("/admin/users/bob/delete")
    assert refused.status_code == 422 and "Yes, delete bob" in refused.text
    assert "bob" in [u["name"] for u in ada.get("/api/v1/users").json()["items"]]


def test_role_change_applies_to_the_open_session_and_delete_removes(
    runtime: Runtime, web_as: Callable[[str, str], WebUser]
) -> None:
    ada = web_as("ada", "admin")
    victor = web_as("victor", "viewer")
    assert victor.get("/incidents/new").text.count("You are a viewer") == 1
    assert ada.post_form("/admin/users/victor/role", {"role": "responder"}).status_code == 200
    assert "You are a viewer" not in victor.get("/incidents/new").text
    deleted = ada.post_form("/admin/users/victor/delete", {"confirm": "yes"})
    assert deleted.status_code == 200 and "victor is deleted" in deleted.text
    assert victor.get("/incidents", headers=HTML, follow_redirects=False).status_code == 303
    assert "victor" not in [u["name"] for u in ada.get("/api/v1/users").json()["items"]]
    audit = ada.get("/admin/audit").text
    for action in ("user.change_role", "user.delete", "user.create"):
        assert action in audit
    assert ada.get("/admin/audit?action=user.delete").text.count("<code>user.") == 1
    assert victor_cannot_see_audit(web_as)


def victor_cannot_see_audit(web_as: Callable[[str, str], WebUser]) -> bool:
    viewer = web_as("vera", "viewer")
    return bool(viewer.get("/admin/audit", headers=HTML).status_code == 403)


def test_passwords_reset_by_admin_and_changed_by_their_owner(
    runtime: Runtime, web_as: Callable[[str, str], WebUser]
) -> None:
    ada = web_as("ada", "admin")
    carol = web_as("carol", "responder")
    other = TestClient(create_app(runtime))
    assert login(other, "carol").status_code == 303  # a second session of carol's

    # Change one's own: the current password is checked, the other session ends.
    wrong = carol.post_form("/account/password", {"current_password": "nope", "password": "x" * 10,
                                                  "password_again": "x" * 10})  # fmt: skip
    assert wrong.status_code == 401 and "current password is wrong" in wrong.text
    new = "a much better secret"
    body = {"current_password": PASSWORD, "password": new, "password_again": new}
    changed = carol.post_form("/account/password", body)
    assert changed.status_code == 200 and "1 other session(s) logged out" in changed.text
    assert carol.get("/incidents", headers=HTML, follow_redirects=False).status_code == 200
    assert other.get("/incidents", headers=HTML, follow_redirects=False).status_code == 303
    assert login(other, "carol", new).status_code == 303

    # Someone else's password: only an admin, and a short one is refused.
    refused = carol.client.post(
        "/api/v1/users/ada/password", json={"password": "stolen-password"},
        headers={"X-CSRF-Token": carol.csrf},
    )  # fmt: skip
    assert refused.status_code == 403
    short = ada.post_form("/admin/users/carol/password", {"password": "short"})
    assert short.status_code == 422
    assert (
        ada.post_form("/admin/users/carol/password", {"password": "reset by ada"}).status_code
        == 200
    )
    assert carol.get("/incidents", headers=HTML, follow_redirects=False).status_code == 303
    assert login(other, "carol", "reset by ada").status_code == 303


def test_cli_user_lifecycle_and_admin_recovery(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """`warroom user reset-password admin` on the server's machine: no token needed."""
    use_local_database(monkeypatch, tmp_path, database_url)
    runner = CliRunner()

    def wr(*args: str, stdin: str | None = None) -> Any:
        return runner.invoke(cli_app, list(args), input=stdin, catch_exceptions=False)

    assert wr("user", "create", "admin", "--role", "admin", "--password-stdin",
              stdin="first password\n").exit_code == 0  # fmt: skip
    assert wr("user", "create", "bob", "--password-stdin", stdin="bob password\n").exit_code == 0
    reset = wr("user", "reset-password", "admin", "--password-stdin", stdin="recovered pw\n")
    assert reset.exit_code == 0, reset.output
    assert "password of admin reset" in reset.output
    assert wr("user", "role", "bob", "viewer").exit_code == 0
    disabled = wr("user", "disable", "bob", "--json")
    assert json.loads(disabled.stdout)["disabled"] is True
    assert wr("user", "enable", "bob").exit_code == 0
    refused = wr("user", "delete", "bob")
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert wr("user", "delete", "bob", "--yes").exit_code == 0
    unknown = wr("user", "disable", "nobody")
    assert unknown.exit_code == 2 and "no user nobody" in unknown.output
    listed = json.loads(wr("user", "list", "--json").stdout)["items"]
    assert [u["name"] for u in listed] == ["admin"]
    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings

    runtime = Runtime.build(Settings())
    try:
        with runtime.db.write() as conn:
            users.login(conn, "admin", "recovered pw", runtime.clock.now())
    finally:
        runtime.close()


@pytest.mark.real_password_hashing
def test_passwords_are_hashed_with_the_products_argon2_parameters() -> None:
    """The suite hashes at argon2's lowest cost (tests/conftest.py); the product never does:
    this pins its parameters, for a new password and for the unknown-user check alike."""
    production = Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
    )
    stored = users._hasher.hash("a long password")
    assert extract_parameters(stored) == production
    assert extract_parameters(users._DUMMY_HASH) == production
    assert users._hasher.verify(stored, "a long password")
    assert not users._hasher.check_needs_rehash(stored)
