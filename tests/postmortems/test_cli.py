"""`warroom postmortem ...`, `warroom actions ...`, `warroom similar`, `warroom patterns`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import cli_env, wr, wr_json  # noqa: F401  (fixture)


def _resolved_sev1(title: str = "Checkout failing") -> str:
    incident = str(
        wr_json("declare", title, "-s", "SEV1", "--service", "payments", "--commander", "carol")[
            "id"
        ]
    )
    wr_json("resolve", incident, "-m", "rolled back", "--confirm", "all")
    return incident


def test_postmortem_workflow_from_the_cli(
    cli_env: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    incident = _resolved_sev1()
    shown = wr_json("postmortem", "show", incident)
    assert shown["status"] == "draft" and shown["owner"] == "carol"
    human = wr("postmortem", "show", incident)
    assert human.exit_code == 0 and "Root cause" in human.output
    raw = wr("postmortem", "show", incident, "--raw")
    assert raw.output.startswith(f"# Post-mortem: {incident}")
    # $EDITOR edits the Markdown source
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path).read().replace('What in the system allowed this to happen? "
        "Describe mechanisms, not people.', 'Pool limit too low.')\n"
        "open(path, 'w').write(text)\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    edited = wr_json("postmortem", "edit", incident)
    assert "Pool limit too low." in edited["body"]
    assert edited["version"] == shown["version"] + 1
    unchanged = wr("postmortem", "edit", incident)  # editor changes nothing the second time
    assert "no changes" in unchanged.output
    source = tmp_path / "pm.md"
    source.write_text(edited["body"] + "\n## Appendix\n\nGraphs.\n")
    assert "Appendix" in wr_json("postmortem", "edit", incident, "--file", str(source))["body"]
    assert wr_json("postmortem", "edit", incident, "--category", "code")["root_cause_category"] == (
        "code"
    )
    assert wr("postmortem", "edit", incident, "--category", "gremlins").exit_code == 2
    assert wr("close", incident).exit_code == 2
    assert wr("postmortem", "publish", incident).exit_code == 2  # review first
    assert wr_json("postmortem", "submit", incident, "--reviewer", "erin")["status"] == "in_review"
    assert wr_json("postmortem", "publish", incident)["status"] == "published"
    assert wr_json("close", incident)["status"] == "closed"
    listed = wr_json("postmortem", "list", "--status", "published")["items"]
    assert [p["incident"] for p in listed] == [incident]
    out = tmp_path / "postmortems"
    result = wr_json("postmortem", "export", str(out), "--html")
    assert sorted(result["files"]) == sorted(
        [f"{incident}.md", f"{incident}.html", "index.md", "index.html"]
    )
    assert "Pool limit too low." in (out / f"{incident}.md").read_text()
    assert "<h2>Root cause</h2>" in (out / f"{incident}.html").read_text()
    runbook = wr("postmortem", "runbook", incident)
    assert runbook.exit_code == 0 and "steps:" in runbook.output


def test_actions_commands_and_beads_file(
    cli_env: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    incident = _resolved_sev1()
    first = wr_json(
        "actions",
        "add",
        incident,
        "-t",
        "Alert on pool usage",
        "--owner",
        "dave",
        "--due",
        "2020-01-01",
        "--type",
        "detect",
        "-p",
        "1",
    )
    second = wr_json("actions", "add", incident, "-t", "Canary stage", "--owner", "erin")
    assert wr("actions", "add", incident, "-t", "x", "--due", "someday").exit_code == 2
    assert wr("actions", "add", incident, "-t", "x", "--type", "blame").exit_code == 2

    def ids(*args: str) -> list[int]:
        return [i["id"] for i in wr_json("actions", "list", *args)["items"]]

    assert ids() == [first["id"], second["id"]]
    assert ids("--overdue") == [first["id"]]
    assert ids("--owner", "erin") == [second["id"]]
    assert ids("--overdue", "--owner", "erin") == []
    table = wr("actions", "list", "--overdue")
    assert table.exit_code == 0 and "Alert" in table.output and "overdue" in table.output
    assert wr_json("actions", "done", str(first["id"]))["status"] == "done"
    assert ids("--overdue") == []
    assert (
        wr_json("actions", "update", str(second["id"]), "--status", "in_progress")["status"]
        == "in_progress"
    )
    assert wr("actions", "update", "999").exit_code == 2
    beads = tmp_path / "repo" / ".beads" / "issues.jsonl"
    skipped = wr("actions", "export-beads", "--path", str(beads))
    assert skipped.exit_code == 0 and not beads.exists()  # no .beads/: skip quietly
    beads.parent.mkdir(parents=True)
    beads.write_text(
        '{"id":"bd-1","title":"mine","status":"open","priority":2,"issue_type":"task"}\n'
    )
    result = wr_json("actions", "export-beads", "--path", str(beads))
    assert result["issues"] == 3
    lines = [json.loads(line) for line in beads.read_text().splitlines()]
    assert lines[0]["id"] == "bd-1"  # other issues kept
    bug = lines[1]
    assert bug["issue_type"] == "bug" and bug["labels"] == ["incident", "sev-1"]
    tasks = lines[2:]
    assert {t["issue_type"] for t in tasks} == {"task"}
    assert all(t["dependencies"][0]["depends_on_id"] == bug["id"] for t in tasks)
    wr_json("actions", "export-beads", "--path", str(beads))  # again: replaced, not duplicated
    assert len(beads.read_text().splitlines()) == 4
    wr("actions", "delete", str(second["id"]))
    assert ids() == [first["id"]]


def test_similar_and_patterns_commands(cli_env: Path, tmp_path: Path) -> None:  # noqa: F811
    past = _resolved_sev1("Checkout failing with 500s")
    new = wr_json("declare", "Checkout failing again", "-s", "SEV2", "--service", "payments")["id"]
    data: dict[str, Any] = wr_json("similar", new)
    assert [m["incident"] for m in data["matches"]] == [past]
    human = wr("similar", new)
    assert "same service: payments" in human.output
    target = tmp_path / "docs" / "critical-patterns.md"
    wr_json("patterns", "--write", str(target))
    assert target.read_text().startswith("# Critical patterns")
