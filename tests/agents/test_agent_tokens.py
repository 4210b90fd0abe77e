"""Agent tokens: created through the API and CLI, and shown as agent:<name> on the timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import Api
from warroom.cli.main import app


def test_an_agent_token_acts_as_agent_name(admin_api: Api) -> None:
    created = admin_api.ok(
        "POST",
        "/api/v1/tokens",
        json={"name": "triage-bot", "scopes": ["responder"], "kind": "agent"},
    )
    assert created["kind"] == "agent"
    agent = Api(admin_api.client, created["token"])
    me = agent.ok("GET", "/api/v1/agents/me")
    assert me == {
        "name": "agent:triage-bot",
        "kind": "agent",
        "scopes": ["responder"],
        "effective_scopes": ["responder", "viewer"],
    }
    incident = agent.ok(
        "POST", "/api/v1/incidents", json={"title": "Disk full", "severity": "SEV3"}
    )
    timeline = agent.ok("GET", f"/api/v1/incidents/{incident['id']}/timeline")
    assert [e["actor"] for e in timeline["events"]] == ["agent:triage-bot"]
    tokens = admin_api.ok("GET", "/api/v1/tokens")["items"]
    assert {t["name"]: t["kind"] for t in tokens}["triage-bot"] == "agent"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "root-bot", "scopes": ["admin"], "kind": "agent"}, "agent_scope_refused"),
        ({"name": "two words", "scopes": ["viewer"], "kind": "agent"}, "invalid_input"),
        ({"name": "bot", "scopes": ["viewer"], "kind": "robot"}, "invalid_input"),
    ],
)
def test_bad_agent_tokens_are_refused(admin_api: Api, body: dict[str, object], code: str) -> None:
    status, error = admin_api.post("/api/v1/tokens", json=body)
    assert status == 422, error
    assert error["error"]["code"] == code


def test_a_person_token_is_not_an_agent(api: Api) -> None:
    assert api.ok("GET", "/api/v1/agents/me")["kind"] == "token"


def test_cli_creates_agent_tokens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["token", "create", "pager-bot", "--agent", "--scope", "viewer", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["kind"], data["scopes"]) == ("agent", ["viewer"])
    listed = runner.invoke(app, ["token", "list"])
    assert "agent:pager-bot" in listed.output
    refused = runner.invoke(app, ["token", "create", "root-bot", "--agent", "--scope", "admin"])
    assert refused.exit_code == 2
    assert "cannot have the admin scope" in refused.output
