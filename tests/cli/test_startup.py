"""`warroom --help` lists every plug-in's commands without importing any plug-in's code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.core.plugins import load_plugins

PROBE = """
import json, sys
from typer.testing import CliRunner
from warroom.cli.main import app
result = CliRunner().invoke(app, ["--help"], terminal_width=200)
LIBRARIES = ("httpx", "fastapi", "sqlalchemy", "argon2")
PARTS = ("service", "api", "effects", "tables")
heavy = sorted(
    m for m in sys.modules
    if m in LIBRARIES or (m.count(".") == 2 and m.rsplit(".", 1)[-1] in PARTS)
)
print(json.dumps({"code": result.exit_code, "output": result.output, "heavy": heavy}))
"""


def test_help_lists_plugin_commands_without_importing_them(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    found = json.loads(done.stdout)
    assert found["code"] == 0
    for plugin in load_plugins():
        for name in plugin.cli_commands:
            assert f" {name} " in found["output"]
    assert found["heavy"] == []


def test_a_plugin_command_runs_and_a_typo_gets_a_suggestion() -> None:
    runner = CliRunner()
    assert "Silences" in runner.invoke(app, ["silence", "--help"]).output
    typo = runner.invoke(app, ["silense"])
    assert typo.exit_code == 2 and "silence" in typo.output
