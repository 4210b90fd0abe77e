"""The resolution message to stakeholders and the status page, and the incident report."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.comms.conftest import Env
from tests.support.receiver import http_receiver
from warroom.cli.main import app
from warroom.core.auth import SYSTEM
from warroom.incidents.model import Event

CHECKLIST = {
    item: {"confirmed": True}
    for item in (
        "issue_gone",
        "error_rates_baseline",
        "users_can_use_feature",
        "monitoring_stable",
        "stakeholders_notified",
    )
}


def _work_incident(env: Env, incident: str) -> None:
    env.api.ok("POST", f"/api/v1/incidents/{incident}/acknowledge")
    env.api.ok(
        "POST", f"/api/v1/incidents/{incident}/roles", json={"role": "commander", "person": "carol"}
    )
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={
            "status": "identified",
            "impact": "30% of card payments fail",
            "action": "Renewing the certificate",
            "cause": "An expired TLS certificate on the card gateway",
            "public_impact": "Some card payments fail",
        },
    )
    env.runtime.clock.advance(timedelta(minutes=20))  # type: ignore[attr-defined]
    env.runtime.incidents.append_events(
        SYSTEM,
        incident,
        [
            Event(
                "runbook_step_ran",
                "dave",
                env.runtime.clock.now(),
                {"runbook": "high_error_rate", "step": "Check recent deploys", "status": "ok"},
            ),
            Event(
                "mitigation_applied",
                "dave",
                env.runtime.clock.now(),
                {"action": "Renewed the <gateway> certificate", "outcome": "errors at baseline"},
            ),
        ],
    )
    env.api.ok("POST", f"/api/v1/incidents/{incident}/status", json={"status": "monitoring"})
    env.runtime.clock.advance(timedelta(minutes=30))  # type: ignore[attr-defined]


def test_resolution_reaches_stakeholders_and_the_status_page(
    make_env: Callable[..., Env],
) -> None:
    with http_receiver() as ops, http_receiver() as customers:
        env = make_env(
            {
                "stakeholders": [
                    {"name": "ops", "urls": [ops.json_url()], "updates": False},
                    {"name": "customers", "urls": [customers.json_url()], "format": "public"},
                ]
            }
        )
        incident = env.declare(severity="SEV2")
        _work_incident(env, incident)
        env.work()
        assert ops.requests == [] and len(customers.requests) == 1  # ops: resolution only
        env.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/resolve",
            json={"summary": "Renewed the certificate", "checklist": CHECKLIST},
        )
        resolved_at = env.runtime.clock.now()
        env.work()
        env.work()
        [message] = ops.wait_for(1)
        customer_messages = customers.wait_for(2)
    text = message.json()["message"]
    assert f"RESOLVED: {incident} (SEV2) Checkout failing" in text
    assert "Duration: 50m" in text
    assert "What fixed it: Renewed the certificate" in text
    assert "Root cause (brief): An expired TLS certificate" in text
    due = (resolved_at + timedelta(hours=48)).strftime("%Y-%m-%d %H:%M UTC")
    # The post-mortem package schedules it at resolve (owner: the commander).
    assert f"Post-mortem: scheduled, due {due} (owner carol)" in text
    public_text = customer_messages[1].json()["message"]
    assert public_text.startswith("This incident has been resolved; Payments API is operating")
    assert "certificate" not in public_text
    summary = env.public.ok("GET", "/status/api/v2/summary.json")
    assert summary["incidents"] == [] and summary["status"]["indicator"] == "none"
    [public_incident] = env.public.ok("GET", "/status/api/v2/incidents.json")["incidents"]
    assert public_incident["status"] == "resolved" and public_incident["resolved_at"]
    events = env.api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    assert [e["type"] for e in events].count("resolution_message_sent") == 1


def test_report_markdown_and_html(make_env: Callable[..., Env], settings: object) -> None:
    env = make_env()
    incident = env.declare(
        severity="SEV2", title="Checkout <b>failing</b>", impact={"users_affected": 1200}
    )
    _work_incident(env, incident)
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": "Renewed the certificate", "checklist": CHECKLIST},
    )
    md = env.api.ok("POST", f"/api/v1/incidents/{incident}/report")
    path = Path(md["path"])
    assert path.parent == (env.runtime.settings.data_dir / "reports").resolve()
    assert path.name.startswith(f"incident-{incident}-") and path.suffix == ".md"
    text = path.read_text()
    assert text == md["content"]
    for heading in (
        "## MTTR breakdown",
        "## Summary",
        "## Timeline",
        "## Customer Impact",
        "## Root Cause",
        "## Mitigation",
        "## Metrics",
        "## Runbooks Used",
        "## Responders",
    ):
        assert heading in text
    assert "**Severity:** SEV2 (High)" in text and "**Duration:** 50m" in text
    assert "| Total time to resolve | 50m |" in text
    assert "| Mitigation (acknowledged → mitigated) | 20m |" in text
    assert "| Resolution (mitigated → resolved) | 30m |" in text
    assert "30% of card payments fail" in text and "An expired TLS certificate" in text
    assert "Renewed the \\<gateway\\> certificate → errors at baseline" in text
    assert "high\\_error\\_rate: Check recent deploys (ok)" in text
    assert "- carol (commander)" in text and "- token:alice (acknowledged)" in text
    assert "Users affected: 1200" in text
    assert "<b>" not in text  # user text is inert in Markdown too
    html = env.api.ok("POST", f"/api/v1/incidents/{incident}/report", params={"format": "html"})
    assert html["path"].endswith(".html")
    assert "Checkout &lt;b&gt;failing&lt;/b&gt;" in html["content"] and "<b>" not in html["content"]
    assert env.viewer.post(f"/api/v1/incidents/{incident}/report")[0] == 403
    assert env.api.post(f"/api/v1/incidents/{incident}/report", params={"format": "pdf"})[0] == 422


def test_report_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    monkeypatch.setenv("WARROOM_ACTOR", "alice")
    for name in ("WARROOM_SERVER", "WARROOM_TOKEN", "WARROOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    incident = json.loads(
        runner.invoke(app, ["declare", "Search slow", "-s", "SEV3", "--json"]).stdout
    )["id"]
    result = runner.invoke(app, ["report", incident, "--format", "html"])
    assert result.exit_code == 0, result.output
    reports = list((tmp_path / "data" / "reports").iterdir())
    assert len(reports) == 1 and reports[0].suffix == ".html"
    assert "(still open)" in reports[0].read_text()
    assert runner.invoke(app, ["report", incident, "--format", "pdf"]).exit_code == 2
    assert runner.invoke(app, ["report", "INC-20000101-999"]).exit_code == 2
