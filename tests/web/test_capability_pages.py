"""Metrics, on-call, and alerts/silences pages, and the on-call panel on the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.web.conftest import WebUser
from warroom.alerts.domain import AlertIn
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.oncall import models

ADMIN = Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session")


def test_metrics_page_shows_figures_and_inline_svg_charts(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, clock: FixedClock
) -> None:
    victor = web_as("victor", "viewer")
    runtime.incidents.declare(
        ADMIN, schemas.DeclareIn(title="Checkout <b>down</b>", severity="SEV2")
    )
    clock.advance(timedelta(minutes=5))
    assert 'href="/reports/metrics"' in victor.get("/").text
    page = victor.get("/reports/metrics?since=30d&by=service")
    assert page.status_code == 200
    assert '<span class="stat-value">1</span><span class="stat-label">incidents</span>' in page.text
    assert "Time to acknowledge (MTTA)" in page.text and "time_to_acknowledge" not in page.text
    assert page.text.count("<svg") == 3 and "<script" not in page.text.split("</header>")[-1]
    assert "mttr-trend.png" in page.text
    assert victor.get("/reports/metrics?by=nonsense").status_code == 422


def test_oncall_page_and_dashboard_panel(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    oncall = runtime.oncall
    oncall.create_person(ADMIN, models.PersonIn(name="carol", display_name="Carol"))
    start = (runtime.clock.now() - timedelta(days=1)).astimezone(UTC).replace(tzinfo=None)
    oncall.create_schedule(
        ADMIN,
        models.ScheduleIn(
            name="payments-primary",
            description="Payments <i>primary</i>",
            layers=[models.LayerIn(users=["carol"], start=start, shift_unit="weeks")],
        ),
    )
    oncall.create_policy(
        ADMIN,
        models.EscalationPolicyIn(
            name="payments",
            levels=[models.LevelIn(delay_minutes=0, targets=["schedule:payments-primary"])],
        ),
    )
    victor = web_as("victor", "viewer")
    page = victor.get("/oncall").text
    assert "On call now" in page and '<span class="oncall-person">carol</span>' in page
    assert "payments-primary" in page and "Payments &lt;i&gt;primary&lt;/i&gt;" in page
    assert "schedule:payments-primary" in page
    dashboard = victor.get("/").text
    assert "On call now" in dashboard and "<strong>carol</strong>" in dashboard


def test_alerts_page_silences_for_responders_only(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alerts = runtime.alerts
    integration, _ = alerts.create_integration(ADMIN, "prom", "alertmanager")
    alerts.ingest(
        integration,
        [
            AlertIn(
                identity="a1",
                status="firing",
                labels={"alertname": "HighErrorRate", "service": "checkout"},
                summary="Error rate <script>x</script> high",
                group_key="g1",
                starts_at=datetime.now(UTC),
            )
        ],
    )
    victor = web_as("victor", "viewer")
    page = victor.get("/alerts").text
    assert "Error rate &lt;script&gt;x&lt;/script&gt; high" in page
    assert "Add silence" not in page
    form = {"matchers": "service=checkout", "duration": "2h", "comment": "maintenance"}
    assert victor.post_form("/alerts/silences", form).status_code == 403
    assert alerts.list_silences() == []
    alice = web_as("alice", "responder")
    assert "Add silence" in alice.get("/alerts").text
    # "Silence…" on a row opens the form with that alert's identifying labels.
    [listed], _ = alerts.list_alerts(limit=5)
    prefilled = alice.get(f"/alerts?silence={listed['id']}").text
    assert 'value="alertname=HighErrorRate, service=checkout"' in prefilled
    assert '<span class="alert-state alert-firing">firing</span>' in prefilled
    assert alice.post_form("/alerts/silences", form, csrf=False).status_code == 403
    assert alice.post_form("/alerts/silences", form).status_code == 303
    [silence] = alerts.list_silences()
    assert silence["matchers"] == ['service="checkout"'] and silence["author"] == "user:alice"
    page = alice.get("/alerts?state=all").text
    assert "maintenance" in page and "Expire</button>" in page
    bad = alice.post_form("/alerts/silences", {**form, "comment": " "})
    assert bad.status_code == 422 and "comment" in bad.text
    assert victor.post_form(f"/alerts/silences/{silence['id']}/expire").status_code == 403
    assert alice.post_form(f"/alerts/silences/{silence['id']}/expire").status_code == 303
    assert alerts.list_silences() == []


def test_alert_list_acknowledges_the_incident_an_alert_opened(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alerts = runtime.alerts
    integration, _ = alerts.create_integration(ADMIN, "prom", "alertmanager")
    alerts.ingest(
        integration,
        [
            AlertIn(
                identity="lb",
                status="firing",
                labels={"alertname": "LBDown", "service": "edge", "severity": "critical"},
                summary="Load balancer down",
                group_key="g-lb",
                starts_at=datetime.now(UTC),
                source_severity="critical",
            )
        ],
    )
    [alert], _ = alerts.list_alerts(limit=5)
    incident = alert["incident"]
    assert incident and runtime.incidents.get(incident).status.value == "triggered"
    alice = web_as("alice", "responder")
    page = alice.get("/alerts?state=firing").text
    assert f"Acknowledge {incident}</button>" in page
    assert 'aria-current="page">Firing</a>' in page
    victor = web_as("victor", "viewer")
    assert victor.post_form(f"/alerts/incidents/{incident}/ack").status_code == 403
    done = alice.post_form(f"/alerts/incidents/{incident}/ack", {"state": "firing"})
    assert done.status_code == 303 and done.headers["location"] == "/alerts?state=firing"
    assert runtime.incidents.get(incident).status.value == "acknowledged"
    assert f"Acknowledge {incident}</button>" not in alice.get("/alerts").text
