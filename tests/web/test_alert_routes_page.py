"""The alert routing rules page (/alerts/routes): everyone reads the rules in the order they
are tried (config-file ones read-only); admins add and remove rules through the alerts
package's routing service, which then routes the next alert; bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

CONFIG: dict[str, Any] = {
    "policy": "default",
    "services": [{"name": "payments"}, {"name": "search"}],
    "alert_routes": {
        "routes": [{"name": "staging", "matchers": ['env=~"staging|dev"'], "action": "record"}]
    },
}
ROOT = Principal(name="user:root", scopes=frozenset({"admin"}), kind="session")
CHECKOUT = {
    "form_id": "add-route",
    "name": "checkout-pages",
    "matchers": "alertname=~Checkout.*\nenv=prod",
    "service": "payments",
    "severity": "SEV1",
    "severity_map": "",
    "action": "declare",
    "position": "",
}


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock, config=parse_config(CONFIG), run_migrations=False)
    yield rt
    rt.close()


def names(runtime: Runtime) -> list[str]:
    return [route.rule.name for route in runtime.alerts.routing.list_routes()]


def route_of(api: Api, labels: dict[str, str]) -> dict[str, Any]:
    decided: dict[str, Any] = api.ok("POST", "/api/v1/alerts/routes/test", json={"labels": labels})
    return decided


def test_an_admin_adds_a_rule_that_routes_the_next_alert_then_removes_it(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, api: Api
) -> None:
    ada = web_as("ada", "admin")
    assert 'href="/alerts/routes"' in ada.get("/alerts").text
    page = ada.get("/alerts/routes").text
    assert "staging" in page and "config file" in page and 'action="/alerts/routes"' in page
    assert 'action="/alerts/routes/staging/remove"' not in page  # the config file's: read-only
    labels = {"alertname": "CheckoutErrors", "env": "prod", "severity": "warning"}
    assert route_of(api, labels)["route"] == "default"

    done = ada.post_form("/alerts/routes", CHECKOUT)
    assert done.status_code == 303 and done.headers["location"] == "/alerts/routes"
    page = ada.get("/alerts/routes").text
    assert "checkout-pages" in page and 'action="/alerts/routes/checkout-pages/remove"' in page
    assert names(runtime) == ["checkout-pages", "staging"]
    decided = route_of(api, labels)
    assert (decided["route"], decided["service"], decided["severity"], decided["action"]) == (
        "checkout-pages",
        "payments",
        "SEV1",
        "declare",
    )
    # a second rule on top, with a severity map read from the label
    top = {**CHECKOUT, "name": "db", "matchers": "team=db", "service": "", "severity": ""}
    top |= {"severity_map": "critical=SEV2\nwarning=SEV4", "action": "", "position": "1"}
    assert ada.post_form("/alerts/routes", top).status_code == 303
    assert names(runtime) == ["db", "checkout-pages", "staging"]
    assert route_of(api, {"team": "db", "severity": "critical"})["severity"] == "SEV2"

    removed = ada.post_form("/alerts/routes/checkout-pages/remove")
    assert removed.status_code == 303
    assert names(runtime) == ["db", "staging"]
    assert route_of(api, labels)["route"] == "default"
    # the config file's rule cannot be removed here
    refused = ada.post_form("/alerts/routes/staging/remove")
    assert refused.status_code == 409 and "config file" in refused.text
    assert names(runtime) == ["db", "staging"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "SEV9"}, "SEV9"),
        ({"matchers": ""}, "matchers"),
        ({"matchers": "alertname=~(unclosed"}, "matchers"),
        ({"name": "Not A Slug"}, "lowercase slug"),
        ({"name": "staging"}, "config file"),
        ({"service": "ghost"}, "ghost"),
        ({"severity": "", "severity_map": "critical"}, "severity map"),
        ({"position": "first"}, "position"),
        ({"position": "0"}, "position"),
    ],
)
def test_bad_input_re_renders_with_the_error_and_what_was_typed(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, change: dict[str, str], message: str
) -> None:
    ada = web_as("ada", "admin")
    refused = ada.post_form("/alerts/routes", {**CHECKOUT, "name": "typed-rule", **change})
    assert 400 <= refused.status_code < 500, refused.text
    assert 'class="flash error"' in refused.text and message in refused.text, refused.text
    typed = change.get("name", "typed-rule")
    assert f'value="{typed}"' in refused.text.replace("&#34;", '"')  # what was typed is kept
    assert names(runtime) == ["staging"]


def test_viewers_and_responders_only_read_and_forged_posts_are_refused(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    runtime.alerts.routing.add(ROOT, {"name": "keep", "matchers": ["team=db"]})
    for name, role in (("victor", "viewer"), ("rita", "responder")):
        user = web_as(name, role)
        page = user.get("/alerts/routes").text
        assert "keep" in page and "staging" in page
        assert 'action="/alerts/routes"' not in page and "/remove" not in page
        assert user.post_form("/alerts/routes", CHECKOUT).status_code == 403
        assert user.post_form("/alerts/routes/keep/remove").status_code == 403
    ada = web_as("ada", "admin")
    assert ada.post_form("/alerts/routes", CHECKOUT, csrf=False).status_code == 403
    assert ada.post_form("/alerts/routes/keep/remove", csrf=False).status_code == 403
    assert names(runtime) == ["keep", "staging"]
