"""The public status page: no leaks, Statuspage's JSON shape, escaping, feeds, maintenance."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import feedparser

from tests.comms.conftest import Env
from warroom.comms.public import PUBLIC_PREFIX

SECRETS = ("hunter2-db-password", "pg-prod-7.internal", "INTERNAL-TITLE-XYZ", "sk_live_abc123")
PUBLIC_PATHS = (
    "/status",
    "/status/api/v2/summary.json",
    "/status/api/v2/status.json",
    "/status/api/v2/components.json",
    "/status/api/v2/incidents.json",
    "/status/api/v2/incidents/unresolved.json",
    "/status/api/v2/scheduled-maintenances.json",
    "/status/api/v2/scheduled-maintenances/upcoming.json",
    "/status/api/v2/scheduled-maintenances/active.json",
    "/status/history.rss",
    "/status/history.atom",
)


def _everything_public(env: Env) -> str:
    texts = []
    for path in PUBLIC_PATHS:
        response = env.client.get(path)
        assert response.status_code == 200, (path, response.text)
        texts.append(response.text)
    for code in re.findall(r"/status/incidents/([0-9a-f]{12})", texts[0]):
        texts.append(env.client.get(f"/status/incidents/{code}").text)
    return "\n".join(texts)


def _publish_with_planted_secrets(env: Env) -> str:
    incident = env.declare(
        title=f"{SECRETS[2]} checkout broken",
        summary=f"primary {SECRETS[1]} OOM",
        severity="SEV1",
        labels={"db": SECRETS[1]},
    )
    env.api.ok("POST", f"/api/v1/incidents/{incident}/notes", json={"text": SECRETS[0]})
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={
            "status": "identified",
            "impact": f"writes fail on {SECRETS[1]}",
            "action": f"rotating {SECRETS[3]}",
            "note": SECRETS[0],
            "cause": f"leaked {SECRETS[3]}",
            "business_impact": SECRETS[2],
            "public_impact": "Some card payments fail",
            "public_action": "We are rolling back a change",
            "next": "30m",
        },
    )
    return incident


def test_public_page_json_and_feeds_never_contain_internal_fields(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    incident = _publish_with_planted_secrets(env)
    everything = _everything_public(env)
    assert "Some card payments fail" in everything  # the public wording is there...
    for secret in (*SECRETS, incident, "alice", "SEV1"):
        assert secret not in everything, secret  # ...and nothing internal is
    # The internal side still has it all.
    updates = env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]
    assert SECRETS[0] in updates[0]["internal"]


def test_statuspage_json_shape(make_env: Callable[..., Env]) -> None:
    env = make_env()
    _publish_with_planted_secrets(env)
    summary = env.public.ok("GET", "/status/api/v2/summary.json")
    assert set(summary) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert set(summary["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    components = {c["id"]: c for c in summary["components"]}
    component_keys = {
        "id", "name", "status", "created_at", "updated_at", "position", "description",
        "group_id", "showcase", "only_show_if_degraded", "group", "page_id",
    }  # fmt: skip
    assert component_keys <= set(components["payments"])
    assert components["payments"]["status"] == "major_outage"
    assert components["search"]["status"] == "operational"
    group = components[components["payments"]["group_id"]]
    assert group["group"] is True and group["components"] == ["payments"]
    assert group["status"] == "major_outage"
    [incident] = summary["incidents"]
    incident_keys = {
        "id", "name", "status", "impact", "created_at", "updated_at", "monitoring_at",
        "resolved_at", "shortlink", "incident_updates",
    }  # fmt: skip
    assert incident_keys <= set(incident)
    assert incident["status"] == "identified" and incident["impact"] == "critical"
    assert incident["name"] == "Service disruption: Payments API"
    [update] = incident["incident_updates"]
    assert {"id", "status", "body", "created_at", "display_at"} <= set(update)
    assert incident["created_at"].endswith("Z")
    status = env.public.ok("GET", "/status/api/v2/status.json")
    assert set(status) == {"page", "status"}
    unresolved = env.public.ok("GET", "/status/api/v2/incidents/unresolved.json")
    assert [i["id"] for i in unresolved["incidents"]] == [incident["id"]]
    assert set(env.public.ok("GET", "/status/api/v2/components.json")) == {"page", "components"}


def test_user_text_is_escaped_everywhere(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident = env.declare(severity="SEV2")
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={
            "status": "investigating",
            "impact": "x",
            "action": "y",
            "public_impact": "<script>alert(1)</script> & <b>bold</b>",
            "public_title": "<img src=x onerror=alert(2)>",
        },
    )
    html = env.client.get("/status").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    code = env.public.ok("GET", "/status/api/v2/incidents.json")["incidents"][0]["id"]
    assert "<img src=x" not in env.client.get(f"/status/incidents/{code}").text
    raw = env.client.get("/status/history.rss").text
    assert "<script>" not in raw
    rss = feedparser.parse(raw.encode())
    assert rss.bozo == 0
    # A feed reader renders the description as HTML: it shows the text as written, no markup.
    summary = rss.entries[0].summary
    assert "<script>" not in summary and "<b>" not in summary
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in summary
    assert rss.entries[0].title == "<img src=x onerror=alert(2)> (investigating)"


def test_feeds_parse_with_a_real_feed_parser(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident = env.declare(severity="SEV2")
    for status in ("investigating", "identified", "monitoring"):
        env.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/updates",
            json={"status": status, "impact": f"impact {status}", "action": "acting"},
        )
        env.runtime.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    for path, version in (("/status/history.rss", "rss20"), ("/status/history.atom", "atom10")):
        response = env.client.get(path)
        assert "xml" in response.headers["content-type"]
        feed = feedparser.parse(response.content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert feed.version == version
        assert len(feed.entries) == 3
        assert "(monitoring)" in feed.entries[0].title  # newest first
        assert feed.entries[0].link.startswith("http://127.0.0.1:8080/status/incidents/")
        assert len({e.id for e in feed.entries}) == 3


def test_html_page_is_accessible_without_javascript(make_env: Callable[..., Env]) -> None:
    env = make_env()
    response = env.client.get(PUBLIC_PREFIX)
    html = response.text
    assert response.status_code == 200 and "<script" not in html
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert 'href="#main"' in html and '<main id="main">' in html
    assert "All Systems Operational" in html and "Payments API" in html
    assert "100.00% uptime" in html and "over 90 days" in html
    # 90 quiet days make one bar per component (runs keep the page small).
    assert html.count('<span class="operational" style="flex:90"></span>') == 2
    assert "script-src" not in response.headers["content-security-policy"]
    assert env.client.get("/status/incidents/000000000000").status_code == 404


def test_maintenance_and_manual_component_status(make_env: Callable[..., Env]) -> None:
    env = make_env()
    now = env.runtime.clock.now()
    window = env.api.ok(
        "POST",
        "/api/v1/statuspage/maintenances",
        json={
            "name": "Database upgrade",
            "body": "Search may be slow",
            "components": ["search"],
            "scheduled_for": (now + timedelta(hours=1)).isoformat(),
            "scheduled_until": (now + timedelta(hours=2)).isoformat(),
        },
    )
    assert window["status"] == "scheduled"
    upcoming = env.public.ok("GET", "/status/api/v2/scheduled-maintenances/upcoming.json")
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [window["id"]]
    env.runtime.clock.advance(timedelta(minutes=90))  # type: ignore[attr-defined]
    summary = env.public.ok("GET", "/status/api/v2/summary.json")
    assert {c["id"]: c["status"] for c in summary["components"]}["search"] == "under_maintenance"
    assert summary["status"]["indicator"] == "maintenance"
    active = env.public.ok("GET", "/status/api/v2/scheduled-maintenances/active.json")
    assert len(active["scheduled_maintenances"]) == 1
    env.runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "none"
    # A component's status set by hand (responder may; viewer may not).
    status, _ = env.viewer.request(
        "PATCH", "/api/v1/statuspage/components/payments", json={"status": "partial_outage"}
    )
    assert status == 403
    env.api.ok("PATCH", "/api/v1/statuspage/components/payments", json={"status": "partial_outage"})
    summary = env.public.ok("GET", "/status/api/v2/summary.json")
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    bad = env.api.post(
        "/api/v1/statuspage/maintenances",
        json={
            "name": "x",
            "scheduled_for": now.isoformat(),
            "scheduled_until": (now - timedelta(hours=1)).isoformat(),
        },
    )
    assert bad[0] == 422
    ended = env.api.post(
        "/api/v1/statuspage/maintenances",
        json={
            "name": "x",
            "scheduled_for": "1999-01-01T00:00:00Z",
            "scheduled_until": "2000-01-01T00:00:00Z",
        },
    )
    assert ended[0] == 422 and "already ended" in ended[1]["error"]["message"]


def test_components_from_services_and_admin_api(make_env: Callable[..., Env]) -> None:
    env = make_env()
    items = env.viewer.ok("GET", "/api/v1/statuspage/components")["items"]
    assert [(c["id"], c["name"], c["group"]) for c in items] == [
        ("payments", "Payments API", "Core"),
        ("search", "Search", "Discovery"),
    ]
    created = env.admin.ok(
        "POST",
        "/api/v1/statuspage/components",
        json={"slug": "cdn", "name": "CDN", "group": "Edge", "position": 5},
    )
    assert created["status"] == "operational"
    assert env.api.post("/api/v1/statuspage/components", json={"slug": "x", "name": "X"})[0] == 403
    assert (
        env.admin.post("/api/v1/statuspage/components", json={"slug": "cdn", "name": "Y"})[0] == 409
    )
    env.admin.ok("PATCH", "/api/v1/statuspage/components/cdn", json={"archived": True})
    ids = [c["id"] for c in env.public.ok("GET", "/status/api/v2/components.json")["components"]]
    assert "cdn" not in ids


def test_manual_public_incident_and_resolution(make_env: Callable[..., Env]) -> None:
    env = make_env()
    created = env.api.ok(
        "POST",
        "/api/v1/statuspage/incidents",
        json={
            "name": "Upstream email provider delays",
            "body": "Emails are delayed",
            "impact": "minor",
            "components": ["search"],
        },
    )
    assert created["status"] == "investigating"
    components = env.public.ok("GET", "/status/api/v2/components.json")["components"]
    assert {c["id"]: c["status"] for c in components}["search"] == "degraded_performance"
    env.runtime.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    done = env.api.ok(
        "POST",
        f"/api/v1/statuspage/incidents/{created['id']}/updates",
        json={"status": "resolved", "body": "Delivered normally again"},
    )
    assert done["resolved_at"] is not None and len(done["incident_updates"]) == 2
    assert env.public.ok("GET", "/status/api/v2/incidents/unresolved.json")["incidents"] == []
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "none"
    html = env.client.get("/status").text
    assert "Upstream email provider delays" in html  # under past incidents


def test_public_responses_are_cached_briefly(make_env: Callable[..., Env]) -> None:
    from sqlalchemy import update

    from warroom.comms import tables

    env = make_env()
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "none"
    # Another replica changes the database: this process serves its cache for a moment...
    with env.runtime.db.write() as conn:
        conn.execute(
            update(tables.status_components)
            .where(tables.status_components.c.slug == "search")
            .values(status="major_outage")
        )
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "none"
    # ...and sees the change once the entry expires.
    env.runtime.clock.advance(timedelta(seconds=5))  # type: ignore[attr-defined]
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "critical"
    # A write through this process is visible at once.
    env.api.ok("PATCH", "/api/v1/statuspage/components/search", json={"status": "operational"})
    assert env.public.ok("GET", "/status/api/v2/status.json")["status"]["indicator"] == "none"


def test_component_patch_rejects_nulls_for_required_fields(make_env: Callable[..., Env]) -> None:
    env = make_env()
    for field in ("archived", "name", "status", "showcase", "position"):
        status, body = env.admin.request(
            "PATCH", "/api/v1/statuspage/components/search", json={field: None}
        )
        assert status == 422, (field, body)
    cleared = env.admin.ok(
        "PATCH", "/api/v1/statuspage/components/search", json={"group": None, "description": None}
    )
    assert cleared["group"] is None and cleared["description"] == ""
