"""A chat outage loses nothing (the incident proceeds, effects retry, the delivery log and
`warroom chat status` show the failure), `config check` validates the chat section, and the
`warroom chat` commands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.chat.conftest import ADMIN
from tests.chat.slack_server import BOT_TOKEN, SlackServer
from tests.chat.synapse import free_port
from tests.support.cli import use_local_database
from warroom.chat.listener import MatrixListener
from warroom.cli.main import app
from warroom.core import outbox, tables
from warroom.core.clock import FixedClock
from warroom.core.config import load_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.oncall.models import PersonIn
from warroom.worker import Worker

runner = CliRunner()


def _slack_section(url: str) -> dict[str, Any]:
    return {
        "severities": ["SEV1", "P2", "SEV3"],
        "slack": {
            "bot_token": BOT_TOKEN,
            "signing_secret": "s3cret",
            "api_url": url,
            "bot_token_env": None,
            "signing_secret_env": None,
        },
    }


def wr_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_chat_outage_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    # The chat server is down: its port is closed.
    down = SlackServer()
    port = down.port
    down.stop()
    config_file = tmp_path / "warroom.yaml"
    config_file.write_text(
        yaml.safe_dump({"chat": _slack_section(f"http://127.0.0.1:{port}/api/")})
    )
    use_local_database(monkeypatch, tmp_path, database_url)
    monkeypatch.setenv("WARROOM_CONFIG", str(config_file))
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, config=config_file)
    runtime = Runtime.build(
        settings, clock=clock, config=load_config(config_file), run_migrations=False
    )
    try:
        worker = Worker(runtime)
        # The incident is declared and worked on while chat is down.
        incident = runtime.incidents.declare(
            ADMIN, schemas.DeclareIn(title="Queue backlog", severity="SEV3")
        ).public_id
        worker.run_once()
        runtime.incidents.acknowledge(ADMIN, incident)
        worker.run_once()
        assert runtime.incidents.get(incident).status.value == "acknowledged"
        # The failure is in the delivery log and in `warroom chat status`; effects stay due.
        log = wr_json("chat", "deliveries", "--incident", incident)
        assert log and not log[0]["ok"] and log[0]["error"].startswith("slack conversations.create")
        status = wr_json("chat", "status")["platforms"][0]
        assert status["platform"] == "slack" and status["state"] == "failing"
        assert status["last_error"].startswith("slack conversations.create")
        with runtime.db.read() as conn:
            rows = conn.execute(
                tables.outbox.select().where(tables.outbox.c.kind.like("chat.%"))
            ).all()
        assert rows and all(r.status == outbox.FAILED for r in rows)

        # A long outage (two hours) outlasts the outbox's attempts: the work is kept, tried
        # every 15 minutes, never given up on.
        for _ in range(12):
            clock.advance(timedelta(minutes=10))
            worker.run_once()
        with runtime.db.read() as conn:
            rows = conn.execute(
                tables.outbox.select().where(tables.outbox.c.kind.like("chat.%"))
            ).all()
        assert not [r for r in rows if r.status == outbox.DEAD]
        assert len(wr_json("chat", "deliveries", "--incident", incident, "--limit", "100")) > 8

        # Chat is back: the retries open the channel and post what happened meanwhile.
        up = SlackServer(port=port)
        try:
            for _ in range(3):
                clock.advance(timedelta(minutes=5))
                worker.run_once()
            [channel] = up.state.channels
            texts = [m["text"] for m in up.state.messages[channel]]
            assert any(t.startswith("Queue backlog") or incident in t for t in texts)
            assert f"token:root acknowledged {incident}" in texts
            assert wr_json("chat", "status")["platforms"][0]["state"] == "ok"
            channels = wr_json("chat", "channels", incident)
            assert channels[0]["name"].startswith("inc-20261123-001-queue-backlog")
        finally:
            up.stop()
    finally:
        runtime.close()


def test_config_check_validates_the_chat_section(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"chat": _slack_section("https://slack.com/api/")}))
    assert runner.invoke(app, ["config", "check", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "chat": {
                    "severities": ["SEV9"],
                    "name": "inc-{nope}",
                    "archive_after": "soon",
                    "matrix": {"homeserver": "matrix.example.org", "user_id": "warroom"},
                }
            }
        )
    )
    result = runner.invoke(app, ["config", "check", str(bad), "--json"])
    assert result.exit_code == 1
    paths = {p["path"] for p in json.loads(result.stdout)["problems"]}
    assert {"chat.name", "chat.archive_after", "chat.matrix.user_id"} <= paths
    bad.write_text(
        yaml.safe_dump(
            {
                "chat": {
                    "severities": ["SEV9"],
                    "matrix": {"homeserver": "matrix.example.org", "user_id": "@w:example.org"},
                }
            }
        )
    )
    result = runner.invoke(app, ["config", "check", str(bad), "--json"])
    paths = {p["path"] for p in json.loads(result.stdout)["problems"]}
    assert paths == {"chat.severities", "chat.matrix.homeserver"}


def test_link_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    config_file = tmp_path / "warroom.yaml"
    config_file.write_text(yaml.safe_dump({"chat": _slack_section("http://127.0.0.1:9/api/")}))
    use_local_database(monkeypatch, tmp_path, database_url)
    monkeypatch.setenv("WARROOM_CONFIG", str(config_file))
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, config=config_file)
    runtime = Runtime.build(
        settings, clock=clock, config=load_config(config_file), run_migrations=False
    )
    runtime.oncall.create_person(ADMIN, PersonIn(name="alice", email="a@example.com"))
    runtime.close()
    linked = wr_json("chat", "link", "slack", "U0ALICE", "alice")
    assert linked == {"platform": "slack", "chat_user": "U0ALICE", "person": "alice"}
    assert [row["person"] for row in wr_json("chat", "links")] == ["alice"]
    unknown = runner.invoke(app, ["chat", "link", "slack", "U0BOB", "bob"])
    assert unknown.exit_code == 2 and "no person 'bob'" in unknown.output
    other = runner.invoke(app, ["chat", "link", "matrix", "@bob:x", "alice"])
    assert other.exit_code == 2 and "not configured" in other.output
    assert runner.invoke(app, ["chat", "unlink", "slack", "U0ALICE"]).exit_code == 0
    assert wr_json("chat", "links") == []
    human = runner.invoke(app, ["chat", "status"])
    assert human.exit_code == 0 and "slack" in human.output


def test_a_matrix_listener_outage_shows_in_chat_status(
    chat_runtime: Callable[[dict[str, Any]], Runtime],
) -> None:
    runtime = chat_runtime(
        {
            "matrix": {
                "homeserver": f"http://127.0.0.1:{free_port()}",  # nothing listens there
                "user_id": "@warroom:example.org",
                "access_token": "syt_never_logged",
                "access_token_env": None,
            }
        }
    )
    chat = runtime.chat
    listener = MatrixListener(chat)
    thread = threading.Thread(target=listener.run, kwargs={"timeout_ms": 0}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not chat.deliveries() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    [platform] = chat.status()["platforms"]
    assert platform["state"] == "failing"
    assert platform["last_error"] == "matrix GET /sync: ConnectError"
