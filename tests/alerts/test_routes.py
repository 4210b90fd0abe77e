"""Routing rules managed through the API and CLI: validated, audited, durable, tried before the
config file's rules, and applied by intake at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.alerts.helpers import am_alert, am_payload, create_integration, post_am
from tests.alerts.test_other_sources import ROUTES_CONFIG
from tests.conftest import Api
from tests.support.cli import use_local_database, wr, wr_json
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

CHECKOUT = {
    "name": "checkout-pages",
    "matchers": ["alertname=~Checkout.*"],
    "service": "payments",
    "severity": "SEV1",
    "action": "declare",
}


def test_a_rule_added_by_api_routes_the_next_alert(api: Api, admin_api: Api) -> None:
    key = create_integration(admin_api, "prometheus", "alertmanager")
    before = api.ok("POST", "/api/v1/alerts/routes/test", json={"labels": {"alertname": "X"}})
    assert before["route"] == "default"

    added = admin_api.ok("POST", "/api/v1/routes", json=CHECKOUT)
    assert (added["name"], added["position"], added["source"]) == ("checkout-pages", 1, "api")
    assert added["created_by"] == "token:root"

    alert = am_alert("CheckoutErrors", service="unlabelled", severity="warning")
    status, body = post_am(api, key, am_payload([alert], group_key="{}:{checkout}"))
    assert status == 202, body
    incident = api.ok("GET", f"/api/v1/incidents/{body['incidents'][0]}")
    assert (incident["severity"], incident["services"]) == ("SEV1", ["payments"])
    [stored] = api.ok("GET", "/api/v1/alerts")["items"]
    assert stored["route"] == "checkout-pages"

    audit = admin_api.ok("GET", "/api/v1/audit?action=alert_route.added")["items"]
    assert audit[0]["target"] == "checkout-pages" and audit[0]["actor"] == "token:root"

    removed = admin_api.ok("DELETE", "/api/v1/routes/checkout-pages")
    assert removed["name"] == "checkout-pages"
    assert api.ok("GET", "/api/v1/routes")["items"] == []
    after = api.ok(
        "POST", "/api/v1/alerts/routes/test", json={"labels": {"alertname": "CheckoutX"}}
    )
    assert after["route"] == "default"
    assert admin_api.ok("GET", "/api/v1/audit?action=alert_route.removed")["items"]


def test_positions_order_the_rules(admin_api: Api) -> None:
    for name in ("first", "second"):
        admin_api.ok("POST", "/api/v1/routes", json={"name": name, "matchers": ["team=db"]})
    admin_api.ok(
        "POST", "/api/v1/routes", json={"name": "top", "matchers": ["team=db"], "position": 1}
    )
    names = [r["name"] for r in admin_api.ok("GET", "/api/v1/routes")["items"]]
    assert names == ["top", "first", "second"]
    got = admin_api.ok("POST", "/api/v1/alerts/routes/test", json={"labels": {"team": "db"}})
    assert got["route"] == "top"
    admin_api.ok("DELETE", "/api/v1/routes/first")
    positions = [(r["name"], r["position"]) for r in admin_api.ok("GET", "/api/v1/routes")["items"]]
    assert positions == [("top", 1), ("second", 2)]


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({**CHECKOUT, "severity": "SEV9"}, 422),  # not a policy severity
        ({**CHECKOUT, "severity_map": {"critical": "urgent"}}, 422),
        ({**CHECKOUT, "matchers": ["service=~(unclosed"]}, 422),
        ({**CHECKOUT, "matchers": []}, 422),
        ({**CHECKOUT, "name": "Not A Slug"}, 422),
        ({**CHECKOUT, "action": "page"}, 422),
        ({**CHECKOUT, "colour": "red"}, 422),
    ],
)
def test_bad_rules_are_refused_and_change_nothing(
    admin_api: Api, rule: dict[str, object], status: int
) -> None:
    got, body = admin_api.post("/api/v1/routes", json=rule)
    assert got == status, body
    assert admin_api.ok("GET", "/api/v1/routes")["items"] == []


def test_names_are_unique_and_only_admins_change_rules(api: Api, admin_api: Api) -> None:
    admin_api.ok("POST", "/api/v1/routes", json=CHECKOUT)
    assert admin_api.post("/api/v1/routes", json=CHECKOUT)[0] == 409
    assert api.post("/api/v1/routes", json={**CHECKOUT, "name": "other"})[0] == 403
    assert api.request("DELETE", "/api/v1/routes/checkout-pages")[0] == 403
    assert admin_api.request("DELETE", "/api/v1/routes/nope")[0] == 404
    assert [r["name"] for r in api.ok("GET", "/api/v1/routes")["items"]] == ["checkout-pages"]


def test_rules_are_durable_across_restarts(
    admin_api: Api, settings: Settings, clock: FixedClock
) -> None:
    admin_api.ok("POST", "/api/v1/routes", json=CHECKOUT)
    other = Runtime.build(settings, clock=clock, run_migrations=False)
    try:
        svc = other.alerts
        decision = svc.route({"alertname": "CheckoutDown"})
        assert (decision.route, decision.severity) == ("checkout-pages", "SEV1")
    finally:
        other.close()


@pytest.fixture
def configured_api(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    runtime = Runtime.build(
        settings, clock=clock, config=parse_config(ROUTES_CONFIG), run_migrations=False
    )
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name="root", scopes=["admin"], created_by="tests", now=clock.now()
        )
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield Api(client, token)
    runtime.close()


def test_api_rules_come_before_the_config_files(configured_api: Api) -> None:
    labels = {"service": "payments", "severity": "critical"}
    test = "/api/v1/alerts/routes/test"
    assert configured_api.ok("POST", test, json={"labels": labels})["route"] == "payments-critical"
    configured_api.ok(
        "POST",
        "/api/v1/routes",
        json={"name": "payments-record", "matchers": ["service=payments"], "action": "record"},
    )
    got = configured_api.ok("POST", test, json={"labels": labels})
    assert (got["route"], got["action"]) == ("payments-record", "record")
    listed = configured_api.ok("GET", "/api/v1/routes")["items"]
    assert [(r["name"], r["source"]) for r in listed] == [
        ("payments-record", "api"),
        ("payments-critical", "config"),
        ("staging", "config"),
        ("infra", "config"),
    ]
    assert configured_api.request("DELETE", "/api/v1/routes/staging")[0] == 409
    clash = {"name": "infra", "matchers": ["team=x"]}
    assert configured_api.post("/api/v1/routes", json=clash)[0] == 409
    unknown = {"name": "x", "matchers": ["team=x"], "service": "nowhere"}
    assert configured_api.post("/api/v1/routes", json=unknown)[0] == 422


def test_cli_adds_lists_and_removes_rules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    use_local_database(monkeypatch, tmp_path, database_url)
    added = wr_json(
        "routes", "add", "db-team", "--match", "team=db", "--match", "env=prod",
        "--service", "postgres", "--map", "critical=SEV1", "--map", "warning=SEV3",
        "--action", "declare",
    )  # fmt: skip
    assert added["severity_map"] == {"critical": "SEV1", "warning": "SEV3"}
    listed = wr("routes", "list")
    assert listed.exit_code == 0 and "db-team" in listed.output and "SEV1" in listed.output
    decision = wr_json("routes", "test", "-l", "team=db,env=prod,severity=warning")
    assert (decision["route"], decision["severity"], decision["service"]) == (
        "db-team",
        "SEV3",
        "postgres",
    )
    refused = wr("routes", "add", "bad", "--match", "team=db", "--severity", "SEV9")
    assert refused.exit_code != 0 and "SEV9" in refused.output
    assert wr("routes", "remove", "db-team").exit_code == 0
    assert wr_json("routes", "list")["items"] == []
