"""Slack against a local server speaking the documented Web API (tests/chat/slack_server.py
cites each method's reference), with the Events API, slash command and interactivity
endpoints signed as Slack signs them:
https://api.slack.com/authentication/verifying-requests-from-slack (v0 HMAC-SHA256 over
`v0:{timestamp}:{body}` with the signing secret; requests older than five minutes refused)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from tests.chat.conftest import ADMIN, catch_up
from tests.chat.slack_server import BOT_TOKEN, BOT_USER, SlackServer
from warroom.api.app import create_app
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.vocab import Role
from warroom.incidents import schemas
from warroom.incidents.model import Event
from warroom.web import users
from warroom.worker import Worker

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer()
    server.state.users.update(
        {ALICE: "alice@example.com", BOB: "Bob@Example.com", MALLORY: "mallory@elsewhere.org"}
    )
    yield server
    server.stop()


def _config(url: str) -> dict[str, Any]:
    return {
        "archive_after": "24h",
        "slack": {
            "bot_token": BOT_TOKEN,
            "signing_secret": SECRET,
            "api_url": url,
            "bot_token_env": None,
            "signing_secret_env": None,
        },
    }


def _signed(
    clock: FixedClock, body: bytes, *, secret: str = SECRET, age: int = 0
) -> dict[str, str]:
    ts = str(int(clock.now().timestamp()) - age)
    digest = hmac.new(
        secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _command(client: TestClient, clock: FixedClock, user: str, channel: str, text: str) -> Any:
    """A slash command as Slack sends it (https://api.slack.com/interactivity/slash-commands)."""
    body = urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0TEST",
            "channel_id": channel,
            "user_id": user,
            "command": "/warroom",
            "text": text,
            "response_url": "https://hooks.slack.com/commands/T0TEST/1/abc",
            "trigger_id": f"trigger-{user}-{text}",
        }
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **_signed(clock, body)}
    return client.post("/api/v1/chat/slack/commands", content=body, headers=headers)


def _event(client: TestClient, clock: FixedClock, event_id: str, event: dict[str, Any]) -> Any:
    """An Events API callback (https://api.slack.com/apis/events-api#callback-field)."""
    body = json.dumps(
        {"type": "event_callback", "team_id": "T0TEST", "event_id": event_id, "event": event}
    ).encode()
    headers = {"Content-Type": "application/json", **_signed(clock, body)}
    return client.post("/api/v1/chat/slack/events", content=body, headers=headers)


