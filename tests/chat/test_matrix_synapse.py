"""Matrix end to end against a real Synapse homeserver: declare → room created, responders
invited, summary updated, `!warroom ack` and a 📌/pinned note on the timeline as the right
person, a refusal seen only by the person, close → room archived."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.chat.conftest import ADMIN, catch_up
from tests.chat.synapse import SERVER_NAME, Synapse, User
from warroom.chat.listener import MatrixListener
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.vocab import Role
from warroom.incidents import schemas
from warroom.worker import Worker


def _send(
    client: httpx.Client, room: str, content: dict[str, Any], kind: str = "m.room.message"
) -> str:
    response = client.put(f"/rooms/{quote(room)}/send/{kind}/{uuid.uuid4().hex}", json=content)
    assert response.status_code == 200, response.text
    return str(response.json()["event_id"])


def _messages(client: httpx.Client, room: str) -> list[dict[str, Any]]:
    response = client.get(f"/rooms/{quote(room)}/messages", params={"dir": "b", "limit": 200})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["chunk"]))


def _bodies(client: httpx.Client, room: str) -> list[str]:
    return [
        str(e["content"].get("body", ""))
        for e in _messages(client, room)
        if e["type"] == "m.room.message"
    ]


def _members(client: httpx.Client, room: str) -> dict[str, str]:
    response = client.get(f"/rooms/{quote(room)}/members")
    assert response.status_code == 200, response.text
    return {e["state_key"]: e["content"]["membership"] for e in response.json()["chunk"]}


def _join(client: httpx.Client, room: str) -> None:
    response = client.post(f"/join/{quote(room)}", json={})
    assert response.status_code == 200, response.text


def _timeline(runtime: Runtime, incident: str, kind: str) -> list[Any]:
    return [e for e in runtime.incidents.timeline(incident) if e.type == kind]


@pytest.fixture
def users(synapse_server: Synapse) -> dict[str, User]:
    suffix = uuid.uuid4().hex[:8]  # the homeserver is shared by the tests of this worker
    return {
        name: synapse_server.register(f"{name}{suffix}")
        for name in ("bot", "alice", "bob", "mallory")
    }


def test_incident_room_end_to_end(
    synapse_server: Synapse,
    users: dict[str, User],
    chat_runtime: Callable[[dict[str, Any]], Runtime],
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = synapse_server.url
    runtime = chat_runtime(
        {
            "archive_after": "1h",
            "matrix": {
                "homeserver": url,
                "user_id": users["bot"].user_id,
                "access_token": users["bot"].token,
                "access_token_env": None,
            },
        }
    )
    chat = runtime.chat
    chat.link(ADMIN, "matrix", users["alice"].user_id, "alice")
    chat.link(ADMIN, "matrix", users["bob"].user_id, "bob")
    worker = Worker(runtime)
    bot, alice, bob, mallory = (users[n].client(url) for n in ("bot", "alice", "bob", "mallory"))

    # Declare: the room is created by the worker, the commander invited, the card pinned.
    state = runtime.incidents.declare(
        ADMIN,
        schemas.DeclareIn(
            title="Checkout errors", severity="SEV3", roles={Role.COMMANDER: "alice"}
        ),
    )
    incident = state.public_id
    catch_up(worker)
    [channel] = chat.channels_of(incident)
    room = channel["channel_id"]
    # (The homeserver is shared by this worker's tests: a taken alias gets a suffix.)
    assert channel["name"].startswith(f"inc-{incident[4:12]}-{incident[13:]}-checkout-errors")
    assert _members(bot, room)[users["alice"].user_id] == "invite"
    pinned = bot.get(f"/rooms/{quote(room)}/state/m.room.pinned_events").json()["pinned"]
    assert len(pinned) == 1
    card = bot.get(f"/rooms/{quote(room)}/event/{quote(pinned[0])}").json()["content"]["body"]
    assert "Commander: alice" in card and "Severity: SEV3" in card
    assert _timeline(runtime, incident, "chat_channel_opened")

    # The listener starts (the backlog is skipped); people join.
    listener = MatrixListener(chat)
    listener.poll_once()
    for client in (alice, bob, mallory):
        _join(client, room)

    # A role holder joins the response: invited, and the summary card is edited.
    runtime.incidents.assign_role(ADMIN, incident, schemas.RoleIn(role=Role.SCRIBE, person="bob"))
    catch_up(worker)
    edits = [
        e
        for e in _messages(bot, room)
        if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
    ]
    assert edits and edits[-1]["content"]["m.relates_to"]["event_id"] == pinned[0]
    assert "Scribe: bob" in edits[-1]["content"]["m.new_content"]["body"]
    assert any(b.startswith("token:root made bob Scribe") for b in _bodies(bot, room))

    # `!warroom ack` from alice: acknowledged as alice.
    before_ack = chat.cursor("matrix")
    _send(alice, room, {"msgtype": "m.text", "body": "!warroom ack"})
    assert listener.poll_once() == 1
    assert runtime.incidents.get(incident).status.value == "acknowledged"
    [ack] = _timeline(runtime, incident, "acknowledged")
    assert ack.actor == "user:alice"
    catch_up(worker)
    assert f"user:alice acknowledged {incident}" in _bodies(bot, room)

    # bob says something, alice marks it 📌: a note by bob; carol's... a pinned message too.
    said = _send(bob, room, {"msgtype": "m.text", "body": "DB failover done at 10:32"})
    _send(
        alice,
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": said, "key": "📌"}},
        "m.reaction",
    )
    pinned_text = _send(alice, room, {"msgtype": "m.text", "body": "Rolled back release 42"})
    current = bot.get(f"/rooms/{quote(room)}/state/m.room.pinned_events").json()["pinned"]
    response = alice.put(
        f"/rooms/{quote(room)}/state/m.room.pinned_events", json={"pinned": [*current, pinned_text]}
    )
    assert response.status_code == 200, response.text
    assert listener.poll_once() == 2
    notes = {e.data["text"]: e for e in _timeline(runtime, incident, "note_added")}
    assert notes["DB failover done at 10:32"].actor == "user:bob"
    assert notes["DB failover done at 10:32"].data["marked_by"] == "alice"
    assert notes["Rolled back release 42"].actor == "user:alice"

    # mallory is not linked: may read, not act; the refusal goes to her alone.
    _send(mallory, room, {"msgtype": "m.text", "body": "!warroom severity SEV1"})
    listener.poll_once()
    assert runtime.incidents.get(incident).severity == "SEV3"
    invites = mallory.get("/sync", params={"timeout": 0}).json()["rooms"].get("invite", {})
    assert len(invites) == 1  # a direct room with the bot, holding the reason
    direct = next(iter(invites))
    _join(mallory, direct)
    [reason] = [b for b in _bodies(mallory, direct) if "not linked" in b]
    assert "can read but not act" in reason
    assert not any("not linked" in b for b in _bodies(alice, room))

    # A guard's refusal (resolve without the checklist) reaches alice privately.
    _send(alice, room, {"msgtype": "m.text", "body": "!warroom resolve fixed"})
    listener.poll_once()
    assert runtime.incidents.get(incident).is_open

    # The same events delivered again (a replay: the sync resumed from an older point) are
    # not acted on twice.
    chat.save_cursor("matrix", before_ack)
    assert listener.poll_once() == 0
    assert len(_timeline(runtime, incident, "acknowledged")) == 1

    # A page from chat is posted with its acknowledgement; bob's ✅ acknowledges it as bob.
    _send(alice, room, {"msgtype": "m.text", "body": "!warroom page bob Need DB eyes"})
    assert listener.poll_once() == 1
    worker.run_once()  # the page's notifications first (pages go before other work)
    catch_up(worker)
    # (The incident's own page, to nobody here, carries an acknowledgement too.)
    [page] = [
        e
        for e in _messages(bot, room)
        if e["type"] == "m.room.message"
        and "org.warroom.ack" in e["content"]
        and e["content"]["body"].startswith("user:alice paged bob")
    ]
    _send(
        bob,
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": page["event_id"], "key": "✅"}},
        "m.reaction",
    )
    assert listener.poll_once() == 1
    [paged] = runtime.oncall.list_pages()
    assert paged["acknowledged_by"] == "user:bob"

    # Resolve and close through the API; the room is archived after the policy delay.
    checklist = {
        item.id: schemas.ChecklistAnswer(confirmed=True)
        for item in runtime.policy.resolution_checklist
    }
    runtime.incidents.resolve(
        ADMIN, incident, schemas.ResolveIn(summary="rolled back", checklist=checklist)
    )
    runtime.incidents.close(ADMIN, incident)
    catch_up(worker)
    assert chat.channels_of(incident)[0]["archived_at"] is None
    clock.advance(timedelta(hours=1, seconds=1))
    catch_up(worker)
    assert chat.channels_of(incident)[0]["archived_at"] is not None
    levels = bot.get(f"/rooms/{quote(room)}/state/m.room.power_levels").json()
    assert levels["events_default"] == 100
    refused = alice.put(
        f"/rooms/{quote(room)}/send/m.room.message/{uuid.uuid4().hex}",
        json={"msgtype": "m.text", "body": "still here?"},
    )
    assert refused.status_code == 403
    assert _timeline(runtime, incident, "chat_channel_archived")
    # Reopened: the room is writable again for everyone.
    runtime.incidents.reopen(ADMIN, incident, schemas.ReasonIn(reason="errors are back"))
    catch_up(worker)
    assert chat.channels_of(incident)[0]["archived_at"] is None
    levels = bot.get(f"/rooms/{quote(room)}/state/m.room.power_levels").json()
    assert levels["events_default"] == 0
    allowed = alice.put(
        f"/rooms/{quote(room)}/send/m.room.message/{uuid.uuid4().hex}",
        json={"msgtype": "m.text", "body": "back again"},
    )
    assert allowed.status_code == 200, allowed.text
    assert _timeline(runtime, incident, "chat_channel_unarchived")
    assert SERVER_NAME in users["alice"].user_id
    # The bot's access token never reached a log.
    assert users["bot"].token not in caplog.text
