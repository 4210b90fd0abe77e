"""Inbound Matrix without a public URL: the `/sync` loop run by `warroom chat listen`."""

from __future__ import annotations

import logging
import threading

from warroom.chat.matrix import ACK_FIELD, ACK_REACTION, Inbound, MatrixPlatform
from warroom.chat.model import Message, strip_prefix
from warroom.chat.platform import ChatError
from warroom.chat.service import Actor, ChatService, Reply

log = logging.getLogger("warroom.chat")


class MatrixListener:
    """Acts on `!warroom` commands, `📌` reactions and pinned messages in incident rooms."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        platform = service.platform("matrix")
        assert isinstance(platform, MatrixPlatform)
        self.matrix = platform
        assert service.config.matrix is not None
        self.prefix = service.config.matrix.command_prefix
        self._stop = threading.Event()

    def poll_once(self, timeout_ms: int = 0) -> int:
        """One `/sync`; returns how many events were acted on."""
        since = self.service.cursor("matrix")
        cursor, found = self.matrix.sync(since, timeout_ms)
        acted = 0
        for item in found:
            if item.kind == "command" and strip_prefix(item.text, self.prefix) is None:
                continue  # conversation, not a command: nothing to remember
            if not self.service.first_time(f"matrix:{item.event_id}"):
                continue  # seen before: a replay or a re-delivered sync
            try:
                acted += self._act(item)
            except ChatError as exc:
                log.warning("chat: matrix event %s: %s", item.event_id, exc.message)
        if cursor:
            self.service.save_cursor("matrix", cursor)
        return acted

    def run(self, timeout_ms: int = 30_000) -> None:
        """Long-poll until stopped; failures and recoveries go to the delivery log (so
        `warroom chat status` shows them)."""
        failing = False
        while not self._stop.is_set():
            try:
                self.poll_once(timeout_ms)
            except ChatError as exc:
                log.warning("chat: matrix sync failed: %s", exc.message)
                self.service.record("matrix", "listen", exc.message)
                failing = True
                self._stop.wait(5)
                continue
            if failing:
                self.service.record("matrix", "listen", None)
                failing = False

    def stop(self) -> None:
        self._stop.set()

    def _actor(self, user: str) -> Actor:
        return Actor("matrix", user, self.service.person_of("matrix", user))

    def _act(self, item: Inbound) -> int:
        actor = self._actor(item.user)
        if item.kind == "command":
            text = strip_prefix(item.text, self.prefix)
            if text is None:
                return 0
            reply = self.service.run_command(actor, item.channel, text)
            self._answer(item, reply)
            return 1
        if item.kind == "reaction" and item.text.startswith(self.service.config.note_reaction):
            return self._mark(item, actor)
        if item.kind == "reaction" and item.text.startswith(ACK_REACTION) and item.message_id:
            return self._acknowledge(item, actor)
        if item.kind == "mark":
            return self._mark(item, actor)
        return 0

    def _acknowledge(self, item: Inbound, actor: Actor) -> int:
        """✅ on a page message: acknowledge as the person who reacted."""
        assert item.message_id is not None
        reacted = self.matrix.event(item.channel, item.message_id)
        value = (reacted.get("content") or {}).get(ACK_FIELD)
        if reacted.get("sender") != self.matrix.user_id or not value:
            return 0
        reply = self.service.acknowledge_button(actor, str(value))
        if not reply.ok:  # (success shows on the timeline, mirrored into the room)
            self.matrix.reply_private(item.channel, item.user, reply.text)
        return 1

    def _mark(self, item: Inbound, actor: Actor) -> int:
        if not item.message_id or self.service.incident_of_channel("matrix", item.channel) is None:
            return 0
        marked = self.matrix.event(item.channel, item.message_id)
        if marked.get("sender") == self.matrix.user_id:
            return 0  # the bot's own messages (summary card, mirrored events) are not notes
        body = str((marked.get("content") or {}).get("body", "")).strip()
        if not body:
            return 0
        link = f"https://matrix.to/#/{item.channel}/{item.message_id}"
        reply = self.service.mark(actor, item.channel, str(marked.get("sender", "")), body, link)
        self._answer(item, reply)
        return 1

    def _answer(self, item: Inbound, reply: Reply) -> None:
        """Refusals and personal answers privately; announcements in the room."""
        if reply.ok and item.kind == "command":
            self.matrix.react(item.channel, item.event_id, "✅")
        if reply.ok and not reply.private:
            self.matrix.post(item.channel, Message(reply.text))
        else:
            self.matrix.reply_private(item.channel, item.user, reply.text)
