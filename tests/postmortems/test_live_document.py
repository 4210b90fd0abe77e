"""The post-mortem document and the panel agree at all times: the recorded facts (owner, due
date, action items, timeline, responders) are rendered from the incident when the document is
read or exported; the sections people wrote are kept as written. People are named once each."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Api
from tests.postmortems.conftest import record_incident, write_sections
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.incidents.model import Event
from warroom.oncall import models
from warroom.postmortems import draft

ADMIN = Principal(name="admin", scopes=frozenset({"admin"}))


def _section(body: str, title: str) -> str:
    return draft.section(body, title)


def _documents(api: Api, incident: str) -> dict[str, str]:
    """The document as the API's JSON, its Markdown and its HTML give it."""
    path = f"/api/v1/incidents/{incident}/postmortem"
    markdown = api.client.get(path, params={"format": "markdown"}, headers=api.headers)
    html = api.client.get(path, params={"format": "html"}, headers=api.headers)
    assert markdown.status_code == html.status_code == 200
    return {"json": api.ok("GET", path)["body"], "markdown": markdown.text, "html": html.text}


def test_action_item_owner_and_due_changes_show_in_the_document_api_and_export(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = record_incident(api, runtime, clock)
    write_sections(api, incident, Root_cause="A pool limit of 10 starved payments.")
    before = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")
    assert "None yet: add them" in _section(before["body"], "Action items")

    # An action item added after drafting is in the document at once.
    item = api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/actions",
        json={"title": "Alert on pool saturation", "owner": "bob", "due_at": "2030-01-31"},
    )
    for text in _documents(api, incident).values():
        assert "Alert on pool saturation" in text and "2030-01-31" in text

    # Its owner and due date change: every rendering says the new ones, none the old.
    api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"owner": "erin", "due_at": "2030-03-01"})
    docs = _documents(api, incident)
    for text in docs.values():
        assert "erin" in text and "2030-03-01" in text and "2030-01-31" not in text
    row = next(
        line for line in _section(docs["json"], "Action items").splitlines() if "pool" in line
    )
    assert "| erin |" in row and "| bob |" not in row

    # The post-mortem's own owner and due date move: the header line follows.
    api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/postmortem/schedule",
        json={"owner": "dave", "due_at": "2030-02-10T12:00:00+00:00", "reason": "vendor report"},
    )
    pm = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")
    assert pm["owner"] == "dave" and pm["due_at"].startswith("2030-02-10")
    for text in _documents(api, incident).values():
        assert "owner dave" in text and "2030-02-10 12:00 UTC" in text
    # People's sections are untouched, and nothing was stored for the facts to change.
    assert "A pool limit of 10 starved payments." in _section(pm["body"], "Root cause")
    assert pm["version"] == before["version"]

    # Published: what people wrote is final, the facts stay current (the export too).
    api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/submit")
    api.ok("POST", f"/api/v1/incidents/{incident}/postmortem/publish")
    api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"status": "done"})
    export = api.ok("GET", "/api/v1/postmortems/export")
    (file,) = [f for f in export["files"] if f["incident"] == incident]
    line = next(x for x in _section(file["markdown"], "Action items").splitlines() if "pool" in x)
    assert line.rstrip().endswith("| done |")
    assert "A pool limit of 10 starved payments." in file["markdown"]
    assert "done" in file["html"]


def test_edits_keep_people_sections_and_rebuild_the_recorded_facts(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = record_incident(api, runtime, clock)
    path = f"/api/v1/incidents/{incident}/postmortem"
    pm = api.ok("GET", path)
    assert (
        "Action items" in pm["generated_sections"]
        and "Root cause" not in (pm["generated_sections"])
    )
    # A whole-document edit that also rewrote a recorded section: the person's section is
    # kept, the recorded one comes from the incident again.
    body = draft.replace_section(pm["body"], "Root cause", "The pool was too small.")
    body = draft.replace_section(body, "Action items", "| 1 | made up | | | | | |")
    edited = api.ok("PUT", path, json={"body": body, "version": pm["version"]})
    assert "The pool was too small." in _section(edited["body"], "Root cause")
    assert "made up" not in edited["body"]
    assert "None yet: add them" in _section(edited["body"], "Action items")
    # One section at a time: a recorded one is refused with the reason, nothing changes.
    service = runtime.postmortems
    principal = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")
    from warroom.core.errors import InvalidInput

    try:
        service.edit_section(principal, incident, "Timeline", "x", version=edited["version"])
    except InvalidInput as exc:
        assert exc.code == "generated_section" and "incident's record" in exc.message
    else:
        raise AssertionError("a recorded section was edited")
    assert api.ok("GET", path)["version"] == edited["version"]
    saved = service.edit_section(
        principal, incident, "Five whys", "1. The pool was 10.", version=edited["version"]
    )
    assert "1. The pool was 10." in _section(saved["body"], "Five whys")
    assert "The pool was too small." in _section(saved["body"], "Root cause")
    # The completeness guard reads the same document.
    assert all(p["section"] not in ("Root cause", "Five whys") for p in saved["incomplete"])


def test_responders_are_listed_once_each_by_display_name(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    runtime.oncall.create_person(ADMIN, models.PersonIn(name="bob", display_name="Bob Okafor"))
    incident = record_incident(api, runtime, clock)
    runtime.incidents.append_events(
        ADMIN,
        incident,
        [
            Event("note_added", "user:bob", clock.now(), {"text": "from the web"}),
            Event("note_added", "bob", clock.now(), {"text": "from the local CLI"}),
            Event("note_added", "token:bob", clock.now(), {"text": "from a script"}),
            Event("note_added", "root", clock.now(), {"text": "the server's admin"}),
            Event("note_added", "agent:scribe", clock.now(), {"text": "a summary"}),
        ],
    )
    clock.advance(timedelta(minutes=1))
    api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/roles",
        json={"role": "scribe", "person": "bob"},
    )
    body = api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")["body"]
    roles = _section(body, "Roles and responders")
    responders = next(line for line in roles.splitlines() if "**Responders:**" in line)
    names = responders.split("**Responders:**", 1)[1].strip().split(", ")
    # token:alice (the API token) is alice; carol and dave hold roles; bob once, by name.
    assert names.count("Bob Okafor") == 1 and "bob" not in names
    assert "alice" in names and "carol" in names and "dave" in names and "root" in names
    assert "scribe (assistant)" in names  # an agent, said to be one
    assert len(names) == len(set(names))
    assert "**scribe:** Bob Okafor" in roles
    # The timeline names the same way: no `user:`/`token:` prefixes, bob by display name.
    timeline = _section(body, "Timeline")
    assert "user:" not in timeline and "token:" not in timeline
    assert "| Bob Okafor |" in timeline and "Bob Okafor took the scribe role" in timeline


def test_clearing_an_action_item_description_is_not_a_server_error(
    api: Api, runtime: Runtime, clock: FixedClock
) -> None:
    incident = record_incident(api, runtime, clock)
    item = api.ok(
        "POST", f"/api/v1/incidents/{incident}/actions", json={"title": "x", "description": "d"}
    )
    cleared = api.ok("PATCH", f"/api/v1/actions/{item['id']}", json={"description": None})
    assert cleared["description"] == ""
    status, body = api.request("PATCH", f"/api/v1/actions/{item['id']}", json={"status": None})
    assert status == 422 and "status cannot be empty" in str(body)
    assert api.ok("GET", f"/api/v1/actions/{item['id']}")["status"] == "open"
