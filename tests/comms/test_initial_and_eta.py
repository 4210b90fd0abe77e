"""Status updates as the process documents write them: `mitigating`, the ETA line, and the
initial "Investigating" update at declaration (drafted and prompted, or published at once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.comms.conftest import Env

UPDATE = {
    "status": "mitigating",
    "impact": "Card payments fail for about 30% of users",
    "action": "Rolling back payments v2.3.1",
}


def _events(env: Env, incident: str, kind: str) -> list[dict[str, object]]:
    events = env.api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    return [e for e in events if e["type"] == kind]


def test_mitigating_is_an_update_status_shown_as_identified_on_the_public_page(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    incident = env.declare(severity="SEV1")
    data = env.api.ok("POST", f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    assert "Status: Mitigating" in data["internal"]
    assert data["public"].startswith("Mitigating - Card payments fail")
    # Statuspage knows no "mitigating": the public incident is "identified".
    public = env.public.ok("GET", "/status/api/v2/incidents/unresolved.json")["incidents"]
    assert [i["status"] for i in public] == ["identified"]


def test_the_eta_is_in_internal_and_public_text_when_given(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident = env.declare(severity="SEV1")
    data = env.api.ok(
        "POST", f"/api/v1/incidents/{incident}/updates", json={**UPDATE, "eta": "20 minutes"}
    )
    assert "ETA to resolution: 20 minutes" in data["internal"]
    assert "ETA to resolution: 20 minutes" in data["public"]
    without = env.api.ok("POST", f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    assert "ETA" not in without["internal"] and "ETA" not in without["public"]


def test_a_process_whose_template_always_has_an_eta_says_investigating(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(policy="orchestrator")
    incident = env.declare(severity="SEV1")
    data = env.api.ok("POST", f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    assert "ETA to resolution: investigating" in data["internal"]
    assert "ETA to resolution: investigating" in data["public"]


def test_initial_update_is_published_at_declaration_where_the_policy_says(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(policy="bmad-p0-p4")
    incident = env.declare(severity="P0", title="Checkout failing")
    env.work()
    updates = env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]
    assert len(updates) == 1
    first = updates[0]
    assert first["status"] == "investigating" and first["actor"] == "warroom"
    assert first["public"].startswith("Investigating - We are investigating reports of problems")
    assert "Our team is actively working on this issue." in first["public"]
    assert "Checkout failing" not in first["public"]  # the internal title never goes public
    # The next update is promised on the severity's cadence (30 minutes for P0).
    now = env.runtime.clock.now()
    assert first["next_update_at"] == (now + timedelta(minutes=30)).isoformat()
    public = env.public.ok("GET", "/status/api/v2/incidents/unresolved.json")["incidents"]
    assert [i["status"] for i in public] == ["investigating"]
    # Exactly once, even when the worker runs again.
    env.work()
    assert len(env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]) == 1


def test_initial_update_is_internal_only_where_the_severity_is_not_public(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(policy="bmad-p0-p4")
    incident = env.declare(severity="P2")
    env.work()
    (first,) = env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]
    assert first["public"] is None and first["audience"]["public"] is False
    assert env.public.ok("GET", "/status/api/v2/incidents.json")["incidents"] == []


def test_initial_update_is_drafted_and_prompted_where_the_policy_says(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(policy="hierarchical")
    incident = env.declare(severity="SEV2")
    env.work()
    assert env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"] == []
    (drafted,) = _events(env, incident, "initial_update_drafted")
    data = drafted["data"]
    assert isinstance(data, dict)
    assert f"warroom update {incident} --initial" in data["prompt"]
    assert "Status: Investigating" in data["internal"]
    draft = env.viewer.ok("GET", f"/api/v1/incidents/{incident}/updates/initial")
    assert draft["update"]["status"] == "investigating"
    status, _ = env.viewer.request("POST", f"/api/v1/incidents/{incident}/updates/initial")
    assert status == 403  # publishing needs a responder
    published = env.api.ok("POST", f"/api/v1/incidents/{incident}/updates/initial")
    assert published["status"] == "investigating"
    assert len(env.api.ok("GET", f"/api/v1/incidents/{incident}/updates")["items"]) == 1


def test_no_initial_update_when_one_was_published_first_or_none_is_asked(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(policy="hierarchical")
    incident = env.declare(severity="SEV1")
    env.api.ok("POST", f"/api/v1/incidents/{incident}/updates", json=UPDATE)
    env.work()
    assert _events(env, incident, "initial_update_drafted") == []
    plain = make_env()  # the default policy asks for none
    other = plain.declare(severity="SEV1")
    plain.work()
    assert _events(plain, other, "initial_update_drafted") == []
    assert plain.api.ok("GET", f"/api/v1/incidents/{other}/updates")["items"] == []


def test_initial_update_of_an_unknown_incident_is_404(make_env: Callable[..., Env]) -> None:
    env = make_env()
    status, body = env.api.request("POST", "/api/v1/incidents/INC-20200101-999/updates/initial")
    assert status == 404, body
