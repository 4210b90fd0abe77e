"""`warroom integrations`, `alerts`, `routes test` and `silence` on the local database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.alerts.helpers import am_alert, am_payload
from tests.conftest import wait_for_intake
from tests.support.cli import use_local_database, wr, wr_json


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def test_integrations_routes_silences_and_alerts(cli_env: Path) -> None:
    created = wr_json("integrations", "create", "prom", "--kind", "alertmanager")
    key = created["key"]
    assert len(key) == 32 and created["endpoint"] == "/api/v1/alerts/alertmanager"
    human = wr("integrations", "list")
    assert human.exit_code == 0 and "prom" in human.output and key not in human.output
    rotated = wr_json("integrations", "rotate", "prom")["key"]
    assert rotated != key
    assert wr_json("integrations", "revoke", "prom")["revoked_at"]
    assert wr("integrations", "create", "Bad Name", "--kind", "alertmanager").exit_code == 2

    decision = wr_json(
        "routes", "test", "--labels", "service=payments", "--labels", "severity=critical"
    )
    assert decision["severity"] == "SEV2" and decision["action"] == "declare"
    assert decision["service"] == "payments"
    assert (
        wr_json("routes", "test", "--labels", "service=a", "severity=warning")["action"] == "record"
    )
    warning = wr("routes", "test", "--labels", "severity=warning,service=search")
    assert warning.exit_code == 0 and "record only" in warning.output
    assert wr("routes", "test", "--labels", "nonsense").exit_code == 2

    silence = wr_json("silence", "add", "service=payments", "-c", "maintenance", "-d", "2h")
    assert silence["state"] == "active"
    assert wr_json("routes", "test", "-l", "service=payments")["silenced_by"] == [silence["id"]]
    listed = wr("silence", "list")
    assert "maintenance" in listed.output
    assert wr_json("silence", "expire", str(silence["id"]))["state"] == "expired"
    assert wr_json("silence", "list")["items"] == []
    assert wr("silence", "add", "bad", "-c", "x").exit_code == 2


def test_alerts_list_and_show_against_a_server(cli_env: Path, tmp_path: Path) -> None:
    """Intake through the in-process app, then the alert commands render it."""
    from starlette.testclient import TestClient

    from warroom.api.app import create_app
    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings

    key = wr_json("integrations", "create", "prom", "--kind", "alertmanager")["key"]
    runtime = Runtime.build(Settings(), run_migrations=False)
    try:
        with TestClient(create_app(runtime)) as client:
            response: httpx.Response = client.post(
                "/api/v1/alerts/alertmanager",
                json=am_payload([am_alert(fingerprint="cli0000000000001")]),
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 202, response.text
            wait_for_intake(client, response)
    finally:
        runtime.close()
    items = wr_json("alerts", "list")["items"]
    assert len(items) == 1 and items[0]["incident"]
    listed = wr("alerts", "list", "--status", "open")
    assert listed.exit_code == 0 and "firing" in listed.output
    shown = wr("alerts", "show", str(items[0]["id"]))
    assert shown.exit_code == 0 and "cli0000000000001" in shown.output
    assert items[0]["incident"] in shown.output
    counts = wr_json("alerts", "counts")
    assert counts["received"] == 1 and counts["open"] == 1
    assert wr("alerts", "show", "999").exit_code == 2
    wr_json("integrations", "create", "backup", "--kind", "heartbeat", "--timeout", "60")
    beats = wr("alerts", "heartbeats")
    assert beats.exit_code == 0 and "backup" in beats.output and "inactive" in beats.output
