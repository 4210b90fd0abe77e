"""What the importer tests share: the CLI against the test database, and a vendor's import
command with the instants its fixtures answer for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.cli import use_local_database
from warroom.cli.main import app as cli

runner = CliRunner()
EMAIL = "mailto://warroom:secret@smtp.example.com?to={address}"


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def run(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def import_args(vendor: str, url: str, token: str, instants: list[str], *extra: str) -> list[str]:
    """`warroom import VENDOR` against a local API, checked at the fixture's instants."""
    verify = [arg for at in instants for arg in ("--verify-at", at)]
    return [
        "import",
        vendor,
        "--api-url",
        url,
        "--token",
        token,
        "--email-url",
        EMAIL,
        *verify,
        *extra,
    ]


def show(kind: str, name: str) -> dict[str, Any]:
    result = run("oncall", kind, "show", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def listing(kind: str) -> list[dict[str, Any]]:
    result = run("oncall", kind, "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["items"]  # type: ignore[no-any-return]


def report(result: Any) -> dict[str, Any]:
    """The JSON report of an import (the verification line follows it on stdout)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[: result.stdout.rindex("}") + 1])  # type: ignore[no-any-return]
