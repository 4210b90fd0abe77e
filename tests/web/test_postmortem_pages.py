"""The post-mortem pages: list, read, edit sections, action items and the review workflow,
through HTTP and the real post-mortem services."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.postmortems import draft
from warroom.postmortems.schemas import ListActions

ALICE = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")
XSS = '<script>window.pwned=1</script> <img src=x onerror="alert(1)"> [x](javascript:alert(1))'


def incident_with_postmortem(runtime: Runtime) -> str:
    request = schemas.DeclareIn(title="Checkout down", severity="SEV2", services=["checkout"])
    public_id = runtime.incidents.declare(ALICE, request).public_id
    runtime.postmortems.ensure(ALICE, public_id, on_demand=True)
    return public_id


def version_of(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, html[:300]
    return found.group(1)


def test_list_and_create_on_demand(web_as: Callable[[str, str], WebUser], runtime: Runtime) -> None:
    alice = web_as("alice", "responder")
    request = schemas.DeclareIn(title="Search slow", severity="SEV3", services=["search"])
    incident = runtime.incidents.declare(ALICE, request).public_id
    page = alice.get(f"/incidents/{incident}/postmortem")
    assert page.status_code == 200 and "No post-mortem yet" in page.text
    assert "Create the post-mortem now" in page.text
    assert "No post-mortem yet" in alice.get("/postmortems").text
    created = alice.post_form(f"/incidents/{incident}/postmortem/create")
    assert created.status_code == 303
    assert created.headers["location"] == f"/incidents/{incident}/postmortem"
    assert runtime.postmortems.get(incident)["status"] == "draft"
    listing = alice.get("/postmortems").text
    assert f'href="/incidents/{incident}/postmortem"' in listing and "Search slow" in listing
    assert incident in alice.get("/postmortems?status=draft").text
    assert incident not in alice.get("/postmortems?status=published").text
    assert alice.get("/incidents/INC-NOPE/postmortem").status_code == 404


def test_edit_a_section_renders_sanitised(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    page = alice.get(f"/incidents/{incident}/postmortem").text
    assert "Root cause (Markdown)" in page and "Save Root cause" in page
    version = version_of(page)
    text = "The pool **ran dry** after the deploy.\n\n" + XSS
    saved = alice.post_form(
        f"/incidents/{incident}/postmortem/sections",
        {"section": "Root cause", "text": text, "version": version},
    )
    assert saved.status_code == 303
    pm = runtime.postmortems.get(incident)
    assert "The pool **ran dry**" in pm["body"] and pm["version"] == int(version) + 1
    assert "## Summary" in pm["body"] and "## Lessons learned" in pm["body"]
    page = alice.get(f"/incidents/{incident}/postmortem").text
    document = page.split('id="pm-document"', 1)[1].split("</article>", 1)[0]
    assert "<strong>ran dry</strong>" in document
    assert "<script>" not in document and "<img" not in document
    assert 'href="javascript' not in document and "&lt;script&gt;" in document


def test_bad_section_edits_change_nothing(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    before = runtime.postmortems.get(incident)
    version = str(before["version"])
    url = f"/incidents/{incident}/postmortem/sections"
    stale = alice.post_form(url, {"section": "Root cause", "text": "x", "version": "0"})
    assert stale.status_code == 409 and "changed since version 0" in stale.text
    unknown = alice.post_form(url, {"section": "No such", "text": "x", "version": version})
    assert unknown.status_code == 422 and "no section" in unknown.text
    heading = alice.post_form(
        url, {"section": "Root cause", "text": "ok\n## Sneaky", "version": version}
    )
    assert heading.status_code == 422 and "heading" in heading.text
    empty = alice.post_form(
        f"/incidents/{incident}/postmortem/body", {"body": "  ", "version": version}
    )
    assert empty.status_code == 422 and "cannot be empty" in empty.text
    category = alice.post_form(
        f"/incidents/{incident}/postmortem/category",
        {"root_cause_category": "gremlins", "version": version},
    )
    assert category.status_code == 422 and "unknown root-cause category" in category.text
    no_csrf = alice.post_form(url, {"section": "Root cause", "text": "x"}, csrf=False)
    assert no_csrf.status_code == 403
    assert runtime.postmortems.get(incident) == before
    # The refused page keeps what was typed and says why.
    assert 'role="alert"' in stale.text


def test_action_items_add_edit_assign_done_delete(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    items = runtime.action_items
    base = f"/incidents/{incident}/postmortem/actions"
    added = alice.post_form(
        base,
        {"title": "Alert on pool saturation", "owner": "bob", "due": "2030-01-31",
         "priority": "1", "type": "detect", "description": "*soon*"},
    )  # fmt: skip
    assert added.status_code == 303
    (item,) = items.list(ListActions(incident=incident))
    assert item["owner"] == "bob" and item["due_at"].startswith("2030-01-31")
    assert item["priority"] == 1 and item["type"] == "detect"
    page = alice.get(f"/incidents/{incident}/postmortem").text
    assert "Alert on pool saturation" in page and "<em>soon</em>" in page

    edited = alice.post_form(
        f"{base}/{item['id']}",
        {"title": "Alert on pool saturation (p95)", "owner": "carol", "due": "2030-02-15",
         "priority": "2", "type": "detect", "status": "in_progress", "description": ""},
    )  # fmt: skip
    assert edited.status_code == 303
    item = items.get(item["id"])
    assert item["owner"] == "carol" and item["status"] == "in_progress"
    assert item["due_at"].startswith("2030-02-15") and item["title"].endswith("(p95)")
    done = alice.post_form(f"{base}/{item['id']}", {"status": "done"})
    assert done.status_code == 303 and items.get(item["id"])["status"] == "done"
    assert items.get(item["id"])["owner"] == "carol"

    # Bad input: a clear message, nothing changed.
    before = items.get(item["id"])
    for form, message in (
        ({"title": "x", "due": "next week"}, "due date"),
        ({"title": "x", "priority": "9"}, "priority"),
        ({"title": "   "}, "needs a title"),
        ({"status": "sleeping"}, "status"),
    ):
        refused = alice.post_form(f"{base}/{item['id']}", form)
        assert refused.status_code == 422 and message in refused.text, refused.text[-800:]
    assert items.get(item["id"]) == before
    typed = {"title": "Page the DBA", "due": "someday", "form_id": "new-item"}
    refused = alice.post_form(base, typed)
    assert refused.status_code == 422 and "due date" in refused.text
    assert 'id="new-item-title" name="title" required maxlength="500" value="Page the DBA"' in (
        refused.text
    )
    assert alice.post_form(base, {"title": ""}).status_code == 422
    assert len(items.list(ListActions(incident=incident))) == 1

    # An item of another incident is not reachable through this one.
    other = incident_with_postmortem(runtime)
    assert alice.post_form(f"/incidents/{other}/postmortem/actions/{item['id']}",
                           {"status": "open"}).status_code == 404  # fmt: skip
    deleted = alice.post_form(f"{base}/{item['id']}/delete")
    assert deleted.status_code == 303
    assert items.list(ListActions(incident=incident)) == []


def test_review_workflow_draft_review_publish(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    pms = runtime.postmortems
    url = f"/incidents/{incident}/postmortem"
    early = alice.post_form(f"{url}/publish")
    assert early.status_code == 409 and "submit it first" in early.text
    assert pms.get(incident)["status"] == "draft"
    assert "Before it can be submitted, write:" in alice.get(url).text
    blank = alice.post_form(f"{url}/submit", {"reviewers": "bob, carol"})
    assert blank.status_code == 409 and "Root cause" in blank.text  # the template requires it
    version = str(pms.get(incident)["version"])
    written = {"section": "Root cause", "text": "A pool limit of 10.", "version": version}
    assert alice.post_form(f"{url}/sections", written).status_code == 303
    assert alice.post_form(f"{url}/submit", {"reviewers": "bob, carol"}).status_code == 303
    pm = pms.get(incident)
    assert pm["status"] == "in_review" and pm["reviewers"] == ["bob", "carol"]
    page = alice.get(url).text
    assert "Approve and publish" in page and "Submit for review" not in page
    assert alice.post_form(f"{url}/return", {"reason": ""}).status_code == 422
    assert alice.post_form(f"{url}/return", {"reason": "add the five whys"}).status_code == 303
    assert pms.get(incident)["status"] == "draft"
    assert alice.post_form(f"{url}/regenerate").status_code == 303
    assert alice.post_form(f"{url}/submit").status_code == 303
    assert alice.post_form(f"{url}/publish").status_code == 303
    pm = pms.get(incident)
    assert pm["status"] == "published"
    page = alice.get(url).text
    assert "Save Root cause" not in page and "Submit for review" not in page
    final = alice.post_form(
        f"{url}/sections", {"section": "Root cause", "text": "late", "version": str(pm["version"])}
    )
    assert final.status_code == 409 and "final" in final.text
    assert pms.get(incident) == pm
    assert alice.post_form(f"{url}/frobnicate").status_code == 404


def test_viewer_reads_but_cannot_edit(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    victor = web_as("victor", "viewer")
    incident = incident_with_postmortem(runtime)
    before = runtime.postmortems.get(incident)
    page = victor.get(f"/incidents/{incident}/postmortem")
    assert page.status_code == 200 and 'id="pm-document"' in page.text
    assert "Save Root cause" not in page.text and "Add action item" not in page.text
    assert "Submit for review" not in page.text
    url = f"/incidents/{incident}/postmortem"
    version = str(before["version"])
    for path, form in (
        (f"{url}/sections", {"section": "Root cause", "text": "mine", "version": version}),
        (f"{url}/submit", {}),
        (f"{url}/actions", {"title": "sneaky"}),
    ):
        assert victor.post_form(path, form).status_code == 403
    assert runtime.postmortems.get(incident) == before
    assert runtime.action_items.list(ListActions(incident=incident)) == []


def test_review_meeting_is_scheduled_from_the_page_with_an_ics_invite(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    url = f"/incidents/{incident}/postmortem"
    assert "Schedule the review meeting" in alice.get(url).text
    form = {
        "starts_at": "2031-01-15T10:00",
        "duration": "45m",
        "facilitator": "erin",
        "attendees": "alice, bob@example.com",
    }
    bad = alice.post_form(f"{url}/meeting", {**form, "duration": "10000000w"})
    assert bad.status_code == 422
    assert alice.post_form(f"{url}/meeting", form).status_code == 303
    page = alice.get(url).text
    assert "facilitator erin" in page and "alice, bob@example.com" in page
    invite = alice.get(f"/api/v1/incidents/{incident}/postmortem/meeting?format=ics")
    assert invite.status_code == 200 and "BEGIN:VCALENDAR" in invite.text
    assert "DTSTART:20310115T100000Z" in invite.text


def _document(html: str) -> str:
    return html.split('id="pm-document"', 1)[1].split("</article>", 1)[0]


def test_panel_changes_show_in_the_editor_the_api_and_the_export(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    from warroom.oncall import models

    admin = Principal(name="admin", scopes=frozenset({"admin"}))
    runtime.oncall.create_person(admin, models.PersonIn(name="erin", display_name="Erin Walsh"))
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    url = f"/incidents/{incident}/postmortem"
    base = f"{url}/actions"
    added = {"title": "Cap the pool wait", "owner": "bob", "due": "2030-01-31",
             "form_id": "new-item"}  # fmt: skip
    assert alice.post_form(base, added).status_code == 303
    (item,) = runtime.action_items.list(ListActions(incident=incident))
    # Reassigned and re-dated beside the document (the quick form: owner, due date, status).
    quick = {"owner": "erin", "due": "2030-03-01", "status": "in_progress",
             "form_id": f"item-{item['id']}"}  # fmt: skip
    assert alice.post_form(f"{base}/{item['id']}", quick).status_code == 303
    # The post-mortem's own owner and due date, moved with a reason.
    moved = {"owner": "erin", "due_at": "2030-02-10T12:00", "reason": "vendor RCA",
             "form_id": "schedule"}  # fmt: skip
    assert alice.post_form(f"{url}/schedule", moved).status_code == 303

    page = alice.get(url).text
    document = _document(page)
    section = document.split('id="sec-action-items"', 1)[1].split("</section>", 1)[0]
    assert "Erin Walsh" in section and "2030-03-01" in section and "in_progress" in section
    assert "bob" not in section and "2030-01-31" not in section
    assert "owner Erin Walsh; due 2030-02-10 12:00 UTC" in document
    assert "Owner <strong>Erin Walsh</strong>" in page  # the panel says the same
    api = alice.get(f"/api/v1/incidents/{incident}/postmortem?format=markdown").text
    assert "| Erin Walsh | 2030-03-01 | P2 | in_progress |" in api
    assert "owner Erin Walsh; due 2030-02-10 12:00 UTC" in api
    html = alice.get(f"/api/v1/incidents/{incident}/postmortem?format=html").text
    assert "Erin Walsh" in html and "2030-03-01" in html and "2030-01-31" not in html
    # Cleared: no owner, no due date.
    cleared = {"owner": "", "due": "", "status": "in_progress", "form_id": f"item-{item['id']}"}
    assert alice.post_form(f"{base}/{item['id']}", cleared).status_code == 303
    item = runtime.action_items.get(item["id"])
    assert item["owner"] is None and item["due_at"] is None
    assert "| prevent | - | - | P2 | in_progress |" in runtime.postmortems.get(incident)["body"]


def test_refused_forms_keep_what_was_typed(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = incident_with_postmortem(runtime)
    url = f"/incidents/{incident}/postmortem"
    before = runtime.postmortems.get(incident)
    # Moving the due date without a reason: refused, the owner and date typed stay.
    refused = alice.post_form(
        f"{url}/schedule", {"owner": "dana", "due_at": "2031-05-05T08:30", "form_id": "schedule"}
    )
    assert refused.status_code == 422 and "needs a reason" in refused.text
    assert 'id="pm-owner" name="owner" required maxlength="200" list="pm-people" ' in refused.text
    assert 'value="dana"' in refused.text and 'value="2031-05-05T08:30"' in refused.text
    assert runtime.postmortems.get(incident)["owner"] == before["owner"]
    # A section refused (stale version) keeps its text in its open editor.
    stale = alice.post_form(
        f"{url}/sections",
        {"section": "Five whys", "text": "1. The pool was 10.", "version": "0",
         "form_id": "section-five-whys"},
    )  # fmt: skip
    assert stale.status_code == 409
    assert '<details class="pm-edit" id="edit-five-whys" open>' in stale.text
    assert ">1. The pool was 10.</textarea>" in stale.text
    # A recorded section cannot be edited by hand.
    recorded = alice.post_form(
        f"{url}/sections", {"section": "Timeline", "text": "x", "version": str(before["version"])}
    )
    assert recorded.status_code == 422 and "incident&#39;s record" in recorded.text
    # An action item's bad due date: the other values typed are kept.
    alice.post_form(f"{url}/actions", {"title": "Cap the pool wait", "form_id": "new-item"})
    (item,) = runtime.action_items.list(ListActions(incident=incident))
    bad = alice.post_form(
        f"{url}/actions/{item['id']}",
        {"owner": "zed", "due": "someday", "status": "done", "form_id": f"item-{item['id']}"},
    )
    assert bad.status_code == 422 and "due date" in bad.text
    assert f'id="item-{item["id"]}-owner" name="owner"' in bad.text and 'value="zed"' in bad.text
    assert '<option value="done" selected>' in bad.text
    assert runtime.action_items.get(item["id"]) == item
    after = runtime.postmortems.get(incident)  # the document now lists the item; nothing else
    assert after["version"] == before["version"] and after["owner"] == before["owner"]
    assert draft.section(after["body"], "Five whys") == draft.section(before["body"], "Five whys")


def test_list_puts_overdue_and_due_soon_first(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, clock: FixedClock
) -> None:
    from datetime import timedelta

    alice = web_as("alice", "responder")

    def scheduled(owner: str, due_in: timedelta) -> str:
        public_id = incident_with_postmortem(runtime)
        due = schemas.PostmortemScheduleIn(owner=owner, due_at=clock.now() + due_in, reason="x")
        runtime.incidents.schedule_postmortem(ALICE, public_id, due)
        return public_id

    later = scheduled("dave", timedelta(days=10))
    soon = scheduled("bob", timedelta(days=2))
    late = scheduled("carol", timedelta(hours=1))
    clock.advance(timedelta(hours=2))  # `late` is now overdue, `soon` due within 3 days
    page = alice.get("/postmortems").text
    rows = page.split('id="pm-rows"', 1)[1].split("</tbody>", 1)[0].split("<tr class=")[1:]
    order = [next(i for i in (late, soon, later) if i in row) for row in rows]
    assert order == [late, soon, later]
    assert rows[0].startswith('"is-overdue"') and "overdue</span>" in rows[0]
    assert rows[1].startswith('"is-due-soon"') and "due soon" in rows[1]
    assert "carol" in rows[0] and "bob" in rows[1]
    assert 'id="pm-overdue-count">1 overdue' in page
