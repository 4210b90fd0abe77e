"""Helpers for the post-mortems tests: a recorded incident with what other packages write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents.model import Event

ALL_CONFIRMED = {
    item: {"confirmed": True}
    for item in (
        "issue_gone",
        "error_rates_baseline",
        "users_can_use_feature",
        "monitoring_stable",
        "stakeholders_notified",
    )
}


def declare(api: Api, **overrides: Any) -> str:
    body = {"title": "Checkout failing", "severity": "SEV1", "services": ["payments"], **overrides}
    status, data = api.post("/api/v1/incidents", body)
    assert status == 201, data
    return str(data["id"])


def record_incident(api: Api, runtime: Runtime, clock: FixedClock, **overrides: Any) -> str:
    """Declare, work and resolve an incident with alerts, a deploy, runbook steps, mitigations."""
    body = {
        "title": "Checkout returns 500 errors",
        "severity": "SEV1",
        "services": ["payments"],
        "summary": "Card payments fail with HTTP 500 after the v2.3.1 deploy",
        "labels": {"team": "core"},
        "impact": {"users_affected": 12000, "revenue_per_hour": 5000, "customer_facing": True},
        **overrides,
    }
    incident = declare(api, **body)
    path = f"/api/v1/incidents/{incident}"
    runtime.incidents.append_events(
        SYSTEM,
        incident,
        [
            Event(
                "alert_attached",
                "warroom",
                clock.now(),
                {
                    "fingerprint": "c6f7e8d1a2b3c4d5",
                    "alertname": "HighErrorRate",
                    "labels": {"alertname": "HighErrorRate", "service": "payments"},
                    "source": "alertmanager",
                },
            ),
            Event(
                "deploy_correlated",
                "warroom",
                clock.now(),
                {"service": "payments", "kind": "deploy", "version": "v2.3.1"},
            ),
        ],
    )
    clock.advance(timedelta(minutes=4))
    api.ok("POST", f"{path}/acknowledge")
    api.ok("POST", f"{path}/roles", json={"role": "commander", "person": "carol"})
    api.ok("POST", f"{path}/roles", json={"role": "deployer", "person": "dave"})
    api.ok("POST", f"{path}/status", json={"status": "investigating"})
    runtime.incidents.append_events(
        SYSTEM,
        incident,
        [
            Event(
                "runbook_step_ran",
                "dave",
                clock.now(),
                {"runbook": "payments-5xx", "step": "check-db", "kind": "manual", "status": "ok"},
            ),
            Event(
                "mitigation_applied",
                "dave",
                clock.now(),
                {"action": "restart payments pods", "outcome": "no effect"},
            ),
        ],
    )
    clock.advance(timedelta(minutes=20))
    runtime.incidents.append_events(
        SYSTEM,
        incident,
        [
            Event(
                "mitigation_applied",
                "dave",
                clock.now(),
                {"action": "roll back payments to v2.3.0", "outcome": "success"},
            )
        ],
    )
    api.ok("POST", f"{path}/status", json={"status": "monitoring"})
    clock.advance(timedelta(minutes=36))
    api.ok(
        "POST",
        f"{path}/resolve",
        json={"summary": "rolled back to v2.3.0", "checklist": ALL_CONFIRMED},
    )
    return incident


@pytest.fixture
def make_runtime(
    tmp_path: Path, database_url: str, clock: FixedClock
) -> Iterator[Callable[[dict[str, Any]], Runtime]]:
    """A runtime with a custom config file content (e.g. a postmortems: section)."""
    built: list[Runtime] = []

    def make(config: dict[str, Any]) -> Runtime:
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url, config=None)
        runtime = Runtime.build(
            settings, clock=clock, config=parse_config(config), run_migrations=False
        )
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


def api_for(runtime: Runtime, scope: str = "responder", name: str = "alice") -> Api:
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name=name, scopes=[scope], created_by="tests", now=runtime.clock.now()
        )
    return Api(TestClient(create_app(runtime), raise_server_exceptions=False), token)


ROOT_CAUSE_PROMPT = "What in the system allowed this to happen? Describe mechanisms, not people."


def write_sections(api: Api, incident: str, **texts: str) -> dict[str, Any]:
    """Write sections of the post-mortem (keyword = title with underscores), as a person would."""
    from warroom.postmortems import draft

    path = f"/api/v1/incidents/{incident}/postmortem"
    pm = api.ok("GET", path)
    body = pm["body"]
    for key, text in (texts or {"Root_cause": "A pool limit of 10 starved payments."}).items():
        body = draft.replace_section(body, key.replace("_", " "), text)
    edited: dict[str, Any] = api.ok("PUT", path, json={"body": body, "version": pm["version"]})
    return edited
