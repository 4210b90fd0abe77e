"""The pages through HTTP: login and sessions, CSRF, roles, every war-room action, headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from tests.web.conftest import WebUser, csrf_of, login
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.incidents import schemas

ALICE = Principal(name="user:alice", scopes=frozenset({"responder"}), kind="session")


def declare(runtime: Runtime, title: str = "Checkout down", severity: str = "SEV2") -> str:
    request = schemas.DeclareIn(title=title, severity=severity, services=["checkout"])
    return runtime.incidents.declare(ALICE, request).public_id


def test_pages_need_login_and_login_opens_a_session(
    client: TestClient, make_user: Callable[[str, str], None]
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    response = client.get("/incidents?state=all", headers=html, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/incidents%3Fstate%3Dall"
    # Scripts get a plain 401; an event stream gets 204 so the browser stops reconnecting.
    assert client.get("/incidents").status_code == 401
    stream = client.get("/live/dashboard", headers={"Accept": "text/event-stream"})
    assert stream.status_code == 204
    make_user("alice", "responder")
    assert login(client, "alice", "wrong password").status_code == 401
    assert "warroom_session" not in client.cookies
    response = login(client, "alice")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Dashboard" in page.text
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/", headers=html, follow_redirects=False).status_code == 303


def test_login_redirect_stays_on_this_site(
    client: TestClient, make_user: Callable[[str, str], None]
) -> None:
    make_user("alice", "responder")
    page = client.get("/login?next=//evil.example/x")
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={"name": "alice", "password": "correct horse battery", "csrf_token": token,
              "next": "//evil.example/x"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.headers["location"] == "/"


def test_security_headers_and_no_inline_script(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    for path in ("/", "/incidents", "/incidents/new", f"/incidents/{incident}", "/login"):
        response = alice.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # every script has a src
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers
        assert not re.search(r"\sstyle=", html), path  # no inline styles


def test_forms_without_csrf_token_are_refused(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    response = alice.post_form(f"/incidents/{incident}/ack", csrf=False)
    assert response.status_code == 403
    response = alice.post_form(f"/incidents/{incident}/ack", {"csrf_token": "forged"})
    assert response.status_code == 403
    assert runtime.incidents.get(incident).acknowledged_at is None


def test_war_room_actions_go_through_the_service(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    assert alice.post_form(f"/incidents/{incident}/ack").status_code == 303
    assert (
        alice.post_form(
            f"/incidents/{incident}/roles", {"role": "commander", "person": "carol"}
        ).status_code
        == 303
    )
    assert (
        alice.post_form(f"/incidents/{incident}/status", {"status": "investigating"}).status_code
        == 303
    )
    assert (
        alice.post_form(f"/incidents/{incident}/notes", {"text": "rolled back **v2**"}).status_code
        == 303
    )
    assert (
        alice.post_form(
            f"/incidents/{incident}/severity", {"severity": "SEV1", "reason": "all regions"}
        ).status_code
        == 303
    )
    state = runtime.incidents.get(incident)
    assert (state.status.value, state.roles["commander"], state.severity) == (
        "investigating", "carol", "SEV1",
    )  # fmt: skip
    # The checklist guard: an incomplete checklist is refused and changes nothing.
    refused = alice.post_form(
        f"/incidents/{incident}/resolve", {"summary": "fixed", "confirm_issue_gone": "yes"}
    )
    assert refused.status_code == 409
    assert "checklist is incomplete" in refused.text
    assert runtime.incidents.get(incident).status.value == "investigating"
    items = [item.id for item in runtime.policy.resolution_checklist]
    form: dict[str, Any] = {"summary": "rolled back"}
    form.update({f"confirm_{item}": "yes" for item in items[1:]})
    form[f"waive_{items[0]}"] = "not applicable"
    assert alice.post_form(f"/incidents/{incident}/resolve", form).status_code == 303
    state = runtime.incidents.get(incident)
    assert state.status.value == "resolved"
    assert state.resolution_checklist[items[0]] == {"confirmed": False, "waived": "not applicable"}
    page = alice.get(f"/incidents/{incident}").text
    assert "<strong>v2</strong>" in page and '<span class="actor">alice</span>' in page
    assert (
        alice.post_form(f"/incidents/{incident}/reopen", {"reason": "came back"}).status_code == 303
    )
    assert runtime.incidents.get(incident).status.value == "reopened"


def test_declare_form_proposes_and_declares(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    proposal = alice.get("/incidents/new/proposal?complete_outage=yes&customer_facing=yes")
    assert proposal.status_code == 200 and "SEV1" in proposal.text
    response = alice.post_form(
        "/incidents/new",
        {"title": "Site down", "services_text": "web, api", "complete_outage": "yes",
         "customer_facing": "yes", "users_affected_pct": "100", "commander": "alice"},
    )  # fmt: skip
    assert response.status_code == 303
    incident = response.headers["location"].rsplit("/", 1)[1]
    state = runtime.incidents.get(incident)
    assert state.severity == "SEV1" and state.services == ("web", "api")
    assert state.triage is not None and state.roles == {"commander": "alice"}
    # Overriding the proposal without a reason is refused with the reason shown.
    refused = alice.post_form(
        "/incidents/new", {"title": "Site down", "complete_outage": "yes", "severity": "SEV4"}
    )
    assert refused.status_code == 422 and "needs a reason" in refused.text
    listing = alice.get("/incidents?q=site").text
    assert incident in listing


def test_viewer_sees_everything_but_cannot_act(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    victor = web_as("victor", "viewer")
    incident = declare(runtime)
    page = victor.get(f"/incidents/{incident}")
    assert page.status_code == 200 and "Checkout down" in page.text
    assert "Acknowledge" not in page.text and "Post note" not in page.text
    assert "/incidents/new" not in victor.get("/").text
    for path, form in (
        ("ack", {}),
        ("notes", {"text": "hi"}),
        ("roles", {"role": "commander", "person": "victor"}),
        ("status", {"status": "investigating"}),
    ):
        response = victor.post_form(f"/incidents/{incident}/{path}", form)
        assert response.status_code == 403, path
    assert victor.post_form("/incidents/new", {"title": "x"}).status_code == 403
    assert runtime.incidents.get(incident).event_count == 1
    assert victor.get("/admin/tokens").status_code == 403


def test_markdown_is_sanitised(web_as: Callable[[str, str], WebUser], runtime: Runtime) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    payload = (
        '<script>alert(1)</script> <img src=x onerror="alert(2)"> '
        "[click](javascript:alert(3)) **bold**"
    )
    assert alice.post_form(f"/incidents/{incident}/notes", {"text": payload}).status_code == 303
    html = alice.get(f"/incidents/{incident}").text
    assert "<script>alert" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<strong>bold</strong>" in html


def test_session_principal_calls_the_api_with_csrf_header(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    listed = alice.client.get("/api/v1/incidents")
    assert listed.status_code == 200 and listed.json()["items"][0]["id"] == incident
    path = f"/api/v1/incidents/{incident}/notes"
    assert alice.client.post(path, json={"text": "x"}).status_code == 401
    response = alice.client.post(path, json={"text": "x"}, headers={"X-CSRF-Token": alice.csrf})
    assert response.status_code in (200, 201), response.text
    assert runtime.incidents.timeline(incident)[-1].actor == "user:alice"


def test_admin_pages_tokens_and_users(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    root = web_as("root", "admin")
    created = root.post_form("/admin/tokens", {"name": "grafana", "scopes": ["ingest"]})
    assert created.status_code == 201
    token = re.search(r'id="new-token">(wr_[^<]+)<', created.text)
    assert token
    listed = root.client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token[1]}"})
    assert listed.status_code == 403  # an ingest token is not an admin
    token_id = root.client.get("/api/v1/tokens").json()["items"][-1]["id"]
    assert root.post_form(f"/admin/tokens/{token_id}/revoke").status_code == 303
    assert "revoked" in root.get("/admin/tokens").text
    made = root.post_form(
        "/admin/users", {"name": "bob", "password": "long enough pw", "role": "viewer"}
    )
    assert made.status_code == 201 and "bob" in made.text
    short = root.post_form("/admin/users", {"name": "eve", "password": "short", "role": "viewer"})
    assert short.status_code == 422


def test_unknown_incident_is_a_404_page(web_as: Callable[[str, str], WebUser]) -> None:
    alice = web_as("alice", "responder")
    response = alice.get("/incidents/INC-20990101-001", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "Not found" in response.text


def test_repeated_failed_logins_are_throttled(
    client: TestClient, make_user: Callable[[str, str], None]
) -> None:
    make_user("alice", "responder")
    statuses = [login(client, "alice", f"guess {n}").status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]
    assert login(client, "alice").status_code == 429  # even the right password, for a while


def test_dashboard_shows_unacknowledged_and_overdue_updates(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, clock: Any
) -> None:
    alice = web_as("alice", "viewer")
    sev1 = declare(runtime, "Everything is down", "SEV1")
    sev3 = declare(runtime, "Search is slow", "SEV3")
    runtime.incidents.acknowledge(ALICE, sev3)
    clock.advance(timedelta(minutes=20))  # SEV1 wants an update every 15 minutes
    html = alice.get("/").text
    open_part = html[html.index('id="h-open"') : html.index('id="h-unack"')]
    unack = html[html.index('id="h-unack"') : html.index('id="h-overdue"')]
    overdue = html[html.index('id="h-overdue"') :]
    assert sev1 in open_part and sev3 in open_part
    assert sev1 in unack and sev3 not in unack
    assert sev1 in overdue and sev3 not in overdue
    assert "overdue by 5m" in overdue


def test_long_timelines_show_the_newest_entries(
    web_as: Callable[[str, str], WebUser], runtime: Runtime, monkeypatch: Any
) -> None:
    from warroom.web import views

    monkeypatch.setattr(views, "TIMELINE_PAGE", 3)
    alice = web_as("alice", "responder")
    incident = declare(runtime)
    for n in range(5):
        runtime.incidents.add_note(ALICE, incident, schemas.NoteIn(text=f"note number {n}"))
    page = alice.get(f"/incidents/{incident}").text
    assert "3 earlier entries not shown" in page
    assert "note number 4" in page and "note number 1" not in page
    assert "note number 1" in alice.get(f"/incidents/{incident}?all=1").text


def test_first_run_login_page_says_how_to_create_a_user(client: TestClient) -> None:
    assert "warroom user create NAME --role admin" in client.get("/login").text


def test_packages_can_add_nav_entries_by_role(web_as: Callable[[str, str], WebUser]) -> None:
    from warroom.web import pages

    pages.register_nav("Status page admin", "/statuspage/admin", order=60, scope="admin")
    pages.register_nav("On call", "/oncall", order=30)
    try:
        viewer = web_as("victor", "viewer").get("/").text
        admin = web_as("root", "admin").get("/").text
    finally:
        pages._NAV.pop("/statuspage/admin")
        pages._NAV.pop("/oncall")
    assert '<a href="/oncall">On call</a>' in viewer and "/statuspage/admin" not in viewer
    assert "/statuspage/admin" in admin
    assert admin.index('href="/incidents"') < admin.index('href="/oncall"')


def test_pages_refuse_api_tokens(
    client: TestClient, make_token: Callable[..., str], runtime: Runtime
) -> None:
    incident = declare(runtime)
    token = make_token("responder", name="bot")
    reply = client.post(
        f"/incidents/{incident}/ack", headers={"Authorization": f"Bearer {token}"}, data={}
    )
    assert reply.status_code == 403 and "login session" in reply.json()["error"]["message"]
    assert runtime.incidents.get(incident).acknowledged_at is None


def test_api_docs_are_served_locally_without_inline_script(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts and all('src="/' in attrs for attrs in scripts)  # ours, none inline
    assert "//cdn" not in page.text and "https://" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    for asset in ("/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css",
                  "/static/api-docs.js"):  # fmt: skip
        assert client.get(asset).status_code == 200, asset
    assert client.get("/api/openapi.json").json()["info"]["title"] == "warroom"
