"""Slack Socket Mode against a local WebSocket server speaking the documented protocol
(https://api.slack.com/apis/socket-mode): `apps.connections.open` with the app-level token
gives the URL; the server says `hello`, then sends envelopes (`slash_commands`, `events_api`,
`interactive`) that the app acknowledges with their `envelope_id` (and, for a slash command,
the response payload)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from tests.chat.conftest import ADMIN
from tests.chat.slack_server import APP_TOKEN, BOT_TOKEN, SlackServer
from warroom.chat.slack_socket import SlackSocketListener
from warroom.core.runtime import Runtime
from warroom.incidents import schemas
from warroom.worker import Worker

ALICE = "U0ALICE"


class SocketServer:
    """Sends queued envelopes to the connected app and collects its acknowledgements."""

    def __init__(self) -> None:
        self.outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _session(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TEST"}}
            )
        )
        while True:
            try:
                envelope = self.outgoing.get(timeout=0.05)
                connection.send(json.dumps(envelope))
            except queue.Empty:
                pass
            try:
                message = connection.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            self.acks.put(json.loads(message))

    def exchange(self, envelope: dict[str, Any]) -> dict[str, Any]:
        self.outgoing.put(envelope)
        ack: dict[str, Any] = self.acks.get(timeout=30)
        return ack

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def socket_server() -> Iterator[SocketServer]:
    server = SocketServer()
    yield server
    server.stop()


def test_commands_and_events_over_socket_mode(
    socket_server: SocketServer, chat_runtime: Callable[[dict[str, Any]], Runtime]
) -> None:
    slack = SlackServer()
    slack.state.socket_url = socket_server.url
    slack.state.users[ALICE] = "alice@example.com"
    try:
        runtime = chat_runtime(
            {
                "slack": {
                    "bot_token": BOT_TOKEN,
                    "app_token": APP_TOKEN,
                    "socket_mode": True,
                    "api_url": slack.url,
                    "bot_token_env": None,
                    "app_token_env": None,
                    "signing_secret_env": None,
                }
            }
        )
        incident = runtime.incidents.declare(
            ADMIN, schemas.DeclareIn(title="Disk full", severity="SEV3")
        ).public_id
        listener = SlackSocketListener(runtime.chat)
        listener.connect()
        try:
            command = {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0TEST",
                    "channel_id": "C0ELSEWHERE",
                    "user_id": ALICE,
                    "command": "/warroom",
                    "text": f"ack {incident}",
                    "trigger_id": "trig-1",
                },
            }
            ack = socket_server.exchange(command)
            assert ack["envelope_id"] == "env-1"
            assert ack["payload"] == {
                "response_type": "ephemeral",
                "text": f"acknowledged {incident}",
            }
            [event] = [e for e in runtime.incidents.timeline(incident) if e.type == "acknowledged"]
            assert event.actor == "user:alice"
            # The same envelope delivered again is acknowledged but not acted on.
            again = socket_server.exchange(
                {**command, "payload": {**command["payload"], "text": "note x"}}
            )
            assert again == {"envelope_id": "env-1"}
            assert not [e for e in runtime.incidents.timeline(incident) if e.type == "note_added"]

            # A page's Acknowledge click (interactive) on a second incident: acknowledged as
            # alice; a 📌 reaction (events_api) in its channel: a note by the author.
            worker = Worker(runtime)
            second = runtime.incidents.declare(
                ADMIN, schemas.DeclareIn(title="Queue stuck", severity="SEV3")
            ).public_id
            worker.run_once()
            [view] = runtime.chat.channels_of(second)
            channel = view["channel_id"]
            click = {
                "type": "block_actions",
                "user": {"id": ALICE},
                "channel": {"id": channel},
                "actions": [
                    {"action_id": "warroom_ack", "type": "button", "value": f"incident:{second}"}
                ],
            }
            ack = socket_server.exchange(
                {"envelope_id": "env-2", "type": "interactive", "payload": click}
            )
            assert ack == {"envelope_id": "env-2"}
            assert runtime.incidents.get(second).status.value == "acknowledged"
            said = slack.state.add_message(channel, ALICE, "Restarted the consumers")
            event = {
                "type": "event_callback",
                "event_id": "Ev0SOCKET",
                "event": {
                    "type": "reaction_added",
                    "user": ALICE,
                    "reaction": "pushpin",
                    "item": {"type": "message", "channel": channel, "ts": said},
                },
            }
            socket_server.exchange({"envelope_id": "env-3", "type": "events_api", "payload": event})
            [note] = [e for e in runtime.incidents.timeline(second) if e.type == "note_added"]
            assert (note.actor, note.data["text"]) == ("user:alice", "Restarted the consumers")
        finally:
            listener.close()
        assert slack.state.called("apps.connections.open")
    finally:
        slack.stop()
