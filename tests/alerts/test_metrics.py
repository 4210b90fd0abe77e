"""`/metrics` exports every intake outcome the docs list, and the open-alert gauge, from real
intake (docs/metrics.md, docs/integrations/README.md)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from tests.alerts.helpers import am_alert, am_payload, create_integration, pd_event, post_am
from tests.conftest import Api
from warroom.alerts import domain
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime


def _scrape(api: Api) -> dict[str, float]:
    response = api.client.get("/metrics", headers=api.headers)
    assert response.status_code == 200, response.text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "warroom_alerts_total":
                values[sample.labels["outcome"]] = sample.value
            elif sample.name == "warroom_alerts_open":
                values["open"] = sample.value
            elif sample.name == "warroom_intake_backlog":
                values["backlog"] = sample.value
            elif sample.name == "warroom_intake_lag_seconds":
                values["lag"] = sample.value
    return values


def test_every_intake_outcome_and_the_open_gauge_are_exported(api: Api, admin_api: Api) -> None:
    am_key = create_integration(admin_api, "prometheus", "alertmanager")
    pd_key = create_integration(admin_api, "ci-pager", "pagerduty")
    first, second = am_alert(instance="pod-1"), am_alert(instance="pod-2")
    assert post_am(api, am_key, am_payload([first, second]))[0] == 202  # 2 created
    assert post_am(api, am_key, am_payload([first]))[0] == 202  # 1 deduplicated
    warning = am_alert("DiskFilling", severity="warning")
    group = '{}:{alertname="DiskFilling"}'
    assert post_am(api, am_key, am_payload([warning], group_key=group))[0] == 202  # recorded
    assert post_am(api, am_key, am_payload([{**second, "status": "resolved"}]))[0] == 202
    assert api.post("/v2/enqueue", json=pd_event(pd_key, dedup_key="disk"))[0] == 202
    assert api.post("/v2/enqueue", json=pd_event(pd_key, "acknowledge", "disk"))[0] == 202
    assert api.post("/v2/enqueue", json=pd_event(pd_key, "resolve", "unknown"))[0] == 202

    values = _scrape(api)
    assert values == {
        "received": 8.0,
        "created": 4.0,
        "deduplicated": 1.0,
        "acknowledged": 1.0,
        "resolved": 1.0,
        "silenced": 0.0,
        "recorded": 1.0,
        "dropped": 1.0,
        "tests": 0.0,
        "open": 3.0,  # pod-1 firing, the warning recorded but firing, disk acknowledged
        "backlog": 0.0,  # every acknowledged request processed
        "lag": 0.0,
    }


def test_the_intake_backlog_and_how_long_its_oldest_request_has_waited(
    api: Api, admin_api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    """What a storm leaves waiting: an operator alerts on the lag, not only on the count."""
    create_integration(admin_api, "prometheus", "alertmanager")
    alerts = domain.alerts_to_json(domain.parse_alertmanager(am_payload([am_alert()])))
    log = runtime.alerts.intake.log
    log.append("prometheus", alerts, clock.now()).result(10)  # acknowledged, not yet processed
    clock.advance(timedelta(seconds=20))
    log.append("prometheus", alerts, clock.now()).result(10)
    clock.advance(timedelta(seconds=10))
    values = _scrape(api)
    assert (values["backlog"], values["lag"]) == (2.0, 30.0)
    assert runtime.alerts.intake.processor.run_once() == 2
    values = _scrape(api)
    assert (values["backlog"], values["lag"]) == (0.0, 0.0)
