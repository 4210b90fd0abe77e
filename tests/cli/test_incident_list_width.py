"""`warroom list` reads at 80 columns: ids whole, the owner (commander) shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.test_cli import wr, wr_json
from tests.support.cli import use_local_database


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def test_list_fits_80_columns_with_whole_ids(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long_title = "EU region: the public API returns 503 for every request through the edge"
    first = wr_json("declare", long_title, "-s", "SEV1", "--service", "public-api")["id"]
    second = wr_json("declare", "Search slow", "-s", "SEV3", "--service", "search")["id"]
    wr_json("assign", first, "commander", "alice")
    output = wr("list").output
    lines = output.splitlines()
    assert all(len(line) <= 80 for line in lines), output
    for incident in (first, second):
        assert re.search(rf"^\s*{incident}\s", output, re.MULTILINE), output
    row = next(line for line in lines if first in line)
    assert "alice" in row and "SEV1" in row
