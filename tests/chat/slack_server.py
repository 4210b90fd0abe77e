"""A local server speaking exactly the Slack Web API methods warroom uses, as documented:

- https://api.slack.com/web (POST, `Authorization: Bearer`, form or JSON bodies; every
  response is HTTP 200 with `{"ok": false, "error": ...}` on failure, except rate limits:
  HTTP 429 with a `Retry-After` header, https://api.slack.com/apis/rate-limits)
- https://api.slack.com/methods/auth.test
- https://api.slack.com/methods/conversations.create (name: lowercase letters, digits, - and _,
  at most 80 characters; errors name_taken, invalid_name_specials, invalid_name_maxlength)
- https://api.slack.com/methods/conversations.invite (users: comma-separated ids; errors
  not_in_channel, already_in_channel, user_not_found, is_archived)
- https://api.slack.com/methods/conversations.setTopic (errors not_in_channel, too_long)
- https://api.slack.com/methods/conversations.archive (errors already_archived, not_in_channel)
- https://api.slack.com/methods/conversations.unarchive ("Bot tokens (xoxb-...) cannot
  currently be used to unarchive conversations": refused as Slack refuses a token of the wrong
  type, `not_allowed_token_type`; errors not_archived, channel_not_found)
- https://api.slack.com/methods/conversations.history (latest/oldest/inclusive/limit)
- https://api.slack.com/methods/chat.postMessage (text or blocks; errors not_in_channel,
  is_archived, channel_not_found, no_text)
- https://api.slack.com/methods/chat.update (channel + ts; errors message_not_found)
- https://api.slack.com/methods/chat.postEphemeral (errors user_not_in_channel)
- https://api.slack.com/methods/pins.add (channel + timestamp; errors already_pinned)
- https://api.slack.com/methods/users.lookupByEmail (errors users_not_found)
- https://api.slack.com/methods/users.info (errors user_not_found)
- https://api.slack.com/methods/apps.connections.open (app-level token; the Socket Mode URL)
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.support.serving import serve_in_thread

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"
BOT_USER = "UBOT0WARROOM"
_NAME = re.compile(r"^[a-z0-9_-]+$")


class SlackState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.users: dict[str, str] = {}  # id -> email
        self.fail_next: dict[str, tuple[str, int, int | None]] = {}
        # apps.connections.open answers with this WebSocket URL (Socket Mode).
        self.socket_url = ""
        self._ts = 1_700_000_000

    def next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts}.000100"

    def add_channel(self, name: str, members: set[str] | None = None) -> str:
        channel_id = f"C{len(self.channels) + 1:08d}"
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_private": False,
            "is_archived": False,
            "members": set(members or {BOT_USER}),
            "topic": "",
            "pins": [],
        }
        self.messages[channel_id] = []
        return channel_id

    def add_message(self, channel: str, user: str, text: str) -> str:
        ts = self.next_ts()
        self.messages[channel].append({"type": "message", "user": user, "text": text, "ts": ts})
        return ts

    def called(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args, _ in self.calls if name == method]

    # ---- methods -------------------------------------------------------------------------

    def handle(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        result: dict[str, Any] = handler(args)
        return result

    def _channel(self, args: dict[str, Any]) -> dict[str, Any] | str:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None:
            return "channel_not_found"
        if BOT_USER not in channel["members"]:
            return "not_in_channel"
        return channel

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://warroom-test.slack.com/",
            "team": "Warroom Test",
            "user": "warroom",
            "team_id": "T0TEST",
            "user_id": BOT_USER,
            "bot_id": "B0WARROOM",
        }

    def m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        if not name:
            return {"ok": False, "error": "invalid_name_required"}
        if len(name) > 80:
            return {"ok": False, "error": "invalid_name_maxlength"}
        if not _NAME.match(name):
            return {"ok": False, "error": "invalid_name_specials"}
        if any(c["name"] == name for c in self.channels.values()):
            return {"ok": False, "error": "name_taken"}
        channel_id = self.add_channel(name)
        private = str(args.get("is_private", "false")).lower() in ("true", "1")
        self.channels[channel_id]["is_private"] = private
        return {"ok": True, "channel": self._view(channel_id)}

    def _view(self, channel_id: str) -> dict[str, Any]:
        c = self.channels[channel_id]
        return {
            "id": c["id"],
            "name": c["name"],
            "is_channel": True,
            "is_private": c["is_private"],
            "is_archived": c["is_archived"],
            "is_member": BOT_USER in c["members"],
            "topic": {"value": c["topic"], "creator": BOT_USER, "last_set": 0},
        }

    def m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        if channel["is_archived"]:
            return {"ok": False, "error": "is_archived"}
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "no_user"}
        for user in users:
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
        if all(u in channel["members"] for u in users):
            return {"ok": False, "error": "already_in_channel"}
        channel["members"].update(users)
        return {"ok": True, "channel": self._view(channel["id"])}

    def m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        topic = str(args.get("topic", ""))
        if len(topic) > 250:
            return {"ok": False, "error": "too_long"}
        channel["topic"] = topic
        return {"ok": True, "channel": self._view(channel["id"])}

    def m_conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        if channel["is_archived"]:
            return {"ok": False, "error": "already_archived"}
        channel["is_archived"] = True
        return {"ok": True}

    def m_conversations_unarchive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not channel["is_archived"]:
            return {"ok": False, "error": "not_archived"}
        return {"ok": False, "error": "not_allowed_token_type"}  # this server knows bots only

    def m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        latest = float(args.get("latest", "9e12"))
        oldest = float(args.get("oldest", "0"))
        inclusive = str(args.get("inclusive", "false")).lower() in ("true", "1")
        found = [
            m
            for m in self.messages[channel["id"]]
            if (oldest <= float(m["ts"]) <= latest)
            if inclusive or oldest < float(m["ts"]) < latest
        ]
        limit = int(args.get("limit", 100))
        return {"ok": True, "messages": list(reversed(found))[:limit], "has_more": False}

    def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        if channel["is_archived"]:
            return {"ok": False, "error": "is_archived"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self.next_ts()
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": "B0WARROOM",
            "text": args.get("text", ""),
            "blocks": _blocks(args.get("blocks")),
            "ts": ts,
        }
        self.messages[channel["id"]].append(message)
        return {"ok": True, "channel": channel["id"], "ts": ts, "message": message}

    def m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        for message in self.messages[channel["id"]]:
            if message["ts"] == args.get("ts"):
                if message.get("user") != BOT_USER:
                    return {"ok": False, "error": "cant_update_message"}
                message["text"] = args.get("text", "")
                message["blocks"] = _blocks(args.get("blocks"))
                return {
                    "ok": True,
                    "channel": channel["id"],
                    "ts": message["ts"],
                    "text": message["text"],
                }
        return {"ok": False, "error": "message_not_found"}

    def m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        if args.get("user") not in channel["members"]:
            return {"ok": False, "error": "user_not_in_channel"}
        self.ephemeral.append(dict(args))
        return {"ok": True, "message_ts": self.next_ts()}

    def m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, str):
            return {"ok": False, "error": channel}
        ts = args.get("timestamp")
        if not any(m["ts"] == ts for m in self.messages[channel["id"]]):
            return {"ok": False, "error": "message_not_found"}
        if ts in channel["pins"]:
            return {"ok": False, "error": "already_pinned"}
        channel["pins"].append(ts)
        return {"ok": True}

    def m_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        for user, known in self.users.items():
            if known.lower() == email:
                return {"ok": True, "user": {"id": user, "profile": {"email": known}}}
        return {"ok": False, "error": "users_not_found"}

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, "profile": {"email": self.users[user]}}}


def _blocks(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


class SlackServer:
    def __init__(self, port: int = 0) -> None:
        self.state = SlackState()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                method = self.path.split("/api/", 1)[-1].split("?")[0]
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                kind = self.headers.get("Content-Type", "").split(";")[0]
                if kind == "application/json":
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                auth = self.headers.get("Authorization", "")
                with state.lock:
                    state.calls.append((method, args, kind))
                    if method == "apps.connections.open":
                        # https://api.slack.com/methods/apps.connections.open: app-level token.
                        if auth != f"Bearer {APP_TOKEN}":
                            self._send(200, {"ok": False, "error": "invalid_auth"})
                        else:
                            self._send(200, {"ok": True, "url": state.socket_url})
                        return
                    if auth != f"Bearer {BOT_TOKEN}":
                        self._send(
                            200,
                            {"ok": False, "error": "not_authed" if not auth else "invalid_auth"},
                        )
                        return
                    failure = state.fail_next.pop(method, None)
                    if failure is not None:
                        error, status, retry_after = failure
                        headers = {"Retry-After": str(retry_after)} if retry_after else {}
                        self._send(status, {"ok": False, "error": error}, headers)
                        return
                    self._send(200, state.handle(method, args))

            def _send(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/"
        self._thread = serve_in_thread(self.httpd)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