def _click(client: TestClient, clock: FixedClock, user: str, channel: str, value: str) -> Any:
    """A block_actions payload (https://api.slack.com/reference/interaction-payloads/block-actions)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": channel},
        "actions": [
            {"action_id": "warroom_ack", "block_id": "b1", "value": value, "type": "button"}
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **_signed(clock, body)}
    return client.post("/api/v1/chat/slack/interactivity", content=body, headers=headers)


def test_slack_channel_commands_buttons_and_marks(
    slack: SlackServer, chat_runtime: Callable[[dict[str, Any]], Runtime], clock: FixedClock
) -> None:
    runtime = chat_runtime(_config(slack.url))
    state = slack.state
    worker = Worker(runtime)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    # The name the channel would get is taken already: the next suffix is used.
    taken = state.add_channel("inc-20261123-001-payment-failures")

    incident = runtime.incidents.declare(
        ADMIN,
        schemas.DeclareIn(
            title="Payment failures", severity="SEV3", roles={Role.COMMANDER: "alice"}
        ),
    ).public_id
    catch_up(worker)  # the channel, its card, and the incident's own page (to nobody here)
    created = state.called("conversations.create")
    assert [c["name"] for c in created] == [
        "inc-20261123-001-payment-failures",
        "inc-20261123-001-payment-failures-2",
    ]
    assert all(c.get("is_private") in (False, "false", "0", 0) for c in created)
    [channel] = [c for c in state.channels if c != taken]
    # alice is found by her email (users.lookupByEmail) and invited.
    assert state.called("users.lookupByEmail")[0]["email"] == "alice@example.com"
    assert state.called("conversations.invite")[-1] == {"channel": channel, "users": ALICE}
    card = state.messages[channel][0]
    assert state.channels[channel]["pins"] == [card["ts"]]
    assert "Commander: alice" in card["text"]
    assert state.channels[channel]["topic"].startswith("[SEV3] triggered · IC alice")
    [view] = runtime.chat.channels_of(incident)
    assert view["url"] == f"https://warroom-test.slack.com/archives/{channel}"

    # Rate limited: HTTP 429 with Retry-After; the effect is retried, the log shows it.
    state.fail_next["chat.postMessage"] = ("ratelimited", 429, 30)
    runtime.incidents.append_events(
        SYSTEM,
        incident,
        [Event("paged", SYSTEM.actor, clock.now(), {"notified": ["bob"], "level": 1})],
    )
    catch_up(worker)
    log = runtime.chat.deliveries(incident)
    assert any(d["error"] and "ratelimited" in d["error"] for d in log)
    clock.advance(timedelta(seconds=29))  # not before Slack's Retry-After
    catch_up(worker)
    assert not any(m["text"].startswith("Paged bob") for m in state.messages[channel])
    clock.advance(timedelta(seconds=2))
    catch_up(worker)
    # bob (paged) is invited; the page is posted with an Acknowledge button.
    assert BOB in state.channels[channel]["members"]
    page = next(m for m in state.messages[channel] if m["text"].startswith("Paged bob"))
    [actions] = [b for b in page["blocks"] if b["type"] == "actions"]
    button = actions["elements"][0]
    assert button["text"] == {"type": "plain_text", "text": "Acknowledge"}
    assert button["value"] == f"incident:{incident}"

    # bob clicks Acknowledge: acknowledged as bob.
    assert _click(client, clock, BOB, channel, button["value"]).status_code == 200
    ack = [e for e in runtime.incidents.timeline(incident) if e.type == "acknowledged"]
    assert [e.actor for e in ack] == ["user:bob"]

    # alice's `/warroom ack` is refused by the guard, only to her (ephemeral).
    response = _command(client, clock, ALICE, channel, "ack")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "only triggered or reopened incidents can be acknowledged" in response.json()["text"]
    # The same signed request again is a replay.
    assert _command(client, clock, ALICE, channel, "ack").status_code == 409

    # Commands run as the person: a role, a note, a status.
    assert (
        _command(client, clock, ALICE, channel, "role scribe bob").json()["text"] == "scribe: bob"
    )
    assert _command(client, clock, ALICE, channel, "status investigating").status_code == 200
    after = runtime.incidents.get(incident)
    assert after.roles["scribe"] == "bob" and after.status.value == "investigating"
    changed = [e for e in runtime.incidents.timeline(incident) if e.type == "status_changed"]
    assert changed[-1].actor == "user:alice"

    # A status update from chat is published as alice.
    update = _command(
        client, clock, ALICE, channel, "update identified Card payments fail | Rolling back"
    )
    assert update.json()["text"] == f"status update published on {incident}", update.json()
    [published] = [
        e for e in runtime.incidents.timeline(incident) if e.type == "status_update_published"
    ]
    assert published.actor == "user:alice"

    # carol's web account is a viewer: she acts with a viewer's permissions.
    with runtime.db.write() as conn:
        users.create_user(
            conn,
            name="carol",
            password="password-123",
            role="viewer",
            created_by="t",
            now=clock.now(),
        )
    state.users[CAROL] = "carol@example.com"
    viewer = _command(client, clock, CAROL, channel, "note from a viewer").json()
    assert (
        "needs the 'responder' scope" in viewer["text"] and viewer["response_type"] == "ephemeral"
    )

    # mallory's email is nobody's in warroom: she can read but not act.
    refused = _command(client, clock, MALLORY, channel, "severity SEV1").json()
    assert refused["response_type"] == "ephemeral" and "can read but not act" in refused["text"]
    assert runtime.incidents.get(incident).severity == "SEV3"

    # Signatures: a wrong secret, a stale timestamp.
    body = b"type=x"
    bad = {
        "Content-Type": "application/x-www-form-urlencoded",
        **_signed(clock, body, secret="nope"),
    }
    assert client.post("/api/v1/chat/slack/commands", content=body, headers=bad).status_code == 401
    stale = {"Content-Type": "application/x-www-form-urlencoded", **_signed(clock, body, age=301)}
    assert (
        client.post("/api/v1/chat/slack/commands", content=body, headers=stale).status_code == 401
    )

    # URL verification, then a 📌 reaction on bob's message: a note by bob, marked by alice.
    challenge = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm"}).encode()
    verified = client.post(
        "/api/v1/chat/slack/events",
        content=challenge,
        headers={"Content-Type": "application/json", **_signed(clock, challenge)},
    )
    assert verified.json() == {"challenge": "3eZbrw1aBm"}
    said = state.add_message(channel, BOB, "Failed over to <the> replica & back")
    reaction = {
        "type": "reaction_added",
        "user": ALICE,
        "reaction": "pushpin",
        "item_user": BOB,
        "item": {"type": "message", "channel": channel, "ts": said},
        "event_ts": said,
    }
    assert _event(client, clock, "Ev0001", reaction).status_code == 200
    notes = [e for e in runtime.incidents.timeline(incident) if e.type == "note_added"]
    assert notes[-1].actor == "user:bob"
    assert notes[-1].data["text"] == "Failed over to <the> replica & back"
    assert notes[-1].data["marked_by"] == "alice"
    # Slack retries an event it thinks was not received: the same event id is not noted twice.
    clock.advance(timedelta(seconds=1))
    _event(client, clock, "Ev0001", reaction)
    assert len([e for e in runtime.incidents.timeline(incident) if e.type == "note_added"]) == len(
        notes
    )

    # Pinning a message (pin_added, https://api.slack.com/events/pin_added) notes it too.
    pinned = state.add_message(channel, ALICE, "Customer comms sent")
    pin = {
        "type": "pin_added",
        "user": BOB,
        "channel_id": channel,
        "item": {
            "type": "message",
            "channel": channel,
            "message": {
                "type": "message",
                "user": ALICE,
                "text": "Customer comms sent",
                "ts": pinned,
            },
            "created_by": BOB,
        },
        "event_ts": pinned,
    }
    assert _event(client, clock, "Ev0002", pin).status_code == 200
    last = [e for e in runtime.incidents.timeline(incident) if e.type == "note_added"][-1]
    assert (last.actor, last.data["text"], last.data["marked_by"]) == (
        "user:alice",
        "Customer comms sent",
        "bob",
    )

    # Timeline posts escape Slack's markup (a title with < > &).
    catch_up(worker)
    texts = [
        b["text"]["text"]
        for m in state.messages[channel]
        for b in m.get("blocks") or []
        if b["type"] == "section"
    ]
    assert not any("<the>" in t for t in texts)

    # Not in the channel (the bot was removed): a non-retryable failure in the log.
    state.channels[channel]["members"].discard(BOT_USER)
    runtime.incidents.add_note(ADMIN, incident, schemas.NoteIn(text="x"))  # not a key event
    runtime.incidents.change_severity(ADMIN, incident, schemas.SeverityIn(severity="SEV4"))
    catch_up(worker)
    log = runtime.chat.deliveries(incident)
    assert any(d["error"] and "not_in_channel" in d["error"] for d in log)
    state.channels[channel]["members"].add(BOT_USER)

    # Resolve (the checklist from chat), close, and the channel is archived a day later.
    items = " ".join(f"+{i.id}" for i in runtime.policy.resolution_checklist)
    resolved = _command(client, clock, ALICE, channel, f"resolve {items} rolled back")
    assert resolved.json()["text"] == f"resolved {incident}", resolved.json()
    runtime.incidents.close(ADMIN, incident)
    catch_up(worker)
    assert not state.channels[channel]["is_archived"]
    clock.advance(timedelta(hours=24, seconds=1))
    catch_up(worker)
    assert state.channels[channel]["is_archived"]
    assert state.called("conversations.archive") == [{"channel": channel}]

    # Reopened: Slack does not let a bot token unarchive, so a new channel takes the place of
    # the archived one (its history linked), and the timeline says why.
    runtime.incidents.reopen(ADMIN, incident, schemas.ReasonIn(reason="errors are back"))
    catch_up(worker)
    assert state.called("conversations.unarchive") == [{"channel": channel}]
    assert state.channels[channel]["is_archived"]
    (current,) = runtime.chat.channels_of(incident)
    assert current["channel_id"] != channel and current["archived_at"] is None
    assert current["name"] == state.channels[channel]["name"] + "-r1"
    fresh = state.channels[current["channel_id"]]
    assert not fresh["is_archived"] and ALICE in fresh["members"]
    texts = [m.get("text") or "" for m in state.messages[current["channel_id"]]]
    assert any("reopened: errors are back" in t and "holds the history" in t for t in texts)
    opened = runtime.incidents.timeline(incident, types=("chat_channel_opened",))
    assert opened[-1].data["replaces"] == state.channels[channel]["name"]
    assert "not_allowed_token_type" in opened[-1].data["reason"]


def test_a_channel_made_before_a_failure_is_finished_not_made_twice(
    slack: SlackServer, chat_runtime: Callable[[dict[str, Any]], Runtime], clock: FixedClock
) -> None:
    runtime = chat_runtime(_config(slack.url))
    worker = Worker(runtime)
    # The channel is created, then posting the summary card fails (a transient Slack error).
    slack.state.fail_next["chat.postMessage"] = ("internal_error", 200, None)
    incident = runtime.incidents.declare(
        ADMIN, schemas.DeclareIn(title="Cache stampede", severity="SEV3")
    ).public_id
    catch_up(worker)
    [channel] = slack.state.channels
    assert not any("Cache stampede" in m["text"] for m in slack.state.messages[channel])
    clock.advance(timedelta(minutes=1))
    catch_up(worker)
    assert list(slack.state.channels) == [channel]  # no second channel
    # One summary card, pinned (the incident's own page to nobody is posted beside it).
    [card] = [m for m in slack.state.messages[channel] if "Cache stampede" in m["text"]]
    assert slack.state.channels[channel]["pins"] == [card["ts"]]
    opened = [e for e in runtime.incidents.timeline(incident) if e.type == "chat_channel_opened"]
    assert len(opened) == 1
