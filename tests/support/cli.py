"""Running the `warroom` CLI in-process against the test database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app

runner = CliRunner()


def use_local_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    """Point the CLI at the test database as the local user alice (no server, no config)."""
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    monkeypatch.setenv("WARROOM_ACTOR", "alice")
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def wr(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def wr_json(*args: str) -> Any:
    result = wr(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
