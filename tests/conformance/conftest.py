"""The harness of the conformance suite: one preset's process driven through the public API.

Each module `test_seedNNN_*.py` runs the incident process of one process document (the seed
its preset was built from) end to end: declare, work, communicate, resolve, post-mortem,
metrics. The clock is a FixedClock moved by the tests (never a sleep); the worker is run
in-process after each step so timers and deliveries happen as they would in production.
Stakeholder messages go for real to a local HTTP receiver (Apprise json://).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.chat.slack_server import BOT_TOKEN, SlackServer
from tests.conftest import Api
from tests.support.process import resolve_as_policy_asks
from tests.support.receiver import Receiver, http_receiver
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.postmortems import draft
from warroom.worker import Worker

SERVICES = [
    {"name": "payments", "description": "Payments API", "owner_team": "Core"},
    {"name": "search", "description": "Search", "owner_team": "Discovery"},
]


#: The on-call team of `staffed`: ann is on call (level 1), bob is level 2 after 10 minutes;
#: carol, dave and erin take incident roles.
PEOPLE = ("ann", "bob", "carol", "dave", "erin")


class Process:
    """One preset's process: API clients per scope, the clock, the worker, a stakeholder inbox."""

    def __init__(
        self, runtime: Runtime, client: TestClient, clock: FixedClock, inbox: Receiver
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.clock = clock
        self.inbox = inbox
        self.public = Api(client, None)
        self.api = Api(client, self.token("responder", "alice"))
        self.bob = Api(client, self.token("responder", "bob"))
        self.admin = Api(client, self.token("admin", "root"))
        self.viewer = Api(client, self.token("viewer", "victor"))

    @property
    def policy(self) -> Any:
        return self.runtime.policy

    def token(self, scope: str, name: str) -> str:
        """A new API token with one scope, named after its holder."""
        with self.runtime.db.write() as conn:
            _, token = auth.create_token(
                conn, name=name, scopes=[scope], created_by="conformance", now=self.clock.now()
            )
        return token

    def work(self, rounds: int = 6) -> None:
        """Run the worker until nothing is due (effects plan more effects)."""
        for _ in range(rounds):
            if Worker(self.runtime).run_once() == 0:
                return

    def advance(self, **delta: float) -> None:
        """Move the clock and let the worker do what has come due."""
        self.clock.advance(timedelta(**delta))
        self.work()

    def declare(self, severity: str, **body: Any) -> str:
        data = {"title": "Checkout failing", "severity": severity, "services": ["payments"]}
        data.update(body)
        incident: str = self.api.ok("POST", "/api/v1/incidents", json=data)["id"]
        self.work()
        return incident

    def show(self, incident: str) -> dict[str, Any]:
        shown: dict[str, Any] = self.api.ok("GET", f"/api/v1/incidents/{incident}")
        return shown

    def events(self, incident: str, kind: str | None = None) -> list[dict[str, Any]]:
        found = self.api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
        return [e for e in found if kind is None or e["type"] == kind]

    def escalations(self, incident: str) -> list[str]:
        """The ids of the escalation rules that fired, in order."""
        return [str(e["data"].get("rule")) for e in self.events(incident, "escalated")]

    def update(self, incident: str, **body: Any) -> dict[str, Any]:
        data = {"status": "investigating", "impact": "Payments fail", "action": "Rolling back"}
        data.update(body)
        published: dict[str, Any] = self.api.ok(
            "POST", f"/api/v1/incidents/{incident}/updates", json=data
        )
        return published

    def resolve(self, incident: str, summary: str = "Rolled back payments v2.3.1") -> None:
        """Resolve as the process asks (monitoring window watched where it wants one)."""
        resolve_as_policy_asks(self.api, self.runtime, incident, summary)
        self.work()

    def postmortem(self, incident: str) -> dict[str, Any]:
        pm: dict[str, Any] = self.api.ok("GET", f"/api/v1/incidents/{incident}/postmortem")
        return pm

    def write_postmortem(self, incident: str, **texts: str) -> dict[str, Any]:
        """Write every section the template requires (or the ones given)."""
        pm = self.postmortem(incident)
        body = pm["body"]
        wanted = texts or {
            title: f"What we learned about {title.lower()}."
            for title in self.policy.postmortem_template.required
        }
        for title, text in wanted.items():
            body = draft.replace_section(body, title, text)
        edited: dict[str, Any] = self.api.ok(
            "PUT",
            f"/api/v1/incidents/{incident}/postmortem",
            json={"body": body, "version": pm["version"]},
        )
        return edited

    def staff(self, inboxes: dict[str, Receiver]) -> None:
        """Register the on-call team, each person with their own inbox; `payments` pages
        the `primary` schedule (ann) first, then bob after 10 minutes."""
        for name, box in inboxes.items():
            method = {"name": "webhook", "url": box.json_url(), "delay_minutes": 0}
            self.admin.ok(
                "POST",
                "/api/v1/oncall/people",
                json={"name": name, "contact_methods": [method]},
            )
        layer = {"users": ["ann"], "start": "2026-01-05T09:00"}
        self.admin.ok(
            "POST", "/api/v1/oncall/schedules", json={"name": "primary", "layers": [layer]}
        )
        levels = [
            {"delay_minutes": 5, "targets": ["schedule:primary"]},
            {"delay_minutes": 10, "targets": ["person:bob"]},
        ]
        self.admin.ok(
            "POST",
            "/api/v1/oncall/escalation-policies",
            json={"name": "payments", "levels": levels},
        )

    def stakeholder_messages(self, count: int) -> list[dict[str, Any]]:
        """What the stakeholder group received (Apprise JSON: title, message)."""
        return [r.json() for r in self.inbox.wait_for(count)]


@pytest.fixture
def inboxes() -> Iterator[dict[str, Receiver]]:
    """One local receiver per person of the on-call team."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(http_receiver()) for name in PEOPLE}


@pytest.fixture
def staffed(
    process: Callable[..., Process], inboxes: dict[str, Receiver]
) -> Callable[[str], Process]:
    """`staffed("phased")`: a preset's process whose `payments` service pages the on-call
    team of `Process.staff` (no fallback contacts, so only the team is paged)."""

    def make(preset: str) -> Process:
        services = [{**SERVICES[0], "escalation_policy": "payments"}, *SERVICES[1:]]
        team = process(preset, services=services, oncall={"fallback_contacts": []})
        team.staff(inboxes)
        return team

    return make


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """A local server speaking the Slack Web API methods warroom uses (tests/chat's fake)."""
    server = SlackServer()
    yield server
    server.stop()


def slack_chat(slack: SlackServer) -> dict[str, Any]:
    """The `chat` config section of a process whose incident channels live on `slack`."""
    return {
        "slack": {
            "bot_token": BOT_TOKEN,
            "signing_secret": "conformance-signing-secret",
            "api_url": slack.url,
            "bot_token_env": None,
            "signing_secret_env": None,
        }
    }


def channel_texts(slack: SlackServer, channel: str) -> list[str]:
    """Every text posted to a Slack channel (plain text and section blocks)."""
    texts: list[str] = []
    for message in slack.state.messages[channel]:
        texts.append(str(message.get("text") or ""))
        for block in message.get("blocks") or []:
            text = block.get("text")
            if isinstance(text, dict):
                texts.append(str(text.get("text", "")))
    return texts


def received(inbox: Receiver) -> list[dict[str, Any]]:
    """What one person received so far (Apprise JSON: title, message)."""
    return [request.json() for request in inbox.requests]


@pytest.fixture
def process(settings: Settings, clock: FixedClock) -> Iterator[Callable[..., Process]]:
    """`process("nexus-micro")`: a runtime on that preset, with a stakeholder group."""
    built: list[tuple[Runtime, TestClient]] = []
    with http_receiver() as inbox:

        def make(preset: str, **config: Any) -> Process:
            data: dict[str, Any] = {
                "policy": preset,
                "services": SERVICES,
                "comms": {"stakeholders": [{"name": "ops", "urls": [inbox.json_url()]}]},
            }
            data.update(config)
            runtime = Runtime.build(
                settings, clock=clock, config=parse_config(data), run_migrations=False
            )
            client = TestClient(create_app(runtime), raise_server_exceptions=False)
            client.__enter__()
            built.append((runtime, client))
            made = Process(runtime, client, clock, inbox)
            # The status page's catalog components are drafts: an admin gives them their
            # public names and publishes them, as a real installation does once.
            for service in data["services"]:
                slug, public = service["name"], {"name": service["description"]}
                made.admin.ok("PATCH", f"/api/v1/statuspage/components/{slug}", json=public)
                made.admin.ok("POST", f"/api/v1/statuspage/components/{slug}/publish")
            return made

        yield make
        for runtime, client in built:
            client.__exit__(None, None, None)
            runtime.close()
