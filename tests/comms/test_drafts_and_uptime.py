"""Draft components (from the service catalog) stay off every public surface until an admin
publishes them; the uptime bars and percentages follow the states set by hand."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.comms.conftest import Env

PUBLIC_PATHS = (
    "/status",
    "/status/uptime.json",
    "/status/api/v2/summary.json",
    "/status/api/v2/status.json",
    "/status/api/v2/components.json",
    "/status/api/v2/incidents.json",
    "/status/api/v2/incidents/unresolved.json",
    "/status/api/v2/scheduled-maintenances.json",
    "/status/history.rss",
    "/status/history.atom",
)


def _public_text(env: Env) -> str:
    texts = []
    for path in PUBLIC_PATHS:
        response = env.client.get(path)
        assert response.status_code == 200, (path, response.text)
        texts.append(response.text)
    return "\n".join(texts)


def _component_ids(env: Env) -> list[str]:
    items = env.public.ok("GET", "/status/api/v2/components.json")["components"]
    return [c["id"] for c in items if not c["group"]]


def test_catalog_components_are_drafts_without_internal_words(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(publish=False, comms={"statuspage": {"allow_private_webhooks": True}})
    items = env.admin.ok("GET", "/api/v1/statuspage/components")["items"]
    assert [(c["id"], c["name"], c["group"], c["description"], c["published"]) for c in items] == [
        ("payments", "Payments", None, "", False),
        ("search", "Search", None, "", False),
    ]
    # A draft in a major outage changes nothing public.
    env.api.ok("PATCH", "/api/v1/statuspage/components/payments", json={"status": "major_outage"})
    everything = _public_text(env)
    for internal in ("Payments API", "Core", "Discovery", "payments", "Payments"):
        assert internal not in everything, internal
    assert "All Systems Operational" in everything
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "none"
    # Nor can a visitor learn a draft's id by subscribing to it.
    status, body = env.public.post(
        "/status/subscribe", json={"webhook": "http://127.0.0.1:9/h", "components": ["payments"]}
    )
    assert status == 422 and "payments" in body["error"]["message"].split(";")[0]
    assert "search" not in body["error"]["message"]


def test_publish_and_unpublish_through_the_api(make_env: Callable[..., Env]) -> None:
    env = make_env(publish=False, comms={"statuspage": {"allow_private_webhooks": True}})
    env.api.ok("PATCH", "/api/v1/statuspage/components/payments", json={"status": "major_outage"})
    # A responder may not publish; an unknown component is a 404; nothing changed.
    assert env.api.post("/api/v1/statuspage/components/payments/publish")[0] == 403
    assert env.viewer.post("/api/v1/statuspage/components/payments/publish")[0] == 403
    assert env.admin.post("/api/v1/statuspage/components/nope/publish")[0] == 404
    assert _component_ids(env) == []
    published = env.admin.ok("POST", "/api/v1/statuspage/components/payments/publish")
    assert published["published"] is True and published["name"] == "Payments"
    assert _component_ids(env) == ["payments"]
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "critical"
    assert "Payments" in env.client.get("/status").text
    back = env.admin.ok("POST", "/api/v1/statuspage/components/payments/unpublish")
    assert back["published"] is False
    assert _component_ids(env) == []
    # A component made by hand is public at once unless asked to be a draft.
    env.admin.ok("POST", "/api/v1/statuspage/components", json={"slug": "cdn", "name": "CDN"})
    env.admin.ok(
        "POST",
        "/api/v1/statuspage/components",
        json={"slug": "edge", "name": "Edge", "published": False},
    )
    assert _component_ids(env) == ["cdn"]
    bad = env.admin.post(
        "/api/v1/statuspage/components", json={"slug": "x", "name": "X", "published": "maybe"}
    )
    assert bad[0] == 422


def test_sync_adds_drafts_for_new_catalog_services(make_env: Callable[..., Env]) -> None:
    env = make_env(publish=False, services=[])
    assert env.admin.ok("GET", "/api/v1/statuspage/components")["items"] == []
    assert env.api.post("/api/v1/statuspage/components/sync")[0] == 403
    from warroom.core.config import ServiceConfig

    env.runtime.comms.statuspage.services = (
        ServiceConfig(name="billing-api", description="Billing (pg-prod-7)", owner_team="Money"),
    )
    synced = env.admin.ok("POST", "/api/v1/statuspage/components/sync")
    assert synced["added"] == 1
    [made] = synced["items"]
    assert (made["name"], made["group"], made["published"]) == ("Billing Api", None, False)
    assert _component_ids(env) == []


def _days(env: Env, slug: str) -> dict[str, object]:
    items = env.public.ok("GET", "/status/uptime.json")["components"]
    found: dict[str, object] = {c["id"]: c for c in items}[slug]
    return found


def test_uptime_follows_states_set_by_hand(make_env: Callable[..., Env]) -> None:
    env = make_env()
    clock = env.runtime.clock
    quiet = _days(env, "payments")
    assert quiet["uptime"] == 100.0 and quiet["status"] == "operational"
    # Set by hand, with no incident: today's bar is red at once and the page says so.
    env.api.ok("PATCH", "/api/v1/statuspage/components/payments", json={"status": "major_outage"})
    now = _days(env, "payments")
    assert now["status"] == "major_outage"
    assert now["days"][-1]["worst"] == "major_outage"  # type: ignore[index]
    html = env.client.get("/status").text
    assert re.search(r'<span class="major_outage"[^>]*title="[^"]*Major outage', html)
    # Six hours later: six hours of downtime, in the percentages of the page and the JSON.
    clock.advance(timedelta(hours=6))  # type: ignore[attr-defined]
    later = _days(env, "payments")
    start = clock.now().replace(hour=0, minute=0) - timedelta(days=89)  # type: ignore[attr-defined]
    total = (clock.now() - start).total_seconds()  # type: ignore[attr-defined]
    expected = 100 * (1 - 6 * 3600 / total)
    assert later["uptime"] == pytest.approx(expected, abs=1e-5) and expected < 100
    day_uptime = 100 * (1 - 6 / 16)  # 10:00 to 16:00 of today's 16 hours
    assert later["days"][-1]["uptime"] == pytest.approx(day_uptime, abs=1e-5)  # type: ignore[index]
    shown = math.floor(expected * 100) / 100
    assert f"{shown:.2f}% uptime" in env.client.get("/status").text
    # Back to operational; the next day is green, the bad day stays red.
    env.api.ok("PATCH", "/api/v1/statuspage/components/payments", json={"status": "operational"})
    clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    after = _days(env, "payments")
    days = after["days"]  # type: ignore[assignment]
    assert days[-1]["worst"] == "operational" and days[-2]["worst"] == "major_outage"  # type: ignore[index]
    assert after["status"] == "operational" and after["uptime"] < 100  # type: ignore[operator]
    # The other component never changed.
    assert _days(env, "search")["uptime"] == 100.0


def test_incidents_and_states_count_once_at_the_worse_weight(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    clock = env.runtime.clock
    env.api.ok("PATCH", "/api/v1/statuspage/components/search", json={"status": "partial_outage"})
    created = env.api.ok(
        "POST",
        "/api/v1/statuspage/incidents",
        json={
            "name": "Search down",
            "body": "Down",
            "impact": "critical",
            "components": ["search"],
            "component_status": "major_outage",
        },
    )
    clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    env.api.ok(
        "POST",
        f"/api/v1/statuspage/incidents/{created['id']}/updates",
        json={"status": "resolved", "body": "Fixed"},
    )
    clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    today = _days(env, "search")["days"][-1]  # type: ignore[index]
    # 10:00-12:00 major (2h), 12:00-14:00 partial (0.6h) of 14 hours.
    assert today["uptime"] == pytest.approx(100 * (1 - 2.6 / 14), abs=1e-5)
    assert today["worst"] == "major_outage"
    assert _days(env, "search")["status"] == "partial_outage"
