"""Runbook schema, built-ins, loading and matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from warroom.workbench.runbooks import (
    builtin_runbooks,
    combine,
    load_directory,
    matches,
    needs_approval,
    parse_runbook,
    render,
)

SEED_RUNBOOKS = {
    "service_down",
    "high_error_rate",
    "high_latency",
    "database_issues",
    "memory_leak",
    "security_breach",
    "third_party_outage",
    "generic_troubleshooting",  # 002: when no runbook matches
    "nexus_parallel_investigation",  # 000: step 2's parallel checklists
    "hierarchical_diagnose",  # 003: stage 2a
    "hierarchical_mitigate",  # 003: stage 2b
}


def test_the_seven_builtins_load_and_are_valid() -> None:
    loaded = {r.runbook.id: r.runbook for r in builtin_runbooks()}
    assert set(loaded) == SEED_RUNBOOKS
    for runbook in loaded.values():
        assert runbook.steps and (not runbook.match.empty or runbook.match.fallback)
    # Machine-checkable first steps run by themselves.
    for rid in ("service_down", "high_error_rate", "high_latency", "memory_leak"):
        assert loaded[rid].steps[0].automatic, rid
    # Dangerous steps need a second person.
    rollback = loaded["high_error_rate"].step("rollback")
    assert needs_approval(rollback)
    assert needs_approval(loaded["security_breach"].step("block-ips"))
    assert not needs_approval(loaded["service_down"].step("restart"))
    assert loaded["security_breach"].step(1).kind == "approval"


def test_each_call_gets_its_own_builtins() -> None:
    """They are parsed once per process; what one caller changes, the next never sees."""
    first = {r.runbook.id: r.runbook for r in builtin_runbooks()}
    first["high_error_rate"].match.labels["changed"] = "by a caller"
    first["service_down"].steps[0].headers["X-Changed"] = "by a caller"  # type: ignore[union-attr]
    again = {r.runbook.id: r.runbook for r in builtin_runbooks()}
    assert "changed" not in again["high_error_rate"].match.labels
    assert "X-Changed" not in again["service_down"].steps[0].headers  # type: ignore[union-attr]
    assert again["service_down"] is not first["service_down"]


def test_step_by_number_or_id() -> None:
    runbook = next(r.runbook for r in builtin_runbooks() if r.runbook.id == "service_down")
    assert runbook.step("1").id == "health-endpoint"
    assert runbook.step("restart").kind == "mitigation"
    with pytest.raises(KeyError):
        runbook.step("99")


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"id": "x", "title": "X", "steps": []}, "steps", "at least 1"),
        (
            {"id": "x", "title": "X", "steps": [{"id": "a", "kind": "shell", "title": "t"}]},
            "steps.0",
            "",
        ),
        (
            {
                "id": "x",
                "title": "X",
                "steps": [{"id": "a", "kind": "manual", "title": "t", "automatic": True}],
            },
            "steps.0.manual",
            "cannot be automatic",
        ),
        (
            {
                "id": "x",
                "title": "X",
                "steps": [{"id": "a", "kind": "mitigation", "title": "t", "action": "pray"}],
            },
            "steps.0.mitigation.action",
            "",
        ),
        (
            {
                "id": "x",
                "title": "X",
                "steps": [
                    {"id": "a", "kind": "manual", "title": "t"},
                    {"id": "a", "kind": "manual", "title": "u"},
                ],
            },
            "(root)",
            "duplicate step id",
        ),
        (
            {"id": "x", "title": "X", "steps": [{"id": "a", "kind": "command", "title": "t"}]},
            "steps.0.command.command",
            "required",
        ),
    ],
)
def test_invalid_runbooks_name_the_bad_field(data: dict, path: str, message: str) -> None:
    runbook, problems = parse_runbook(data, "test.yaml")
    assert runbook is None
    assert problems
    assert any(p.path.startswith(path) and message in p.message for p in problems), problems


def test_directory_loading_overrides_and_reports(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        "id: service_down\ntitle: Our own\nsteps:\n  - {id: a, kind: manual, title: Look}\n"
        "---\nid: deploy_check\ntitle: Deploy check\nmatch: {services: [payments]}\n"
        "steps:\n  - {id: smoke, kind: command, title: Smoke, command: ./smoke.sh, "
        "automatic: true, timeout: 5}\n"
    )
    (tmp_path / "bad.yml").write_text("id: [unclosed\n")
    loaded, problems = load_directory(tmp_path)
    assert [p.source.endswith("bad.yml") for p in problems] == [True]
    catalog, more = combine(builtin_runbooks(), loaded)
    assert not more
    assert catalog["service_down"].runbook.title == "Our own"
    assert not catalog["service_down"].builtin
    assert "deploy_check" in catalog


@pytest.mark.parametrize(
    ("match", "incident_type", "services", "labels", "expected"),
    [
        ({"types": ["service_outage"]}, "service_outage", [], {}, True),
        ({"types": ["service_outage"]}, "data_loss", [], {}, False),
        ({"services": ["payments"]}, "data_loss", ["payments", "web"], {}, True),
        ({"services": ["payments"]}, "data_loss", ["web"], {}, False),
        ({"labels": {"alertname": "*Error*"}}, "x", [], {"alertname": "HighErrorRate"}, True),
        ({"labels": {"alertname": "*Error*"}}, "x", [], {"alertname": "HighLatency"}, False),
        ({"labels": {"alertname": "*Error*"}}, "x", [], {}, False),
        (
            {"types": ["service_outage"], "services": ["payments"]},
            "service_outage",
            ["web"],
            {},
            False,
        ),
        ({}, "service_outage", ["payments"], {"a": "b"}, False),  # empty: on request only
    ],
)
def test_matching(
    match: dict, incident_type: str, services: list[str], labels: dict, expected: bool
) -> None:
    runbook, problems = parse_runbook(
        {
            "id": "r",
            "title": "R",
            "match": match,
            "steps": [{"id": "a", "kind": "manual", "title": "t"}],
        },
        "t",
    )
    assert runbook is not None, problems
    assert (
        matches(runbook, incident_type=incident_type, services=services, labels=labels) is expected
    )


def test_render_keeps_unknown_variables() -> None:
    assert render("curl ${health_url} # ${nope}", {"health_url": "http://x"}) == (
        "curl http://x # ${nope}"
    )
