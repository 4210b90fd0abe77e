"""`warroom metrics` against the local database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.cli import use_local_database
from warroom.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def wr(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_metrics_report_json_csv_and_charts(cli_env: Path) -> None:
    declared = wr("declare", "Checkout failing", "--severity", "SEV2", "--json")
    assert declared.exit_code == 0, declared.output
    incident = json.loads(declared.stdout)["id"]
    assert wr("ack", incident).exit_code == 0
    assert wr("resolve", incident, "-m", "rolled back", "--confirm", "all").exit_code == 0

    result = wr("metrics", "--since", "30d", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"]["incidents"] == 1
    assert data["groups"][0]["key"] == "SEV2"
    assert data["overall"]["figures"]["mttr"]["count"] == 1

    as_csv = wr("metrics", "--since", "30d", "--csv", "--by", "type")
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["group"] for r in rows] == ["service_outage", "(all)"]

    per_incident = wr("metrics", "--since", "30d", "--csv", "--incidents")
    rows = list(csv.DictReader(io.StringIO(per_incident.stdout)))
    assert rows[0]["id"] == incident
    assert rows[0]["sla_met"] == "true"

    human = wr("metrics", "--since", "30d", "--incidents")
    assert human.exit_code == 0
    assert "SEV2" in human.stdout

    svg = cli_env / "mttr.svg"
    assert wr("metrics", "chart", "mttr-trend", "-o", str(svg)).exit_code == 0
    assert svg.read_text().startswith("<svg")
    png = cli_env / "sla.png"
    assert wr("metrics", "chart", "sla-compliance", "-o", str(png)).exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "args",
    [
        ("metrics", "--by", "colour"),
        ("metrics", "--since", "last tuesday"),
        ("metrics", "--tz", "Mars/Olympus"),
        ("metrics", "chart", "pie", "-o", "x.svg"),
        ("metrics", "chart", "mttr-trend", "-o", "x.gif"),
    ],
)
def test_bad_input_exits_2(cli_env: Path, args: tuple[str, ...]) -> None:
    assert wr(*args).exit_code == 2


def test_metrics_rebuild_fills_missing_rows(cli_env: Path, database_url: str) -> None:
    from sqlalchemy import delete, func, select

    from warroom.core.db import Database
    from warroom.metrics.tables import incident_metrics

    for title in ("Checkout failing", "Search slow"):
        assert wr("declare", title, "--severity", "SEV2").exit_code == 0
    db = Database(database_url)
    try:
        with db.write() as conn:  # as an incident written before the metrics rows existed
            conn.execute(delete(incident_metrics).where(incident_metrics.c.incident_id == 1))

        result = wr("metrics", "rebuild", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"written": 1, "incidents": 2, "all": False}
        with db.read() as conn:
            count = conn.execute(select(func.count()).select_from(incident_metrics)).scalar()
        assert count == 2
        assert json.loads(wr("metrics", "rebuild", "--json").stdout)["written"] == 0
        everything = wr("metrics", "rebuild", "--all")
        assert everything.exit_code == 0
        assert "wrote 2 metrics row(s) for 2 incident(s)" in everything.stdout
    finally:
        db.dispose()
