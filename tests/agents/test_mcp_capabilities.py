"""The capability tools (on-call, changes, runbooks, status updates, post-mortems, similar
incidents, metrics) through a real MCP client session on the in-memory transport, with the
refusals the server enforces: no approving for agents unless the policy grants it, never one's
own step, and no public update unless the policy grants it (also straight through REST)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import pytest
from mcp import Client
from starlette.testclient import TestClient

from tests.agents.scenario import ok, refused
from warroom.agents.gateway import Gateway, in_process_client
from warroom.agents.server import build_server
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

UPDATE = {"status": "investigating", "impact": "checkout fails for some", "action": "rolling back"}


@contextmanager
def _runtime(settings: Settings, clock: FixedClock, **agents: bool) -> Iterator[Runtime]:
    config = parse_config(
        {
            "policy": {"extends": "default", "agents": agents},
            "services": [{"name": "checkout", "rollback_command": "deploy rollback checkout"}],
        }
    )
    runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
    try:
        yield runtime
    finally:
        runtime.close()


def _token(runtime: Runtime, name: str, scope: str, kind: str = "agent") -> str:
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name=name, scopes=[scope], created_by="tests", now=runtime.clock.now(), kind=kind
        )
    return token


@asynccontextmanager
async def _agent(runtime: Runtime, token: str) -> AsyncIterator[Client]:
    """An MCP client session with the warroom server, tools calling the API in-process."""
    http = in_process_client(create_app(runtime))
    gateway = Gateway(http, token)
    try:
        async with Client(build_server(lambda _request: gateway)) as client:
            yield client
    finally:
        await http.aclose()


def _rest(runtime: Runtime, token: str) -> TestClient:
    return TestClient(
        create_app(runtime),
        headers={"Authorization": f"Bearer {token}"},
        raise_server_exceptions=False,
    )


def _types(client: TestClient, incident: str) -> list[str]:
    events = client.get(f"/api/v1/incidents/{incident}/timeline").json()["events"]
    return [e["type"] for e in events]


def test_capability_tools_under_the_default_policy(settings: Settings, clock: FixedClock) -> None:
    with _runtime(settings, clock) as runtime:
        bot = _token(runtime, "triage-bot", "responder")
        watcher = _token(runtime, "watch-bot", "viewer")
        person = _rest(runtime, _token(runtime, "alice", "admin", kind="token"))
        for name in ("ann", "bob"):
            reply = person.post("/api/v1/oncall/people", json={"name": name})
            assert reply.status_code == 201, reply.text
        schedule = {
            "name": "primary",
            "layers": [{"users": ["ann", "bob"], "start": "2026-11-01T00:00"}],
        }
        assert person.post("/api/v1/oncall/schedules", json=schedule).status_code == 201
        change = {"service": "checkout", "kind": "deploy", "version": "v42", "by": "ci"}
        assert person.post("/api/v1/changes", json=change).status_code == 201

        async def session() -> str:
            async with _agent(runtime, bot) as agent:
                who = await ok(agent, "who_is_on_call", {"schedule": "primary"})
                assert "ann" in str(who) or "bob" in str(who)
                paged = await ok(agent, "page", {"target": "person:ann", "message": "help"})
                assert "ann" in str(paged)

                declared = await ok(
                    agent,
                    "declare_incident",
                    {"title": "Checkout errors", "severity": "SEV2", "services": ["checkout"]},
                )
                incident = str(declared["id"])
                changes = await ok(agent, "suspected_changes", {"incident": incident})
                assert "v42" in str(changes)
                mitigations = await ok(
                    agent,
                    "suggest_mitigations",
                    {"incident": incident, "signals": ["recent_deploy"]},
                )
                assert isinstance(mitigations, dict)

                # A step that needs a second responder: the agent asks, cannot approve.
                ran = await ok(
                    agent,
                    "run_runbook_step",
                    {"incident": incident, "runbook": "database_issues", "step": "kill-queries"},
                )
                assert "awaiting_approval" in str(ran)
                step = {"incident": incident, "runbook": "database_issues", "step": "kill-queries"}
                error = await refused(agent, "approve_runbook_step", step)
                assert error["code"] == "agent_not_permitted"
                assert error["rule"] == "policy.agents.may_approve"

                # Drafting sends nothing; publishing publicly is refused, internal-only is not.
                before = _types(person, incident)
                draft = await ok(
                    agent, "draft_status_update", {"incident": incident, **UPDATE, "public": True}
                )
                assert draft["public"]
                assert _types(person, incident) == before
                error = await refused(
                    agent, "publish_status_update", {"incident": incident, **UPDATE, "public": True}
                )
                assert error["code"] == "agent_not_permitted"
                assert error["rule"] == "policy.agents.may_publish_public"
                assert "may_publish_public" in error["message"]
                assert _types(person, incident) == before
                await ok(
                    agent,
                    "publish_status_update",
                    {"incident": incident, **UPDATE, "public": False},
                )

                postmortem = await ok(agent, "draft_postmortem", {"incident": incident})
                assert postmortem["status"] == "draft"
                assert "Checkout errors" in postmortem["body"]
                assert (await ok(agent, "draft_postmortem", {"incident": incident}))[
                    "incident"
                ] == (incident)
                similar = await ok(agent, "similar_incidents", {"incident": incident})
                assert similar["incident"] == incident
                report = await ok(agent, "metrics", {"by": "service"})
                assert isinstance(report, dict)
            async with _agent(runtime, watcher) as viewer:
                error = await refused(viewer, "page", {"target": "person:ann", "message": "x"})
                assert error["rule"] == "token scopes"
                await ok(viewer, "suspected_changes", {"incident": incident})
            return incident

        incident = anyio.run(session)
        types = _types(person, incident)
        assert "approval_requested" in types
        assert "approval_granted" not in types

        # Straight through REST with the agent's token: the same refusal.
        with _rest(runtime, bot) as rest:
            body = {**UPDATE, "public": True}
            reply = rest.post(f"/api/v1/incidents/{incident}/updates", json=body)
            assert reply.status_code == 403, reply.text
            assert reply.json()["error"]["details"]["rule"] == "policy.agents.may_publish_public"
            reply = rest.post(
                "/api/v1/statuspage/incidents", json={"name": "Checkout", "body": "Degraded"}
            )
            assert reply.status_code == 403
            assert reply.json()["error"]["code"] == "agent_not_permitted"
        # A person approves the agent's step.
        reply = person.post(
            f"/api/v1/incidents/{incident}/runbooks/database_issues/approve",
            json={"step": "kill-queries"},
        )
        assert reply.status_code == 200, reply.text


def test_a_permissive_policy_still_refuses_self_approval(
    settings: Settings, clock: FixedClock
) -> None:
    with _runtime(settings, clock, may_approve=True, may_publish_public=True) as runtime:
        bot = _token(runtime, "triage-bot", "responder")
        other = _token(runtime, "review-bot", "responder")

        async def session() -> None:
            async with _agent(runtime, bot) as agent:
                declared = await ok(
                    agent,
                    "declare_incident",
                    {"title": "Checkout errors", "severity": "SEV2", "services": ["checkout"]},
                )
                incident = str(declared["id"])
                step = {"incident": incident, "runbook": "database_issues", "step": "kill-queries"}
                await ok(agent, "run_runbook_step", step)
                error = await refused(agent, "approve_runbook_step", step)
                assert error["code"] == "self_approval"
                assert error["rule"] == "no_self_approval"
                published = await ok(
                    agent, "publish_status_update", {"incident": incident, **UPDATE, "public": True}
                )
                assert published
            async with _agent(runtime, other) as reviewer:
                approved = await ok(reviewer, "approve_runbook_step", step)
                assert approved["approved"] is True

        anyio.run(session)


@pytest.mark.parametrize(
    ("agents", "author", "status", "rule"),
    [
        ({}, "bob", 403, "policy.agents.may_approve"),  # the default policy: agents never review
        ({"may_approve": True}, "review-bot", 403, "no_self_approval"),  # its own hotfix
        ({"may_approve": True}, "agent:review-bot", 403, "no_self_approval"),
        ({"may_approve": True}, "bob", 200, None),  # someone else's, with permission
    ],
)
def test_an_agent_reviews_a_hotfix_only_when_allowed_and_in_its_own_name(
    settings: Settings,
    clock: FixedClock,
    agents: dict[str, bool],
    author: str,
    status: int,
    rule: str | None,
) -> None:
    with _runtime(settings, clock, **agents) as runtime:
        person = _rest(runtime, _token(runtime, "alice", "responder", kind="token"))
        agent = _rest(runtime, _token(runtime, "review-bot", "responder"))
        incident = person.post(
            "/api/v1/incidents", json={"title": "x", "severity": "SEV1", "services": ["checkout"]}
        ).json()["id"]
        base = f"/api/v1/incidents/{incident}/hotfixes"
        recorded = person.post(base, json={"name": "hf-1", "author": author})
        assert recorded.status_code in (200, 201), recorded.text
        # A review is recorded by the reviewer itself: a typed reviewer name is refused.
        gates = {"gates": {"review": {"status": "passed", "by": "carol"}}}
        typed = agent.post(f"{base}/hf-1/gates", json=gates)
        assert typed.status_code == 422, typed.text
        assert typed.json()["error"]["code"] == "review_by_reviewer"
        reply = agent.post(f"{base}/hf-1/review", json={"note": "diff read"})
        assert reply.status_code == status, reply.text
        if rule is not None:
            assert reply.json()["error"]["details"]["rule"] == rule
            assert "hotfix_reviewed" not in _types(person, incident)
            return
        review = next(g for g in reply.json()["gates"] if g["gate"] == "review")
        assert review["by"] == "agent:review-bot"


def test_the_triage_tool_proposes_no_severity_when_every_answer_is_unknown(
    settings: Settings, clock: FixedClock
) -> None:
    with _runtime(settings, clock) as runtime:
        bot = _token(runtime, "triage-bot", "responder")

        async def session() -> None:
            async with _agent(runtime, bot) as agent:
                proposal = await ok(agent, "propose_triage", {"answers": {}})
                assert proposal["severity"] is None
                assert proposal["severity_rule"] == "unanswered"
                assert "every answer is unknown" in proposal["reasons"][0]
                no = await refused(agent, "declare_incident", {"title": "Odd", "answers": {}})
                assert no["code"] == "triage_unanswered"

        anyio.run(session)
