"""An API token with the `ingest` scope posts alerts (docs/api.md: "only alert intake
endpoints"), for the integration it names or the only one of the endpoint's kind."""

from __future__ import annotations

from collections.abc import Callable

from tests.alerts.helpers import am_alert, am_payload, create_integration, deliver
from tests.conftest import Api


def test_an_ingest_token_posts_alerts_for_the_only_integration_of_the_kind(
    api: Api, admin_api: Api, make_token: Callable[..., str]
) -> None:
    create_integration(admin_api, "prometheus", "alertmanager")
    token = make_token("ingest", name="ci")
    headers = {"Authorization": f"Bearer {token}"}
    status, body = deliver(
        api, "/api/v1/alerts/alertmanager", am_payload([am_alert()]), None, headers
    )
    assert status == 202, body
    assert body["integration"] == "prometheus" and body["created"] == 1
    assert len(body["incidents"]) == 1
    # ...and nothing else: the token cannot read or write anything beyond intake
    ingest_only = Api(api.client, token)
    assert ingest_only.get("/api/v1/incidents")[0] == 403
    assert ingest_only.get("/api/v1/alerts")[0] == 403


def test_with_several_integrations_the_token_names_one(
    api: Api, admin_api: Api, make_token: Callable[..., str]
) -> None:
    create_integration(admin_api, "prometheus", "alertmanager")
    create_integration(admin_api, "prometheus-eu", "alertmanager")
    create_integration(admin_api, "uptime", "generic")
    headers = {"Authorization": f"Bearer {make_token('ingest', name='ci')}"}
    payload = am_payload([am_alert()])
    status, body = api.post("/api/v1/alerts/alertmanager", json=payload, headers=headers)
    assert status == 422 and "?integration=NAME" in body["error"]["message"], body
    status, body = api.post(
        "/api/v1/alerts/alertmanager?integration=uptime", json=payload, headers=headers
    )
    assert status == 422 and "generic" in body["error"]["message"], body
    status, body = api.post(
        "/api/v1/alerts/alertmanager?integration=nope", json=payload, headers=headers
    )
    assert status == 422, body
    assert api.ok("GET", "/api/v1/alerts")["items"] == []  # refused requests stored nothing
    status, body = deliver(
        api, "/api/v1/alerts/alertmanager?integration=prometheus-eu", payload, None, headers
    )
    assert status == 202 and body["integration"] == "prometheus-eu", body


def test_tokens_without_the_ingest_scope_or_revoked_integrations_are_refused(
    api: Api, admin_api: Api, make_token: Callable[..., str]
) -> None:
    create_integration(admin_api, "prometheus", "alertmanager")
    payload = am_payload([am_alert()])
    viewer = {"Authorization": f"Bearer {make_token('viewer', name='watcher')}"}
    status, body = api.post("/api/v1/alerts/alertmanager", json=payload, headers=viewer)
    assert status == 403, body
    bogus = {"Authorization": "Bearer wr_not_a_token"}
    assert api.post("/api/v1/alerts/alertmanager", json=payload, headers=bogus)[0] == 401
    admin_api.ok("POST", "/api/v1/integrations/prometheus/revoke")
    ingest = {"Authorization": f"Bearer {make_token('ingest', name='ci')}"}
    status, body = api.post("/api/v1/alerts/alertmanager", json=payload, headers=ingest)
    assert status == 401, body
    assert api.ok("GET", "/api/v1/alerts")["items"] == []


def test_an_ingest_token_pings_a_heartbeat(
    api: Api, admin_api: Api, make_token: Callable[..., str]
) -> None:
    create_integration(admin_api, "backups", "heartbeat", timeout_seconds=3600)
    headers = {"Authorization": f"Bearer {make_token('ingest', name='cron')}"}
    status, body = api.post("/api/v1/heartbeats/backups", headers=headers)
    assert status == 200 and body["state"] == "healthy", body
