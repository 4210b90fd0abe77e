"""A local server speaking exactly the Mattermost REST API v4 endpoints warroom uses, as
documented at https://api.mattermost.com/ (bearer token auth; JSON bodies; errors are
`{"id", "message", "status_code", ...}` with the HTTP status; rate limits answer HTTP 429 with
`X-Ratelimit-Limit/Remaining/Reset` headers, https://docs.mattermost.com/configure/rate-limiting-configuration-settings.html):

- GET  /api/v4/users/me                      https://api.mattermost.com/#tag/users/operation/GetUser
- GET  /api/v4/teams/name/{team_name}        https://api.mattermost.com/#tag/teams/operation/GetTeamByName
- POST /api/v4/channels (team_id, name, display_name, type O|P; a taken name is 400
  `store.sql_channel.save_channel.exists.app_error`)
                                             https://api.mattermost.com/#tag/channels/operation/CreateChannel
- POST /api/v4/channels/{id}/members         https://api.mattermost.com/#tag/channels/operation/AddChannelMember
- PUT  /api/v4/channels/{id}/patch           https://api.mattermost.com/#tag/channels/operation/PatchChannel
- DELETE /api/v4/channels/{id} (archives)    https://api.mattermost.com/#tag/channels/operation/DeleteChannel
- POST /api/v4/channels/{id}/restore (un-archives; 400 when not archived)
                                             https://api.mattermost.com/#tag/channels/operation/RestoreChannel
- POST /api/v4/posts (channel_id, message, props; 403 when the bot is not a member)
                                             https://api.mattermost.com/#tag/posts/operation/CreatePost
- PUT  /api/v4/posts/{id}/patch              https://api.mattermost.com/#tag/posts/operation/PatchPost
- POST /api/v4/posts/{id}/pin                https://api.mattermost.com/#tag/posts/operation/PinPost
- POST /api/v4/posts/ephemeral (user_id, post)
                                             https://api.mattermost.com/#tag/posts/operation/CreatePostEphemeral
- GET  /api/v4/users/email/{email}           https://api.mattermost.com/#tag/users/operation/GetUserByEmail
- GET  /api/v4/users/{id}                    https://api.mattermost.com/#tag/users/operation/GetUser
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.support.serving import serve_in_thread

BOT_TOKEN = "mm-bot-token-0123456789"
BOT_ID = "botuserid0000000000000000a"
TEAM = {"id": "teamid00000000000000000000", "name": "ops", "display_name": "Ops"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _id() -> str:
    return uuid.uuid4().hex[:26]


class MattermostState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, Any]] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {
            BOT_ID: {"id": BOT_ID, "username": "warroom", "email": ""}
        }
        self.fail_next: dict[str, int] = {}

    def add_user(self, username: str, email: str) -> str:
        user_id = _id()
        self.users[user_id] = {"id": user_id, "username": username, "email": email}
        return user_id

    def called(self, method: str, prefix: str) -> list[Any]:
        return [body for m, path, body in self.calls if m == method and path.startswith(prefix)]

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:2] != ["api", "v4"]:
            return _error(404, "api.context.404.app_error", "not found")
        p = parts[2:]
        if method == "GET" and p == ["users", "me"]:
            return 200, self.users[BOT_ID]
        if method == "GET" and p[:2] == ["teams", "name"] and len(p) == 3:
            return (
                (200, TEAM)
                if p[2] == TEAM["name"]
                else _error(404, "app.team.get_by_name.missing.app_error", "team not found")
            )
        if method == "GET" and p[:2] == ["users", "email"]:
            for user in self.users.values():
                if user["email"].lower() == p[2].lower():
                    return 200, user
            return _error(404, "app.user.missing_account.const", "user not found")
        if method == "GET" and p[0] == "users" and len(p) == 2:
            user = self.users.get(p[1])
            return (
                (200, user)
                if user
                else _error(404, "app.user.missing_account.const", "user not found")
            )
        if method == "POST" and p == ["channels"]:
            return self._create_channel(body)
        if p[0] == "channels" and len(p) >= 2:
            channel = self.channels.get(p[1])
            if method == "POST" and p[2:] == ["restore"] and channel is not None:
                if not channel["delete_at"]:
                    return _error(
                        400, "api.channel.restore_channel.restored.app_error", "not archived"
                    )
                channel["delete_at"] = 0
                return 200, self._view(channel)
            if channel is None or channel["delete_at"]:
                return _error(404, "app.channel.get.existing.app_error", "channel not found")
            if method == "POST" and p[2:] == ["members"]:
                if body.get("user_id") not in self.users:
                    return _error(404, "app.user.missing_account.const", "user not found")
                channel["members"].add(body["user_id"])
                return 201, {"channel_id": channel["id"], "user_id": body["user_id"]}
            if method == "PUT" and p[2:] == ["patch"]:
                channel.update(
                    {k: v for k, v in body.items() if k in ("header", "purpose", "display_name")}
                )
                return 200, self._view(channel)
            if method == "DELETE" and len(p) == 2:
                channel["delete_at"] = 1
                return 200, {"status": "OK"}
        if method == "POST" and p == ["posts"]:
            channel = self.channels.get(body.get("channel_id", ""))
            if channel is None or channel["delete_at"]:
                return _error(404, "app.channel.get.existing.app_error", "channel not found")
            if BOT_ID not in channel["members"]:
                return _error(
                    403,
                    "api.context.permissions.app_error",
                    "You do not have the appropriate permissions.",
                )
            post = {
                "id": _id(),
                "channel_id": channel["id"],
                "user_id": BOT_ID,
                "message": body.get("message", ""),
                "props": body.get("props") or {},
                "is_pinned": False,
            }
            self.posts[post["id"]] = post
            return 201, post
        if method == "POST" and p == ["posts", "ephemeral"]:
            self.ephemeral.append(body)
            return 201, {"id": _id(), **body["post"]}
        if p[0] == "posts" and len(p) == 3:
            post = self.posts.get(p[1])
            if post is None:
                return _error(404, "app.post.get.app_error", "post not found")
            if method == "PUT" and p[2] == "patch":
                post.update({k: v for k, v in body.items() if k in ("message", "props")})
                return 200, post
            if method == "POST" and p[2] == "pin":
                post["is_pinned"] = True
                return 200, {"status": "OK"}
        return _error(404, "api.context.404.app_error", "not found")

    def _create_channel(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("team_id") != TEAM["id"]:
            return _error(403, "api.context.permissions.app_error", "no permission")
        name = str(body.get("name", ""))
        if (
            not _NAME.match(name)
            or not body.get("display_name")
            or body.get("type") not in ("O", "P")
        ):
            return _error(400, "model.channel.is_valid.2_or_more.app_error", "invalid channel")
        if any(c["name"] == name for c in self.channels.values()):
            return _error(
                400,
                "store.sql_channel.save_channel.exists.app_error",
                "A channel with that name already exists on the same team.",
            )
        channel = {
            "id": _id(),
            "team_id": TEAM["id"],
            "name": name,
            "display_name": body["display_name"],
            "type": body["type"],
            "header": body.get("header", ""),
            "purpose": body.get("purpose", ""),
            "delete_at": 0,
            "members": {BOT_ID},
        }
        self.channels[channel["id"]] = channel
        return 201, self._view(channel)

    def _view(self, channel: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in channel.items() if k != "members"}


def _error(status: int, error_id: str, message: str) -> tuple[int, Any]:
    return status, {"id": error_id, "message": message, "status_code": status, "request_id": _id()}


class MattermostServer:
    def __init__(self) -> None:
        self.state = MattermostState()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode() if length else ""
                body = json.loads(raw) if raw else {}
                with state.lock:
                    state.calls.append((self.command, self.path, body))
                    if self.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                        self._send(
                            *_error(
                                401,
                                "api.context.session_expired.app_error",
                                "Invalid or expired session",
                            )
                        )
                        return
                    status = state.fail_next.pop(f"{self.command} {self.path.split('?')[0]}", None)
                    if status == 429:
                        self._send(
                            429,
                            {
                                "id": "api.context.rate_limit",
                                "message": "too many requests",
                                "status_code": 429,
                            },
                            {
                                "X-Ratelimit-Limit": "10",
                                "X-Ratelimit-Remaining": "0",
                                "X-Ratelimit-Reset": "2",
                            },
                        )
                        return
                    self._send(*state.route(self.command, self.path.split("?")[0], body))

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        serve_in_thread(self.httpd)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
