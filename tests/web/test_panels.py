"""The war room's capability panels: status updates, changes, mitigations, runbooks, alerts,
similar incidents and the post-mortem, through the pages and the real services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.workbench.schemas import ChangeIn

ALICE = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")


def declare(runtime: Runtime) -> str:
    request = schemas.DeclareIn(
        title="Checkout down", severity="SEV2", services=["checkout"], type="service_outage"
    )
    return runtime.incidents.declare(ALICE, request).public_id


def test_status_update_composer_publishes_through_comms(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    page = alice.get(f"/incidents/{incident}").text
    assert "Publish update" in page
    form = {
        "status": "investigating",
        "impact": "Checkout <script>alert(1)</script> fails",
        "action": "Rolling back",
        "next": "30m",
        "note": "<img src=x onerror=alert(1)>",
    }
    preview = alice.post_form(f"/incidents/{incident}/updates", {**form, "mode": "preview"})
    assert preview.status_code == 200 and "Preview (internal)" in preview.text
    assert "<script>alert(1)" not in preview.text and "&lt;script&gt;" in preview.text
    assert runtime.comms.service.updates(incident) == []
    sent = alice.post_form(f"/incidents/{incident}/updates", {**form, "mode": "publish"})
    assert sent.status_code == 303
    assert len(runtime.comms.service.updates(incident)) == 1
    page = alice.get(f"/incidents/{incident}").text
    assert "Rolling back" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    bad = alice.post_form(f"/incidents/{incident}/updates", {"status": "nope", "impact": "x"})
    assert bad.status_code == 422
    assert len(runtime.comms.service.updates(incident)) == 1


def test_changes_mitigations_and_runbook_steps(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    bob = web_as("bob", "responder")
    service = runtime.config.services[0].name if runtime.config.services else "checkout"
    runtime.workbench.record_change(
        ALICE,
        ChangeIn(
            service=service,
            kind="deploy",
            version="v2.3.1",
            by="dave",
            at=runtime.clock.now() - timedelta(minutes=10),
        ),
    )
    request = schemas.DeclareIn(
        title="Checkout down", severity="SEV2", services=[service], type="service_outage"
    )
    incident = runtime.incidents.declare(ALICE, request).public_id
    page = alice.get(f"/incidents/{incident}").text
    # The suspected changes load after the page (htmx), from their own fragment.
    assert f'hx-get="/incidents/{incident}/panels/changes"' in page
    assert "min before the start" not in page
    changes = alice.get(f"/incidents/{incident}/panels/changes")
    assert changes.status_code == 200
    assert "deploy of checkout v2.3.1" in changes.text and "min before the start" in changes.text
    assert "<html" not in changes.text
    assert "Mitigation suggestions" in page
    assert "service_down" in page and "Run</button>" in page
    ran = alice.post_form(
        f"/incidents/{incident}/runbooks/service_down/run", {"step": "crash-logs"}
    )
    assert ran.status_code == 200 and "done" in ran.text
    events = [e.type for e in runtime.incidents.timeline(incident)]
    assert "runbook_step_ran" in events
    # A step that needs an approval is refused until a second responder approves it.
    wb = runtime.workbench
    loaded = wb.runbook("service_down")
    gated = next(
        s.id
        for s in loaded.runbook.steps
        if s.kind == "approval"
        or getattr(s, "dangerous", False)
        or __import__("warroom.workbench.runbooks", fromlist=["x"]).needs_approval(s)
    )
    first = alice.post_form(f"/incidents/{incident}/runbooks/service_down/run", {"step": gated})
    assert "awaiting_approval" in first.text and "needs approval" in first.text
    own = alice.post_form(f"/incidents/{incident}/runbooks/service_down/approve", {"step": gated})
    assert own.status_code >= 400
    assert (
        bob.post_form(
            f"/incidents/{incident}/runbooks/service_down/approve", {"step": gated}
        ).status_code
        == 200
    )
    missing = alice.post_form(f"/incidents/{incident}/runbooks/service_down/run", {"step": "99"})
    assert missing.status_code == 404 and "no step" in missing.text


def test_alerts_similar_and_postmortem_panels(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    page = alice.get(f"/incidents/{incident}").text
    assert "Alerts" in page and "No alert attached." in page
    assert "Similar past incidents" in page
    assert f'hx-get="/incidents/{incident}/panels/similar"' in page
    older = runtime.incidents.declare(
        ALICE,
        schemas.DeclareIn(
            title="Checkout was down", severity="SEV2", services=["checkout"], type="service_outage"
        ),
    ).public_id
    similar = alice.get(f"/incidents/{incident}/panels/similar")
    assert similar.status_code == 200 and f'href="/incidents/{older}"' in similar.text
    assert alice.get(f"/incidents/{incident}/panels/nope").status_code == 404
    assert alice.get("/incidents/INC-NOPE/panels/similar").status_code == 404
    assert "Post-mortem" in page
    runtime.postmortems.ensure(ALICE, incident, on_demand=True)
    page = alice.get(f"/incidents/{incident}").text
    assert f'href="/incidents/{incident}/postmortem"' in page
    assert "draft" in page


def test_viewer_sees_panels_without_buttons_and_is_refused(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    victor = web_as("victor", "viewer")
    incident = declare(runtime)
    page = victor.get(f"/incidents/{incident}").text
    assert "Runbooks" in page and "Run</button>" not in page and "Publish update" not in page
    form = {"status": "investigating", "impact": "x", "action": "y", "mode": "publish"}
    assert victor.post_form(f"/incidents/{incident}/updates", form).status_code == 403
    run = victor.post_form(f"/incidents/{incident}/runbooks/service_down/run", {"step": "1"})
    assert run.status_code == 403
    assert runtime.incidents.get(incident).event_count == 1
    alice = web_as("alice", "responder")
    no_csrf = alice.post_form(f"/incidents/{incident}/updates", form, csrf=False)
    assert no_csrf.status_code == 403
