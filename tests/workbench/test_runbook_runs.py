"""Runbook runs through the API: safety, approvals, timeline, automatic runs by the worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.receiver import http_receiver
from tests.workbench.conftest import Bench
from tests.workbench.prometheus import fake_prometheus

OPS = """
id: ops
title: Payments ops
match: {services: [payments]}
steps:
  - id: hello
    kind: command
    title: Say hello
    command: 'echo hello $REGION $SECRET from ${service}'
    env_allow: [REGION]
    env: {API_KEY: not-for-viewers}
    automatic: true
    timeout: 10
  - {id: rollback, kind: mitigation, action: rollback, title: Roll back payments}
  - {id: sign-off, kind: approval, title: Lead signs off}
  - {id: look, kind: manual, title: Look at the dashboards}
---
id: other
title: Not allow-listed
steps:
  - {id: cmd, kind: command, title: A command, command: 'echo nope'}
"""


def _config(tmp_path: Path, **runbooks: Any) -> dict[str, Any]:
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    (folder / "ops.yaml").write_text(OPS)
    return {
        "services": [
            {
                "name": "payments",
                "rollback_command": "echo rolled back payments",
                "health_checks": runbooks.pop("health_checks", []),
            }
        ],
        "runbooks": {
            "dir": str(folder),
            "command_executor": {"enabled": True, "allow_runbooks": ["ops"]},
            **runbooks,
        },
    }


def _declare(api: Any, **extra: Any) -> str:
    body = {"title": "Payments failing", "severity": "SEV2", "services": ["payments"], **extra}
    incident: str = api.ok("POST", "/api/v1/incidents", json=body)["id"]
    return incident


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGION", "eu-west")
    monkeypatch.setenv("SECRET", "do-not-leak")


def test_command_step_runs_with_allow_listed_env(
    bench: Callable[..., Bench], tmp_path: Path, environ: None
) -> None:
    wb = bench(_config(tmp_path, auto_run=False))
    alice = wb.as_("alice")
    incident = _declare(alice)
    result = alice.ok("POST", f"/api/v1/incidents/{incident}/runbooks/ops/run", json={"step": "1"})[
        "results"
    ][0]
    assert result["status"] == "passed"
    assert "hello eu-west from payments" in result["output"]
    (ran,) = wb.events(incident, "runbook_step_ran")
    assert ran["actor"] == "token:alice"
    assert ran["data"]["runbook"] == "ops"
    assert ran["data"]["kind"] == "command"
    assert ran["data"]["by"] == "token:alice"
    assert "do-not-leak" not in str(ran)


def test_commands_need_the_executor_enabled_and_the_runbook_allow_listed(
    bench: Callable[..., Bench], tmp_path: Path
) -> None:
    config = _config(tmp_path, auto_run=False)
    wb = bench(config)
    alice = wb.as_("alice")
    incident = _declare(alice)
    status, body = alice.post(
        f"/api/v1/incidents/{incident}/runbooks/other/run", json={"step": "1"}
    )
    assert status == 403
    assert body["error"]["code"] == "executor_disabled"
    assert "allow_runbooks" in body["error"]["message"]
    assert wb.events(incident, "runbook_step_ran") == []

    config["runbooks"]["command_executor"] = {"enabled": False, "allow_runbooks": ["ops"]}
    disabled = bench(config)
    bob = disabled.as_("bob")
    status, body = bob.post(
        f"/api/v1/incidents/{incident}/runbooks/ops/run", json={"step": "hello"}
    )
    assert status == 403
    assert "disabled" in body["error"]["message"]


def test_viewers_cannot_run_steps(bench: Callable[..., Bench], tmp_path: Path) -> None:
    wb = bench(_config(tmp_path, auto_run=False))
    incident = _declare(wb.as_("alice"))
    viewer = wb.as_("watcher", "viewer")
    status, _ = viewer.post(f"/api/v1/incidents/{incident}/runbooks/ops/run", json={"step": "4"})
    assert status == 403
    shown = viewer.ok("GET", "/api/v1/runbooks/ops")
    assert shown["steps"][1]["needs_approval"] is True
    assert shown["steps"][0]["env"] == {"API_KEY": "***"}


def test_dangerous_step_needs_a_second_person(bench: Callable[..., Bench], tmp_path: Path) -> None:
    wb = bench(_config(tmp_path, auto_run=False))
    alice, bob = wb.as_("alice"), wb.as_("bob")
    incident = _declare(alice)
    run = f"/api/v1/incidents/{incident}/runbooks/ops/run"
    approve = f"/api/v1/incidents/{incident}/runbooks/ops/approve"

    first = alice.ok("POST", run, json={"step": "rollback"})["results"][0]
    assert first["status"] == "awaiting_approval"
    assert wb.events(incident, "mitigation_applied") == []
    (requested,) = wb.events(incident, "approval_requested")
    assert requested["data"]["requested_by"] == "token:alice"

    status, body = alice.post(approve, json={"step": "rollback"})
    assert status == 403
    assert body["error"]["code"] == "self_approval"
    assert wb.events(incident, "approval_granted") == []

    bob.ok("POST", approve, json={"step": "2", "note": "go"})
    (granted,) = wb.events(incident, "approval_granted")
    assert granted["actor"] == "token:bob"
    assert granted["data"]["approved_by"] == "token:bob"

    done = alice.ok("POST", run, json={"step": "rollback"})["results"][0]
    assert done["status"] == "passed"
    assert done["approved_by"] == "token:bob"
    assert "rolled back payments" in done["output"]
    (mitigation,) = wb.events(incident, "mitigation_applied")
    assert mitigation["data"]["action"] == "rollback"
    assert mitigation["data"]["outcome"] == "succeeded"

    # The approval was used up: the next rollback needs a new one.
    again = alice.ok("POST", run, json={"step": "rollback"})["results"][0]
    assert again["status"] == "awaiting_approval"


def test_approval_step_and_manual_step(bench: Callable[..., Bench], tmp_path: Path) -> None:
    wb = bench(_config(tmp_path, auto_run=False))
    alice, carol = wb.as_("alice"), wb.as_("carol")
    incident = _declare(alice)
    run = f"/api/v1/incidents/{incident}/runbooks/ops/run"
    assert alice.ok("POST", run, json={"step": "3"})["results"][0]["status"] == (
        "awaiting_approval"
    )
    carol.ok("POST", f"/api/v1/incidents/{incident}/runbooks/ops/approve", json={"step": "3"})
    assert alice.ok("POST", run, json={"step": "3"})["results"][0]["status"] == "approved"
    manual = alice.ok("POST", run, json={"step": "4", "note": "p99 flat"})["results"][0]
    assert manual["status"] == "done"
    ran = {e["data"]["step"]: e for e in wb.events(incident, "runbook_step_ran")}
    assert ran["sign-off"]["data"]["status"] == "approved"
    assert ran["sign-off"]["actor"] == "token:carol"
    assert ran["look"]["data"]["note"] == "p99 flat"


def test_unknown_runbook_and_step(bench: Callable[..., Bench], tmp_path: Path) -> None:
    wb = bench(_config(tmp_path, auto_run=False))
    alice = wb.as_("alice")
    incident = _declare(alice)
    assert alice.post(f"/api/v1/incidents/{incident}/runbooks/nope/run", json={})[0] == 404
    assert (
        alice.post(f"/api/v1/incidents/{incident}/runbooks/ops/run", json={"step": "9"})[0] == 404
    )
    assert (
        alice.post(f"/api/v1/incidents/{incident}/runbooks/ops/approve", json={"step": "4"})[0]
        == 422
    )


def test_worker_runs_automatic_steps_of_matching_runbooks(
    bench: Callable[..., Bench], tmp_path: Path, environ: None
) -> None:
    with http_receiver() as receiver, fake_prometheus() as prom:
        query = (
            'sum(rate(http_requests_total{service="payments",code=~"5.."}[5m])) / '
            'sum(rate(http_requests_total{service="payments"}[5m]))'
        )
        prom.set(query, current=0.2, baseline=0.01)
        config = _config(
            tmp_path,
            prometheus_url=prom.url,
            health_checks=[{"url": receiver.url + "/health"}],
        )
        wb = bench(config)
        alice = wb.as_("alice")
        incident = _declare(alice, type="service_outage", labels={"alertname": "HighErrorRate5xx"})
        matching = {
            r["id"] for r in alice.ok("GET", f"/api/v1/incidents/{incident}/runbooks")["items"]
        }
        assert matching == {"ops", "service_down", "high_error_rate"}
        wb.work()
        ran = {
            (e["data"]["runbook"], e["data"]["step"]): e
            for e in wb.events(incident, "runbook_step_ran")
        }
        assert set(ran) == {
            ("ops", "hello"),
            ("service_down", "health-endpoint"),
            ("high_error_rate", "error-ratio"),
        }
        assert all(e["actor"] == "warroom" and e["data"]["automatic"] for e in ran.values())
        assert ran[("service_down", "health-endpoint")]["data"]["status"] == "passed"
        assert ran[("ops", "hello")]["data"]["status"] == "passed"
        metric = ran[("high_error_rate", "error-ratio")]["data"]
        assert metric["status"] == "failed"
        assert metric["details"]["value"] == pytest.approx(0.2)
        assert [r.path for r in receiver.requests] == ["/health"]
        # Exactly once: running the worker again runs nothing new.
        wb.work()
        assert len(wb.events(incident, "runbook_step_ran")) == 3


def test_automatic_steps_that_cannot_run_are_skipped_and_say_why(
    bench: Callable[..., Bench], tmp_path: Path
) -> None:
    config = _config(tmp_path)
    config["runbooks"]["command_executor"] = {"enabled": False}
    wb = bench(config)
    alice = wb.as_("alice")
    # Nothing can run: no effect is planned and the timeline stays quiet.
    quiet = _declare(alice, type="service_outage")
    wb.work()
    assert wb.events(quiet, "runbook_step_ran") == []
    # A runbook with one runnable automatic step reports the others as skipped, with why.
    with fake_prometheus() as prom:
        config["runbooks"]["prometheus_url"] = prom.url
        (tmp_path / "runbooks" / "mixed.yaml").write_text(MIXED)
        wb = bench(config)
        prom.set("up", 1)
        incident = _declare(wb.as_("alice"), type="data_loss")
        wb.work()
    ran = {e["data"]["step"]: e["data"] for e in wb.events(incident, "runbook_step_ran")}
    assert ran["up"]["status"] == "passed"
    assert ran["cmd"]["status"] == "skipped"
    assert "disabled" in ran["cmd"]["output"]
    assert ran["probe"]["status"] == "skipped"
    assert "health_url" in ran["probe"]["output"]


MIXED = """
id: mixed
title: Mixed
match: {types: [data_loss]}
steps:
  - {id: up, kind: metric, title: Up, query: up, op: ">=", threshold: 1, automatic: true}
  - {id: cmd, kind: command, title: Cmd, command: "true", automatic: true}
  - {id: probe, kind: http, title: Probe, url: "${health_url}", automatic: true}
"""
