"""Mattermost against a local server speaking the documented REST API v4 (endpoints cited in
tests/chat/mattermost_server.py), with the slash command as Mattermost sends it
(https://developers.mattermost.com/integrate/slash-commands/custom/: form fields `token`,
`team_id`, `channel_id`, `user_id`, `command`, `text`, `trigger_id`...; a JSON answer with
`response_type` ephemeral or in_channel) and message buttons
(https://developers.mattermost.com/integrate/plugins/interactive-messages/: the button's
`integration.url` receives `user_id`, `channel_id`, `post_id` and the button's `context`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from tests.chat.conftest import ADMIN
from tests.chat.mattermost_server import BOT_ID, BOT_TOKEN, MattermostServer
from warroom.api.app import create_app
from warroom.core.auth import SYSTEM
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.vocab import Role
from warroom.incidents import schemas
from warroom.incidents.model import Event
from warroom.worker import Worker

COMMAND_TOKEN = "xr3j5x3p4pfjpfp9h4ybdspdmr"


@pytest.fixture
def mattermost() -> Iterator[MattermostServer]:
    server = MattermostServer()
    yield server
    server.stop()


def _command(
    client: TestClient, token: str, user: str, channel: str, text: str, trigger: str
) -> Any:
    body = urlencode(
        {
            "channel_id": channel,
            "channel_name": "town-square",
            "command": "/warroom",
            "response_url": "https://mm.example/hooks/commands/x",
            "team_domain": "ops",
            "team_id": "teamid00000000000000000000",
            "text": text,
            "token": token,
            "trigger_id": trigger,
            "user_id": user,
            "user_name": "someone",
        }
    )
    return client.post(
        "/api/v1/chat/mattermost/command",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Token {token}",
        },
    )


def test_mattermost_channel_command_and_button(
    mattermost: MattermostServer,
    chat_runtime: Callable[[dict[str, Any]], Runtime],
    clock: FixedClock,
) -> None:
    state = mattermost.state
    alice = state.add_user("alice", "alice@example.com")
    bob = state.add_user("bob", "bob@example.com")
    stranger = state.add_user("stranger", "stranger@elsewhere.org")
    runtime = chat_runtime(
        {
            "private": True,
            "archive_after": "1h",
            "mattermost": {
                "url": mattermost.url,
                "team": "ops",
                "bot_token": BOT_TOKEN,
                "bot_token_env": None,
                "command_tokens": [COMMAND_TOKEN],
                "command_tokens_env": None,
            },
        }
    )
    worker = Worker(runtime)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    state.channels["taken"] = {
        "id": "taken", "team_id": "x", "name": "inc-20261123-001-login-broken", "display_name": "x",
        "type": "O", "header": "", "purpose": "", "delete_at": 0, "members": set(),
    }  # fmt: skip

    incident = runtime.incidents.declare(
        ADMIN,
        schemas.DeclareIn(title="Login broken", severity="SEV3", roles={Role.COMMANDER: "alice"}),
    ).public_id
    # Rate limited on the first try: retried later.
    state.fail_next["POST /api/v4/channels"] = 429
    worker.run_once()
    assert "429" in runtime.chat.deliveries(incident)[0]["error"]
    clock.advance(timedelta(minutes=1))
    worker.run_once()
    [channel] = [c for c in state.channels.values() if c["id"] != "taken"]
    assert channel["name"] == "inc-20261123-001-login-broken-2"  # the name was taken
    assert channel["type"] == "P"  # private, per the config
    assert alice in channel["members"]
    [card] = [p for p in state.posts.values() if p["is_pinned"]]
    assert "Commander: alice" in card["message"]

    # A page is posted with an Acknowledge button carrying a signed context.
    runtime.incidents.append_events(
        SYSTEM, incident, [Event("paged", SYSTEM.actor, clock.now(), {"notified": ["bob"]})]
    )
    worker.run_once()
    assert bob in channel["members"]
    [page] = [p for p in state.posts.values() if p["message"].startswith("**Paged bob")]
    [button] = page["props"]["attachments"][0]["actions"]
    assert button["name"] == "Acknowledge"
    assert button["integration"]["url"].endswith("/api/v1/chat/mattermost/action")
    context = button["integration"]["context"]

    # A forged context is refused; bob's click acknowledges as bob.
    forged = {**context, "action": "incident:INC-20261123-999"}
    request = {
        "user_id": bob,
        "channel_id": channel["id"],
        "post_id": page["id"],
        "context": forged,
    }
    assert client.post("/api/v1/chat/mattermost/action", json=request).status_code == 401
    request["context"] = context
    answer = client.post("/api/v1/chat/mattermost/action", json=request)
    assert answer.status_code == 200, answer.text
    assert [e.actor for e in runtime.incidents.timeline(incident) if e.type == "acknowledged"] == [
        "user:bob"
    ]

    # Slash commands: the token is checked; a replayed trigger is refused.
    assert _command(client, "wrong", alice, channel["id"], "note hi", "t0").status_code == 401
    noted = _command(client, COMMAND_TOKEN, alice, channel["id"], "note DB back *up*", "t1")
    assert noted.json()["response_type"] == "ephemeral", noted.text
    [note] = [e for e in runtime.incidents.timeline(incident) if e.type == "note_added"]
    assert note.actor == "user:alice" and note.data["text"] == "DB back *up*"
    assert (
        _command(client, COMMAND_TOKEN, alice, channel["id"], "note again", "t1").status_code == 409
    )
    refused = _command(client, COMMAND_TOKEN, stranger, channel["id"], "ack", "t2").json()
    assert refused["response_type"] == "ephemeral" and "can read but not act" in refused["text"]
    declared = _command(
        client, COMMAND_TOKEN, alice, channel["id"], "declare SEV4 Search slow", "t3"
    )
    assert declared.json()["response_type"] == "in_channel"
    assert "declared INC-20261123-002" in declared.json()["text"]

    # The bot removed from the channel: posts fail (403) and the log shows it.
    channel["members"].discard(BOT_ID)
    runtime.incidents.move(ADMIN, incident, schemas.StatusIn(status="investigating"))
    worker.run_once()
    assert any(d["error"] and "403" in d["error"] for d in runtime.chat.deliveries(incident))
    channel["members"].add(BOT_ID)

    # Close: archived (soft-deleted) after the delay.
    checklist = {
        i.id: schemas.ChecklistAnswer(confirmed=True) for i in runtime.policy.resolution_checklist
    }
    runtime.incidents.resolve(ADMIN, incident, schemas.ResolveIn(summary="ok", checklist=checklist))
    runtime.incidents.close(ADMIN, incident)
    clock.advance(timedelta(hours=1, seconds=1))
    worker.run_once()
    assert channel["delete_at"]

    # Reopened: the archived channel is restored (POST /channels/{id}/restore) and told why.
    runtime.incidents.reopen(ADMIN, incident, schemas.ReasonIn(reason="errors are back"))
    for _ in range(10):
        if worker.run_once() == 0:
            break
    assert not channel["delete_at"]
    assert state.called("POST", f"/api/v4/channels/{channel['id']}/restore") == [{}]
    assert runtime.chat.channels_of(incident)[0]["archived_at"] is None
    posted = [post["message"] for post in state.posts.values()]
    assert any("reopened: errors are back" in m and "open again" in m for m in posted)
