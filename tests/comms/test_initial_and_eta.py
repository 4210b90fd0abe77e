"""Status updates as the process documents write them: `mitigating`, the ETA line, and the
initial "Investigating" update at declaration (drafted and prompted, or published at once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.comms.conftest import Env
from tests.support.process import resolve_as_policy_asks
from warroom.cli.main import app
from warroom.core.config import check_config_file, config_file_warnings

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


def _resolve_with_cause(env: Env, incident: str) -> str:
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={**UPDATE, "cause": "A bad deploy of payments v2.3.1", "public_title": incident},
    )
    resolve_as_policy_asks(env.api, env.runtime, incident)
    env.work()
    listed = env.public.ok("GET", "/status/api/v2/incidents.json")["incidents"]
    (public,) = [i for i in listed if i["name"] == incident]
    assert public["status"] == "resolved"
    body: str = public["incident_updates"][0]["body"]
    return body


def test_root_cause_reaches_the_public_resolution_only_by_explicit_policy(
    make_env: Callable[..., Env],
) -> None:
    safe = make_env()
    incident = safe.declare(severity="SEV1")
    assert "bad deploy" not in _resolve_with_cause(safe, incident)
    assert _events(safe, incident, "root_cause_made_public") == []

    opted = make_env(policy="bmad-p0-p4")  # the process's resolution message names it
    other = opted.declare(severity="P1")
    text = _resolve_with_cause(opted, other)
    assert "Root cause: A bad deploy of payments v2.3.1." in text
    (recorded,) = _events(opted, other, "root_cause_made_public")
    data = recorded["data"]
    assert isinstance(data, dict)
    assert data["policy"] == "communications.root_cause_in_public_resolution"
    assert data["root_cause"] == "A bad deploy of payments v2.3.1"


def test_config_check_warns_about_a_public_root_cause(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("policy: bmad-p0-p4\n")
    assert check_config_file(path) == []
    (warning,) = config_file_warnings(path)
    assert warning["path"] == "policy.communications.root_cause_in_public_resolution"
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "PUBLIC resolution" in result.output
    safe = tmp_path / "safe.yaml"
    safe.write_text("policy: default\n")
    assert config_file_warnings(safe) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "policy:\n  extends: default\n  communications:\n    initial_update_publish: [SEV9]\n"
    )
    (problem,) = check_config_file(bad)
    assert problem["path"] == "policy.communications.initial_update_publish"
