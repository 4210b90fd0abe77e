"""One incident worked end to end by an agent through MCP; shared by the stdio and HTTP tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp import Client

EVERY_TOOL = {
    "list_incidents",
    "get_incident",
    "get_timeline",
    "get_policy",
    "propose_triage",
    "declare_incident",
    "record_triage",
    "add_note",
    "acknowledge_incident",
    "set_status",
    "change_severity",
    "assign_role",
    "set_flag",
    "resolve_incident",
    "schedule_postmortem",
    "close_incident",
    "reopen_incident",
    "who_is_on_call",
    "page",
    "suspected_changes",
    "suggest_mitigations",
    "run_runbook_step",
    "approve_runbook_step",
    "draft_status_update",
    "publish_status_update",
    "draft_postmortem",
    "similar_incidents",
    "metrics",
}
READ_TOOLS = {
    "list_incidents",
    "get_incident",
    "get_timeline",
    "get_policy",
    "propose_triage",
    "who_is_on_call",
    "suspected_changes",
    "suggest_mitigations",
    "similar_incidents",
    "metrics",
}
ALL_CHECKLIST = [
    "issue_gone",
    "error_rates_baseline",
    "users_can_use_feature",
    "monitoring_stable",
    "stakeholders_notified",
]


async def ok(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(name, arguments or {})
    assert not result.is_error, (name, result.content)
    assert result.structured_content is not None
    # The text block carries the same data for clients that ignore structured content.
    text = result.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == result.structured_content
    return result.structured_content


async def refused(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A refused call: a tool error naming the rule, in text and structured form."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, (name, result)
    assert result.structured_content is not None
    error: dict[str, Any] = result.structured_content["error"]
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"REFUSED by warroom ({error['code']}; rule: {error['rule']})")
    assert error["message"] in text
    return error


async def work_an_incident(agent: Client, agent_name: str) -> str:
    """Every tool, the refusals among them; returns the incident id."""
    listed = {tool.name for tool in (await agent.list_tools()).tools}
    assert listed == EVERY_TOOL

    policy = await ok(agent, "get_policy")
    assert policy["agents"] == {
        "may_publish_public": False,
        "may_approve": False,
        "close_requires_published_postmortem": True,
    }
    proposal = await ok(agent, "propose_triage", {"answers": {"complete_outage": True}})
    assert (proposal["severity"], proposal["severity_rule"]) == ("SEV1", "complete-outage")

    declared = await ok(
        agent,
        "declare_incident",
        {"title": "Checkout is down", "answers": {"workaround": True}},
    )
    incident = declared["id"]
    assert declared["severity"] == "SEV3"
    triaged = await ok(
        agent,
        "record_triage",
        {
            "incident": incident,
            "answers": {"complete_outage": True, "customer_facing": True},
        },
    )
    assert triaged["severity"] == "SEV1"
    assert (await ok(agent, "acknowledge_incident", {"incident": incident}))["status"] == (
        "acknowledged"
    )
    moved = await ok(
        agent, "set_status", {"incident": incident, "status": "investigating", "reason": "on it"}
    )
    assert moved["status"] == "investigating"
    lowered = await ok(
        agent,
        "change_severity",
        {"incident": incident, "severity": "P1", "reason": "only checkout"},
    )
    assert lowered["severity"] == "SEV2"
    roles = await ok(
        agent, "assign_role", {"incident": incident, "role": "commander", "person": "alice"}
    )
    assert roles["roles"]["commander"] == "alice"
    assert "commander" not in roles["roles_missing"]
    await ok(agent, "add_note", {"incident": incident, "text": "error rate 60% since 10:02"})
    await ok(
        agent,
        "set_flag",
        {"incident": incident, "flag": "rollback_attempted", "reason": "rolled back 10:00"},
    )
    shown = await ok(agent, "get_incident", {"incident": incident})
    assert shown["status"] == "investigating"

    # The capability tools, over this transport (tests/agents/test_mcp_capabilities.py has more).
    assert "items" in await ok(agent, "who_is_on_call")
    assert (await ok(agent, "suspected_changes", {"incident": incident}))["changes"] == []
    await ok(agent, "suggest_mitigations", {"incident": incident, "signals": ["recent_deploy"]})
    update = {"incident": incident, "status": "investigating", "impact": "checkout fails"}
    update["action"] = "rolling back"
    assert (await ok(agent, "draft_status_update", {**update, "public": True}))["public"]
    error = await refused(agent, "publish_status_update", {**update, "public": True})
    assert error["rule"] == "policy.agents.may_publish_public"
    await ok(agent, "publish_status_update", {**update, "public": False})
    assert (await ok(agent, "similar_incidents", {"incident": incident}))["matches"] == []
    assert isinstance(await ok(agent, "metrics", {"since": "30d"}), dict)
    page = await ok(agent, "list_incidents", {"open": True, "text": "checkout"})
    assert [item["id"] for item in page["items"]] == [incident]

    # Guard: resolving needs the checklist; the refusal names the guard.
    error = await refused(
        agent, "resolve_incident", {"incident": incident, "summary": "rolled back"}
    )
    assert error["code"] == "guard_failed"
    assert error["rule"] == "lifecycle guard: resolution_checklist"
    assert "issue_gone" in error["message"]
    resolved = await ok(
        agent,
        "resolve_incident",
        {
            "incident": incident,
            "summary": "rolled back the 10:00 deploy",
            "confirmed": ALL_CHECKLIST[:-1],
            "waived": {"stakeholders_notified": "the status page covered it"},
        },
    )
    assert resolved["status"] == "resolved"

    # Guard: a SEV2 post-mortem is required and must be published before closing.
    error = await refused(agent, "close_incident", {"incident": incident})
    assert error["code"] == "guard_failed"
    assert error["rule"] == "lifecycle guard: postmortem"
    scheduled = await ok(
        agent,
        "schedule_postmortem",
        {
            "incident": incident,
            "owner": "alice",
            "due_at": _in_two_days(),
            "reason": "alice writes it; two days from now",
        },
    )
    assert scheduled["postmortem"]["status"] == "scheduled"
    # Scheduled is not enough: the policy wants it published.
    error = await refused(agent, "close_incident", {"incident": incident})
    assert error["rule"] == "lifecycle guard: postmortem"
    assert "published" in error["message"]

    # Illegal moves name the transition table.
    error = await refused(agent, "acknowledge_incident", {"incident": incident})
    assert error["code"] == "illegal_transition"
    error = await refused(agent, "get_incident", {"incident": "INC-19990101-999"})
    assert error["code"] == "not_found"

    reopened = await ok(
        agent, "reopen_incident", {"incident": incident, "reason": "errors are back"}
    )
    assert reopened["status"] == "reopened"

    timeline = await ok(agent, "get_timeline", {"incident": incident})
    actors = {event["actor"] for event in timeline["events"]}
    # Everything the agent did carries its name; the rest is warroom acting by itself.
    assert actors - {"warroom"} == {f"agent:{agent_name}"}, actors
    types = [event["type"] for event in timeline["events"]]
    for expected in ("declared", "triaged", "role_assigned", "note_added", "flag_set", "resolved"):
        assert expected in types
    last = await ok(agent, "get_timeline", {"incident": incident, "last": 1})
    assert [e["type"] for e in last["events"]] == ["reopened"]
    return str(incident)


async def resources_and_prompts(agent: Client, incident: str) -> None:
    resources = {str(r.uri) for r in (await agent.list_resources()).resources}
    assert {"warroom://policy", "warroom://incidents"} <= resources
    open_now = json.loads((await agent.read_resource("warroom://incidents")).contents[0].text)  # type: ignore[union-attr]
    assert [item["id"] for item in open_now["items"]] == [incident]  # reopened, so open
    templates = {t.uri_template for t in (await agent.list_resource_templates()).resource_templates}
    assert "warroom://incidents/{incident}" in templates

    policy = await agent.read_resource("warroom://policy")
    data = json.loads(policy.contents[0].text)  # type: ignore[union-attr]
    assert [s["id"] for s in data["severities"]] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    state = await agent.read_resource(f"warroom://incidents/{incident}")
    both = json.loads(state.contents[0].text)  # type: ignore[union-attr]
    assert both["incident"]["id"] == incident
    assert both["timeline"][0]["type"] == "declared"

    names = {p.name for p in (await agent.list_prompts()).prompts}
    assert names == {"commander", "investigator", "communications"}
    commander = await agent.get_prompt("commander", {"incident": incident})
    text = commander.messages[0].content.text  # type: ignore[union-attr]
    # Built from the policy: severities, targets, cadence, roles, escalation, checklist.
    assert "SEV1 (P0, critical) Critical" in text
    assert "update every 15m" in text
    assert "roles required: commander, deployer, investigator" in text
    assert "SEV1 still unresolved after 30m: notify contact:engineering_manager" in text
    assert "issue_gone: The issue is no longer occurring" in text
    assert "you draft them; a person publishes" in text
    assert f"{incident}: Checkout is down" in text
    comms = await agent.get_prompt("communications", {})
    comms_text = comms.messages[0].content.text  # type: ignore[union-attr]
    assert "communications lead" in comms_text
    assert "Next update" in comms_text
    assert "## The incident" not in comms_text
    investigator = await agent.get_prompt("investigator", {})
    assert "complete_outage → SEV1" in investigator.messages[0].content.text  # type: ignore[union-attr]


async def viewer_is_read_only(viewer: Client, incident: str) -> None:
    listed = {tool.name for tool in (await viewer.list_tools()).tools}
    assert listed == READ_TOOLS
    assert (await ok(viewer, "get_incident", {"incident": incident}))["id"] == incident
    # A write tool is hidden from it, and refused by the server if called anyway.
    error = await refused(viewer, "add_note", {"incident": incident, "text": "hello"})
    assert error["code"] == "forbidden"
    assert error["rule"] == "token scopes"
    assert "'responder' scope" in error["message"]
    error = await refused(viewer, "declare_incident", {"title": "x", "severity": "SEV4"})
    assert error["code"] == "forbidden"


def _in_two_days() -> str:
    """A post-mortem due date in the future whenever the tests run (the server refuses past
    ones; these scenarios run against a real server on the wall clock)."""
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()
