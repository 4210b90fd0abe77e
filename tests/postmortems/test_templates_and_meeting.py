"""Each process's post-mortem template, its completeness check, and the review meeting invite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import icalendar
import pytest

from tests.conftest import Api
from tests.postmortems.conftest import api_for, declare, write_sections
from tests.support.process import resolve_as_policy_asks
from warroom.core.clock import FixedClock
from warroom.core.config import check_config_file
from warroom.core.runtime import Runtime


def resolved(api: Api, runtime: Runtime, severity: str, **extra: Any) -> str:
    incident = declare(api, severity=severity, **extra)
    resolve_as_policy_asks(api, runtime, incident)
    return incident


def headings(body: str) -> list[str]:
    return [line[3:] for line in body.splitlines() if line.startswith("## ")]


def test_each_preset_drafts_the_sections_its_process_lists(
    make_runtime: Callable[[dict[str, Any]], Runtime],
) -> None:
    expected = {
        "nexus-micro": (
            "P0",
            ["Why it was not caught earlier", "Five whys", "Reputation impact", "Data impact"],
        ),
        "bmad-p0-p4": (
            "P0",
            [
                "Review meeting",
                "Where we got lucky",
                "Prevention measures",
                "Monitoring improvements",
            ],
        ),
        "hierarchical": ("SEV1", ["What went well", "What went poorly"]),
        "orchestrator": ("SEV1", ["Contributing factors", "Lessons learned", "Prevention"]),
        "phased": ("SEV1", ["Contributing factors", "Lessons learned"]),
    }
    for preset, (severity, sections) in expected.items():
        runtime = make_runtime({"policy": preset})
        api = api_for(runtime)
        incident = resolved(api, runtime, severity)
        body = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")["body"]
        found = headings(body)
        for section in ["Impact", "Timeline", "Action items", "Root cause", *sections]:
            assert section in found, (preset, section)
        # SLA impact is drafted from the record; a target the process does not set says so.
        assert "- **SLA impact:** response target" in body, preset
        if preset != "nexus-micro":
            assert "resolution target not set by this process" in body, preset
        runtime.close()


def test_submit_and_publish_refuse_blank_sections_and_placeholders(
    make_runtime: Callable[[dict[str, Any]], Runtime],
) -> None:
    runtime = make_runtime({"policy": "phased"})
    api = api_for(runtime)
    incident = resolved(api, runtime, "SEV2")
    path = f"/api/v1/incidents/{incident}/postmortem"
    status, body = api.post(f"{path}/submit")
    assert status == 409 and body["error"]["code"] == "postmortem_incomplete"
    assert [s["section"] for s in body["error"]["details"]["sections"]] == [
        "Root cause",
        "Contributing factors",
        "Lessons learned",
    ]
    # Text pasted from a process template still holds placeholders.
    write_sections(
        api,
        incident,
        Root_cause="A connection pool limit of 10 in v2.3.1.",
        Contributing_factors="1. [Factor 1]\n2. [Factor 2]",
        Lessons_learned="- TBD",
    )
    status, body = api.post(f"{path}/submit")
    assert status == 409
    assert body["error"]["details"]["sections"] == [
        {"section": "Contributing factors", "problem": "still holds a template placeholder"},
        {"section": "Lessons learned", "problem": "still holds a template placeholder"},
    ]
    assert api.ok("GET", path)["status"] == "draft"
    # Prose that merely mentions braces is text, not a placeholder.
    write_sections(
        api,
        incident,
        Contributing_factors="- The /users/{user_id} endpoint had no limit",
        Lessons_learned="- Pool limits need a load test",
    )
    api.ok("POST", f"{path}/submit")
    api.ok("POST", f"{path}/publish")


def test_review_meeting_invite_fills_facilitator_and_attendees(
    make_runtime: Callable[[dict[str, Any]], Runtime], clock: FixedClock
) -> None:
    runtime = make_runtime({"policy": "bmad-p0-p4"})
    api = api_for(runtime)
    viewer = api_for(runtime, "viewer", "victor")
    incident = resolved(api, runtime, "P1", title="Checkout; failing, badly")
    path = f"/api/v1/incidents/{incident}/postmortem"
    body = api.ok("GET", path)["body"]
    assert "- **Facilitator:** {facilitator}" in body
    status, error = api.get(f"{path}/meeting")
    assert status == 404 and error["error"]["code"] == "no_meeting"
    starts = clock.now() + timedelta(days=1)
    request = {
        "starts_at": starts.isoformat(),
        "duration": "45m",
        "facilitator": "erin@example.com",
        "attendees": ["alice@example.com", "bob", "alice@example.com"],
        "location": "https://meet.example.com/pir",
    }
    for change, fragment in (
        ({"starts_at": (clock.now() - timedelta(hours=1)).isoformat()}, "future"),
        ({"duration": "10000000w"}, "duration"),
        ({"duration": "5m"}, "15 minutes to 8 hours"),
        ({"duration": "soon"}, "duration"),
        ({"attendees": []}, "attendees"),
        ({"facilitator": " "}, "facilitator"),
    ):
        status, error = api.post(f"{path}/meeting", {**request, **change})
        assert status == 422 and fragment in str(error), (change, error)
    assert viewer.post(f"{path}/meeting", request)[0] == 403
    assert api.get(f"{path}/meeting")[0] == 404  # every refusal changed nothing
    meeting = api.ok("POST", f"{path}/meeting", json=request)
    assert meeting["attendees"] == ["alice@example.com", "bob"]
    calendar = icalendar.Calendar.from_ical(meeting["ics"])
    assert str(calendar["method"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == f"postmortem-review-{incident}@warroom"
    assert event.decoded("dtstart") == starts
    assert event.decoded("dtend") == starts + timedelta(minutes=45)
    assert str(event["summary"]) == f"Post-incident review: {incident} Checkout; failing, badly"
    assert str(event["organizer"]) == "mailto:erin@example.com"
    attendees = event.get("attendee", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == ["mailto:alice@example.com"]
    assert "bob" in str(event["description"])
    assert str(event["location"]) == "https://meet.example.com/pir"
    # The document's Review meeting section is filled; the timeline has the meeting.
    body = api.ok("GET", path)["body"]
    assert "- **Facilitator:** erin@example.com" in body
    assert "- **Attendees:** alice@example.com, bob" in body
    events = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    assert [e["type"] for e in events].count("postmortem_review_scheduled") == 1
    # Rescheduling updates the same calendar event (same UID, a higher SEQUENCE).
    later = {**request, "starts_at": (starts + timedelta(hours=2)).isoformat()}
    again = api.ok("POST", f"{path}/meeting", json=later)
    (moved,) = icalendar.Calendar.from_ical(again["ics"]).walk("VEVENT")
    assert str(moved["uid"]) == str(event["uid"]) and int(moved["sequence"]) == 1
    response = viewer.client.get(
        f"{path}/meeting", params={"format": "ics"}, headers=viewer.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    assert icalendar.Calendar.from_ical(response.text).walk("VEVENT")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"sections": ["Root cause"], "required": ["Five whys"]}, "not in sections"),
        ({"sections": ["Root cause", "root cause"]}, "unique"),
        ({"sections": ["## Root cause"]}, "one short line"),
    ],
)
def test_a_bad_template_is_a_config_problem(
    tmp_path: Any, template: dict[str, Any], message: str
) -> None:
    import yaml

    path = tmp_path / "warroom.yaml"
    path.write_text(
        yaml.safe_dump({"policy": {"extends": "default", "postmortem_template": template}})
    )
    problems = check_config_file(path)
    assert any(message in p["message"] for p in problems), problems


def test_a_meeting_too_far_in_the_future_is_refused(
    make_runtime: Callable[[dict[str, Any]], Runtime],
) -> None:
    runtime = make_runtime({"policy": "default"})
    api = api_for(runtime)
    incident = resolved(api, runtime, "SEV1")
    path = f"/api/v1/incidents/{incident}/postmortem/meeting"
    for starts in ("9999-12-31T23:30:00Z", "9500-01-01T00:00:00Z"):
        body = {"starts_at": starts, "facilitator": "erin", "attendees": ["bob"]}
        status, error = api.post(path, body)
        assert status == 422, error
    assert api.get(path)[0] == 404
