"""The war room's condition-flags control and MUST STOP banner, through HTTP forms: the same
services as `POST /api/v1/incidents/{id}/flags` and `.../stops/{rule}/acknowledge`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import WebUser, csrf_of, login
from warroom.api.app import create_app
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.incidents import schemas
from warroom.web import users
from warroom.workbench.schemas import ConfirmIn
from warroom.worker import Worker

ALICE = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")
Room = Callable[[str], tuple[Runtime, Callable[[str, str], WebUser]]]


@pytest.fixture
def room(settings: Settings, clock: FixedClock) -> Iterator[Room]:
    """A runtime on one policy preset, and logged-in web users of it."""
    opened: list[Runtime] = []
    clients: list[TestClient] = []

    def make(policy: str) -> tuple[Runtime, Callable[[str, str], WebUser]]:
        config = parse_config({"policy": policy})
        runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
        opened.append(runtime)

        def as_user(name: str, role: str) -> WebUser:
            with runtime.db.write() as conn:
                users.create_user(
                    conn, name=name, password="correct horse battery", role=role,
                    created_by="tests", now=runtime.clock.now(),
                )  # fmt: skip
            client = TestClient(create_app(runtime), raise_server_exceptions=False)
            client.__enter__()
            clients.append(client)
            assert login(client, name).status_code == 303
            return WebUser(client, csrf_of(client.get("/").text))

        return runtime, as_user

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    for runtime in opened:
        runtime.close()


def work(runtime: Runtime) -> None:
    worker = Worker(runtime, name="test-worker")
    while worker.run_once() > 0:
        pass


def events(runtime: Runtime, incident: str, kind: str) -> list[Any]:
    return [e for e in runtime.incidents.timeline(incident) if e.type == kind]


def flags_panel(html: str) -> str:
    return html.split('id="incident-flags"', 1)[1].split("</section>", 1)[0]


def banner(html: str) -> str:
    return html.split('id="must-stop"', 1)[1].split("</div>\n", 1)[0]


def declare(runtime: Runtime, severity: str, **extra: Any) -> str:
    body = schemas.DeclareIn(title="Orders failing", severity=severity, **extra)
    return runtime.incidents.declare(ALICE, body).public_id


def test_set_and_clear_a_flag_from_the_war_room_fires_its_escalation(room: Room) -> None:
    runtime, as_user = room("nexus-micro")
    alice = as_user("alice", "responder")
    incident = declare(runtime, "P2")
    page = alice.get(f"/incidents/{incident}").text
    assert "No flags set" in flags_panel(page)
    assert '<option value="data_breach_suspected">' in page  # offered as a suggestion
    assert '<option value="stopped">' not in page  # warroom's own flag is not offered

    form = {"form_id": "flag", "flag": "data_breach_suspected", "value": "on",
            "reason": "odd logins from one ASN"}  # fmt: skip
    response = alice.post_form(f"/incidents/{incident}/flags", form)
    assert response.status_code == 303, response.text
    assert runtime.incidents.get(incident).flags == {"data_breach_suspected": True}
    page = alice.get(f"/incidents/{incident}").text
    panel = flags_panel(page)
    assert "data breach suspected</strong>: yes" in panel and "odd logins from one ASN" in panel
    assert "data breach suspected: yes — odd logins from one ASN" in page  # on the timeline
    work(runtime)
    rules = {e.data.get("rule") for e in events(runtime, incident, "escalated")}
    assert "data-breach" in rules  # nexus-micro's condition escalation (legal, security)

    cleared = {"form_id": "flag", "flag": "data_breach_suspected", "value": "off",
               "reason": "a pen test, announced"}  # fmt: skip
    assert alice.post_form(f"/incidents/{incident}/flags", cleared).status_code == 303
    assert runtime.incidents.get(incident).flags == {"data_breach_suspected": False}
    page = alice.get(f"/incidents/{incident}").text
    assert "data breach suspected: no — a pen test, announced" in page


def test_bad_flag_input_is_refused_with_what_was_typed_kept(room: Room) -> None:
    runtime, as_user = room("nexus-micro")
    alice = as_user("alice", "responder")
    incident = declare(runtime, "P2")
    before = len(runtime.incidents.timeline(incident))

    blank = {"form_id": "flag", "flag": "data_loss", "value": "on", "reason": "  "}
    refused = alice.post_form(f"/incidents/{incident}/flags", blank)
    assert refused.status_code == 422
    assert "say why the flag changes" in refused.text
    assert 'value="data_loss"' in flags_panel(refused.text)

    system = {"form_id": "flag", "flag": "stopped", "value": "on", "reason": "testing the banner"}
    refused = alice.post_form(f"/incidents/{incident}/flags", system)
    assert refused.status_code == 422
    assert "set by warroom itself" in refused.text
    panel = flags_panel(refused.text)
    assert 'value="stopped"' in panel and 'value="testing the banner"' in panel
    assert '<details id="flag-form-fold" open>' in panel

    bad_name = {"form_id": "flag", "flag": "Data Loss!", "value": "on", "reason": "x"}
    assert alice.post_form(f"/incidents/{incident}/flags", bad_name).status_code == 422
    assert runtime.incidents.get(incident).flags == {}
    assert len(runtime.incidents.timeline(incident)) == before


def test_a_viewer_sees_no_flag_or_stop_form_and_is_refused(room: Room) -> None:
    runtime, as_user = room("orchestrator")
    viewer = as_user("victor", "viewer")
    alice = as_user("alice", "responder")
    incident = declare(runtime, "SEV1", triage=schemas.TriageIn(data_loss=True))
    assert runtime.incidents.get(incident).stops  # the data-loss MUST STOP
    page = viewer.get(f"/incidents/{incident}").text
    assert "MUST STOP" in banner(page)
    assert "/flags" not in page and "/acknowledge" not in page
    form = {"flag": "customer_facing", "value": "on", "reason": "x"}
    assert viewer.post_form(f"/incidents/{incident}/flags", form).status_code == 403
    rule = next(iter(runtime.incidents.get(incident).stops))
    ack = {"decision": "go ahead"}
    assert (
        viewer.post_form(f"/incidents/{incident}/stops/{rule}/acknowledge", ack).status_code == 403
    )
    # A forged post (no CSRF token) is refused even for a responder.
    forged = alice.post_form(f"/incidents/{incident}/flags", form, csrf=False)
    assert forged.status_code == 403
    state = runtime.incidents.get(incident)
    assert "customer_facing" not in state.flags and rule in state.stops


def test_must_stop_banner_until_a_person_acknowledges_with_a_decision(room: Room) -> None:
    runtime, as_user = room("orchestrator")
    alice = as_user("alice", "responder")
    incident = declare(runtime, "SEV2")
    page = alice.get(f"/incidents/{incident}").text
    assert "MUST STOP" not in page

    form = {
        "form_id": "flag",
        "flag": "data_loss",
        "value": "on",
        "reason": "orders table truncated",
    }
    assert alice.post_form(f"/incidents/{incident}/flags", form).status_code == 303
    state = runtime.incidents.get(incident)
    assert state.stopped and list(state.stops) == ["data-loss"]
    page = alice.get(f"/incidents/{incident}").text
    shown = banner(page)
    assert 'role="alert"' in shown and "MUST STOP:" in shown
    assert "Surface, don't solve" in shown and "(rule data-loss)" in shown
    assert "<time" in shown  # since when
    # The banner is the first thing in the war room, above the header.
    assert page.index('id="must-stop"') < page.index('id="incident-header"')

    path = f"/incidents/{incident}/stops/data-loss/acknowledge"
    refused = alice.post_form(path, {"form_id": "stop-data-loss", "decision": "   "})
    assert refused.status_code == 422 and "MUST STOP" in banner(refused.text)
    assert runtime.incidents.get(incident).stopped
    unknown = alice.post_form(f"/incidents/{incident}/stops/recurred/acknowledge",
                              {"decision": "x"})  # fmt: skip
    assert unknown.status_code == 404

    decision = "restore from the 02:00 backup; DPO informed"
    done = alice.post_form(path, {"form_id": "stop-data-loss", "decision": decision})
    assert done.status_code == 303, done.text
    state = runtime.incidents.get(incident)
    assert not state.stopped and state.stops == {}
    page = alice.get(f"/incidents/{incident}").text
    assert "MUST STOP:" not in banner(page)
    assert "MUST STOP acknowledged" in page and decision in page
    (ack,) = events(runtime, incident, "stop_acknowledged")
    assert ack.data["decision"] == decision and ack.actor == "user:alice"


def test_reopening_a_resolved_incident_raises_the_recurrence_banner(
    room: Room,
) -> None:
    runtime, as_user = room("orchestrator")
    alice = as_user("alice", "responder")
    incident = declare(runtime, "SEV3")
    runtime.incidents.acknowledge(ALICE, incident)
    runtime.incidents.assign_role(ALICE, incident, schemas.RoleIn(role="commander", person="alice"))
    checklist = {item.id: schemas.ChecklistAnswer(confirmed=True) for item in
                 runtime.policy.resolution_checklist}  # fmt: skip
    resolve = schemas.ResolveIn(summary="rolled back", checklist=checklist,
                                waive_verification="a test incident")  # fmt: skip
    runtime.incidents.resolve(ALICE, incident, resolve)
    assert not runtime.incidents.get(incident).stopped
    response = alice.post_form(
        f"/incidents/{incident}/reopen", {"form_id": "reopen", "reason": "errors are back"}
    )
    assert response.status_code == 303
    page = alice.get(f"/incidents/{incident}").text
    assert "errors are back" in banner(page) and "/stops/recurred/acknowledge" in page


def test_phased_resolve_form_asks_for_the_root_cause_and_the_permanent_fix(room: Room) -> None:
    """Seed 004's resolution phase in the war room: the resolve form marks both fields
    required; a resolve without them is refused with what was typed kept, and nothing
    changes; with them the incident is resolved and shows both."""
    runtime, as_user = room("phased")
    alice = as_user("alice", "responder")
    incident = declare(runtime, "SEV3")
    mitigation = {"action": "restart", "outcome": "succeeded"}
    runtime.workbench.mitigations.record(ALICE, incident, mitigation, [])
    runtime.workbench.confirm_verification(ALICE, incident, ConfirmIn(note="healthy"))
    page = alice.get(f"/incidents/{incident}").text
    assert "Root cause (required by this process)" in page
    assert 'name="permanent_fix" rows="2" required' in page
    form: dict[str, Any] = {"form_id": "resolve", "summary": "Pool exhaustion fixed",
                            "root_cause": "batch job held connections"}  # fmt: skip
    form.update({f"confirm_{i.id}": "yes" for i in runtime.policy.resolution_checklist})
    before = len(runtime.incidents.timeline(incident))
    refused = alice.post_form(f"/incidents/{incident}/resolve", form)
    assert refused.status_code == 409, refused.text[:500]
    assert "permanent fix" in refused.text and "batch job held connections" in refused.text
    assert len(runtime.incidents.timeline(incident)) == before
    form["permanent_fix"] = "connection timeout on the batch job, deployed"
    assert alice.post_form(f"/incidents/{incident}/resolve", form).status_code == 303
    state = runtime.incidents.get(incident)
    assert state.status.value == "resolved"
    assert state.permanent_fix == "connection timeout on the batch job, deployed"
    page = alice.get(f"/incidents/{incident}").text
    assert "Root cause:</strong> batch job held connections" in page
