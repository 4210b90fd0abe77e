"""What feed readers and Statuspage consumers read: descriptions that render as the text
written, maintenance in the feeds, and the Statuspage fields consumers use.

Checked with feedparser (a real feed parser) and against Atlassian Statuspage's public API
shapes (https://metastatuspage.com/api/v2/: incident `components` are component objects with
`status`; `affected_components` carry `code`, `name`, `old_status`, `new_status`; scheduled
maintenances carry `started_at`, `scheduled_for`, `scheduled_until` and `incident_updates`
with statuses scheduled / in_progress / completed; components carry `start_date`)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

import feedparser

from tests.comms.conftest import Env
from warroom.core.clock import FixedClock

TEXT = 'Errors on <checkout-api> & R&D "quoted"\nNext update: 10:30 UTC.'


def rendered(summary_html: str) -> str:
    """The text a reader shows for an HTML description (line breaks kept)."""
    return html.unescape(re.sub(r"<br\s*/?>\n?", "\n", summary_html))


def test_rss_description_renders_as_the_text_written(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident = env.declare(severity="SEV1")
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={"status": "investigating", "impact": "x", "action": "y", "public_impact": TEXT},
    )
    rss = feedparser.parse(env.client.get("/status/history.rss").content)
    assert rss.bozo == 0
    (entry,) = rss.entries
    assert entry.summary_detail.type == "text/html"
    assert 'Errors on <checkout-api> & R&D "quoted"\nNext update' in rendered(entry.summary)
    assert "&amp;amp;" not in entry.summary  # not escaped twice
    atom = feedparser.parse(env.client.get("/status/history.atom").content)
    assert atom.bozo == 0
    assert atom.entries[0].content[0].type == "text/plain"
    assert "Errors on <checkout-api> & R&D" in atom.entries[0].content[0].value


def test_maintenance_is_in_the_feeds(make_env: Callable[..., Env], clock: FixedClock) -> None:
    env = make_env()
    env.admin.ok("POST", "/api/v1/statuspage/components/sync")
    start = clock.now() + timedelta(hours=1)
    env.admin.ok(
        "POST",
        "/api/v1/statuspage/maintenances",
        json={
            "name": "Database upgrade",
            "body": "Search <read-only> for 30 minutes",
            "components": ["search"],
            "scheduled_for": start.isoformat(),
            "scheduled_until": (start + timedelta(minutes=30)).isoformat(),
        },
    )
    titles = [
        e.title for e in feedparser.parse(env.client.get("/status/history.rss").content).entries
    ]
    assert titles == ["Database upgrade (maintenance scheduled)"]
    clock.advance(timedelta(hours=2))
    env.runtime.comms.statuspage.touch()
    for path in ("/status/history.rss", "/status/history.atom"):
        feed = feedparser.parse(env.client.get(path).content)
        assert feed.bozo == 0
        assert [e.title for e in feed.entries] == [
            "Database upgrade (maintenance completed)",
            "Database upgrade (maintenance in progress)",
            "Database upgrade (maintenance scheduled)",
        ]
    rss = feedparser.parse(env.client.get("/status/history.rss").content)
    assert "Search <read-only> for 30 minutes" in rendered(rss.entries[-1].summary)


def test_statuspage_json_has_the_fields_consumers_read(
    make_env: Callable[..., Env], clock: FixedClock
) -> None:
    env = make_env()
    env.admin.ok("POST", "/api/v1/statuspage/components/sync")
    incident = env.declare(severity="SEV1", services=["payments"])
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={"status": "investigating", "impact": "x", "action": "y"},
    )
    clock.advance(timedelta(minutes=10))
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={"status": "monitoring", "impact": "x", "action": "y"},
    )
    summary = env.public.ok("GET", "/status/api/v2/summary.json")
    (public,) = summary["incidents"]
    (component,) = public["components"]
    assert component["id"] == "payments" and component["status"] == "major_outage"
    assert {"created_at", "updated_at", "position", "group_id", "start_date"} <= set(component)
    newest, oldest = public["incident_updates"]
    assert oldest["affected_components"] == [
        {
            "code": "payments",
            "name": "Payments API",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    assert newest["affected_components"][0]["old_status"] == "major_outage"
    for item in summary["components"]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["start_date"] or "0000-00-00")

    start = clock.now() + timedelta(minutes=5)
    env.admin.ok(
        "POST",
        "/api/v1/statuspage/maintenances",
        json={
            "name": "Index rebuild",
            "components": ["search"],
            "scheduled_for": start.isoformat(),
            "scheduled_until": (start + timedelta(hours=1)).isoformat(),
        },
    )
    clock.advance(timedelta(minutes=10))
    env.runtime.comms.statuspage.touch()
    (active,) = env.public.ok("GET", "/status/api/v2/scheduled-maintenances/active.json")[
        "scheduled_maintenances"
    ]
    assert active["started_at"] == active["scheduled_for"]
    assert [u["status"] for u in active["incident_updates"]] == ["in_progress", "scheduled"]
    in_progress = active["incident_updates"][0]["affected_components"][0]
    assert (in_progress["old_status"], in_progress["new_status"]) == (
        "operational",
        "under_maintenance",
    )
    assert active["components"][0]["status"] == "under_maintenance"
