"""`warroom user create` and `warroom demo` on the local database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from tests.web.conftest import login
from warroom.api.app import create_app
from warroom.cli.main import app
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.postmortems.schemas import ListActions
from warroom.web.demo import load_into

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_user_create_then_log_in(cli_env: Path, runtime: Runtime) -> None:
    created = runner.invoke(
        app,
        ["user", "create", "alice", "--role", "admin", "--password-stdin", "--json"],
        input="a long password\n",
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout) == {"id": 1, "name": "alice", "role": "admin"}
    prompted = runner.invoke(
        app, ["user", "create", "bob", "--role", "viewer"], input="pw for bob!\npw for bob!\n"
    )
    assert prompted.exit_code == 0, prompted.output
    duplicate = runner.invoke(
        app, ["user", "create", "alice", "--password-stdin"], input="another password\n"
    )
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    bad_role = runner.invoke(app, ["user", "create", "carol", "--role", "root"])
    assert bad_role.exit_code == 2
    listed = runner.invoke(app, ["user", "list", "--json"])
    assert [u["name"] for u in json.loads(listed.stdout)["items"]] == ["alice", "bob"]
    with runtime.db.read() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM web_users").scalars().all()
    assert all(h.startswith("$argon2id$") for h in stored)
    with TestClient(create_app(runtime)) as client:
        assert login(client, "alice", "a long password").status_code == 303


def test_demo_loads_a_living_system(runtime: Runtime, clock: FixedClock) -> None:
    result = load_into(runtime, clock, password="demo password")
    by_severity = {i["severity"]: i["id"] for i in result["incidents"]}
    sev1 = runtime.incidents.get(by_severity["SEV1"])
    sev2 = runtime.incidents.get(by_severity["SEV2"])
    assert sev1.is_open and sev1.roles["commander"] == "alice" and sev1.acknowledged_at
    assert sev2.status.value == "resolved" and sev2.postmortem
    assert len(runtime.incidents.timeline(sev2.public_id)) > 10
    # Through the real services: alerts attached, a correlated change, a runbook step run,
    # and the SEV2's post-mortem published with action items.
    sev1_events = [e.type for e in runtime.incidents.timeline(sev1.public_id)]
    assert sev1_events.count("alert_attached") >= 2
    assert "deploy_correlated" in sev1_events and "runbook_step_ran" in sev1_events
    attached, _ = runtime.alerts.list_alerts(incident=sev1.public_id)
    assert len(attached) >= 2
    assert runtime.postmortems.get(sev2.public_id)["status"] == "published"
    items = runtime.action_items.list(ListActions(incident=sev2.public_id))
    assert len(items) == 3
    with TestClient(create_app(runtime)) as client:
        assert login(client, "victor", "demo password").status_code == 303
        page = client.get(f"/incidents/{sev1.public_id}")
        assert page.status_code == 200 and "Executive liaison" in page.text
        assert "LBTargetsUnhealthy" in page.text or "targets unhealthy" in page.text
        assert "infra PR #4412" in page.text or "3.8.1" in page.text
        assert "published" in client.get(f"/incidents/{sev2.public_id}").text
        # The post-mortem page and the status page admin have something to show.
        pm = client.get(f"/incidents/{sev2.public_id}/postmortem").text
        assert "<code>DB_POOL_SIZE=5</code>" in pm and "root cause: configuration" in pm
        assert '<span class="item-status">done</span>' in pm
        admin = client.get("/admin/statuspage").text
        assert "Checkout database upgrade" in admin and "Public API" in admin
        assert "major outage" in admin
    with pytest.raises(Exception, match="empty database"):
        load_into(runtime, clock)


def test_demo_alone_brings_its_service_catalog(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No WARROOM_CONFIG: `warroom demo` writes the catalog into the data dir, where the
    server (any new process) reads it."""
    data = tmp_path / "data"
    monkeypatch.setenv("WARROOM_DATA_DIR", str(data))
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG", "WARROOM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    loaded = runner.invoke(app, ["demo", "--password", "demo password", "--json"])
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["catalog"] is True
    written = data / "warroom.yaml"
    assert written.is_file() and (written.stat().st_mode & 0o077) == 0
    from warroom.core.settings import Settings

    runtime = Runtime.build(Settings())
    try:
        assert "public-api" in [s.name for s in runtime.config.services]
        with TestClient(create_app(runtime)) as client:
            assert login(client, "alice", "demo password").status_code == 303
            services = client.get("/services").text
            assert "not in the catalog" not in services and "platform" in services
            # The public page shows public names: no internal description, no team groups.
            public = client.get("/status").text
            assert "Public API" in public and "api.example.com" not in public
            assert "Load balancers in front of every region" not in public
            assert "<h3>platform</h3>" not in public and ">platform<" not in public
    finally:
        runtime.close()


def test_a_server_started_before_the_demo_shows_its_catalog_without_a_restart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The server starts on an empty data dir (no config file), `warroom demo` runs beside
    it, and the next pages show the demo's service catalog: no restart."""
    from warroom.core.settings import Settings

    data = tmp_path / "data"
    monkeypatch.setenv("WARROOM_DATA_DIR", str(data))
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG", "WARROOM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runtime = Runtime.build(Settings())
    try:
        assert not runtime.config.services and runtime.awaiting_config_file
        with TestClient(create_app(runtime)) as client:
            assert client.get("/status").status_code == 200  # served before the demo
            loaded = runner.invoke(app, ["demo", "--password", "demo password", "--json"])
            assert loaded.exit_code == 0, loaded.output
            runtime._config_checked_at = 0.0  # as if a second went by
            assert login(client, "alice", "demo password").status_code == 303
            services = client.get("/services").text
            assert "not in the catalog" not in services and "platform" in services
            assert "edge-critical" in services
            assert "Public API" in client.get("/status").text
        assert [s.name for s in runtime.config.services][:2] == ["public-api", "edge-lb"]
        assert "checkout" in runtime.incidents.known_services  # declare checks the catalog
        assert not runtime.awaiting_config_file
    finally:
        runtime.close()
