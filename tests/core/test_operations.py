"""Operations: audit log, backup/restore, redacted config, per-token rate limits."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import Api
from tests.support.cli import use_local_database
from warroom.api.app import create_app
from warroom.api.limits import TokenBuckets
from warroom.cli.main import app as cli
from warroom.core.audit import redact
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

runner = CliRunner()


def test_token_actions_are_audited_and_admin_only(admin_api: Api, api: Api) -> None:
    created = admin_api.ok("POST", "/api/v1/tokens", json={"name": "bot", "scopes": ["viewer"]})
    admin_api.ok("DELETE", f"/api/v1/tokens/{created['id']}")
    entries = admin_api.ok("GET", "/api/v1/audit")["items"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("token.revoke", "token:root"),
        ("token.create", "token:root"),
    ]
    assert entries[1]["details"] == {"name": "bot", "scopes": ["viewer"], "kind": "token"}
    assert created["token"] not in json.dumps(entries)
    assert api.get("/api/v1/audit")[0] == 403


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"url": "mailto://bob:hunter2@example.com"}, {"url": "mailto://***@example.com"}),
        ({"url": "tgram://123456:ABCDEF/chat"}, {"url": "tgram://123456:ABCDEF/***"}),
        ({"api_key": "k-123", "name": "x"}, {"api_key": "***", "name": "x"}),
        ({"nested": [{"password": "p"}]}, {"nested": [{"password": "***"}]}),
        ("token wr_abcdefghijkl used", "token wr_*** used"),
    ],
)
def test_redact(value: Any, expected: Any) -> None:
    assert redact(value) == expected


def _ok(*args: str) -> Any:
    result = runner.invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_backup_and_restore_round_trip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    use_local_database(monkeypatch, tmp_path, database_url)
    kept = _ok("declare", "Kept", "-s", "SEV3")["id"]
    backup_file = tmp_path / "backups" / "warroom.bak"
    assert _ok("db", "backup", str(backup_file))["bytes"] > 0
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"
    assert runner.invoke(cli, ["db", "backup", str(backup_file)]).exit_code == 2  # no overwrite
    _ok("declare", "After the backup", "-s", "SEV3")
    refused = runner.invoke(cli, ["db", "restore", str(backup_file)])
    assert refused.exit_code == 2 and "--yes" in refused.output
    _ok("db", "restore", str(backup_file), "--yes")
    titles = [i["title"] for i in _ok("list")["items"]]
    assert titles == ["Kept"]
    assert _ok("show", kept)["title"] == "Kept"


def test_backup_is_owner_only_from_its_first_byte(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """The backup file (and so SQLite's journal beside it, which copies its mode) is never
    readable by others, not even while it is being written."""
    use_local_database(monkeypatch, tmp_path, database_url)
    _ok("declare", "Secret-ish", "-s", "SEV3")
    target = tmp_path / "backups" / "warroom.bak"
    seen: list[int] = []
    real_connect = sqlite3.connect

    def watching_connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if Path(str(database)) == target:
            seen.append(target.stat().st_mode & 0o777 if target.exists() else -1)
        return real_connect(database, *args, **kwargs)

    fake_pg_dump = tmp_path / "bin" / "pg_dump"
    fake_pg_dump.parent.mkdir()
    real_pg_dump = shutil.which("pg_dump")
    # A pg_dump that reports the mode of the file it is to write, then runs the real one.
    fake_pg_dump.write_text(
        "#!/bin/sh\n"
        'for a; do [ "$prev" = --file ] && stat -c %a "$a" >> "$SEEN"; prev=$a; done\n'
        f'exec {real_pg_dump or "false"} "$@"\n'
    )
    fake_pg_dump.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_pg_dump.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("SEEN", str(tmp_path / "seen"))
    monkeypatch.setattr(sqlite3, "connect", watching_connect)
    old_umask = os.umask(0o022)
    try:
        _ok("db", "backup", str(target))
    finally:
        os.umask(old_umask)
    if database_url.startswith("sqlite"):
        assert seen == [0o600]
    else:
        assert (tmp_path / "seen").read_text().split() == ["600"]
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_failed_backup_leaves_no_file_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_local_database(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    _ok("declare", "Kept", "-s", "SEV3")
    target = tmp_path / "warroom.bak"
    real_connect = sqlite3.connect

    def full_disk(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if Path(str(database)) == target:
            raise sqlite3.OperationalError("database or disk is full")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", full_disk)
    assert runner.invoke(cli, ["db", "backup", str(target)]).exit_code != 0
    assert not target.exists()  # so the next try is not refused as "exists"


def test_restore_refuses_a_file_that_is_not_a_backup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    use_local_database(monkeypatch, tmp_path, database_url)
    _ok("declare", "Still here", "-s", "SEV3")
    junk = tmp_path / "junk.bak"
    junk.write_text("not a backup")
    result = runner.invoke(cli, ["db", "restore", str(junk), "--yes"])
    assert result.exit_code == 2 and "not a" in result.output
    assert [i["title"] for i in _ok("list")["items"]] == ["Still here"]


def test_config_show_redacts_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_local_database(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("WARROOM_DATABASE_URL", "postgresql://warroom:s3cret@db.internal/warroom")
    monkeypatch.setenv("WARROOM_ADMIN_TOKEN", "wr_supersecretvalue123")
    result = runner.invoke(cli, ["config", "show", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output and "supersecretvalue" not in result.output
    data = json.loads(result.stdout)
    assert data["settings"]["admin_token"] == "***"
    assert data["policy"]["name"] == "default"


def test_token_buckets_refill() -> None:
    buckets = TokenBuckets(rate=2, burst=2)
    assert buckets.take("t", now=0) == 0 and buckets.take("t", now=0) == 0
    assert buckets.take("t", now=0) == pytest.approx(0.5)
    assert buckets.take("other", now=0) == 0
    assert buckets.take("t", now=1) == 0


def test_per_token_rate_limit_answers_429_with_retry_after(
    settings: Settings, runtime: Runtime, make_token: Callable[..., str]
) -> None:
    limited = copy.copy(runtime)
    limited.settings = settings.model_copy(update={"token_rate_limit": 1, "token_rate_burst": 2})
    token = make_token("viewer")
    with TestClient(create_app(limited)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        codes = [client.get("/api/v1/incidents", headers=headers).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        reply = client.get("/api/v1/incidents", headers=headers)
        assert reply.status_code == 429 and int(reply.headers["retry-after"]) >= 1
        assert reply.json()["error"]["code"] == "rate_limited"
