"""Incident channels at work: the outbox handlers that open, sync, post to and archive
channels, who chat users are in warroom, and commands run as them.

Commands go through the same services as the API (same scopes, same guards); a refusal is
answered with the guard's reason, privately to the person who asked.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.chat import model, tables
from warroom.chat.config import ChatConfig
from warroom.chat.model import Command, CommandError, Message
from warroom.chat.platform import Channel, ChatError, ChatPlatform
from warroom.core import outbox
from warroom.core.auth import SYSTEM, Principal
from warroom.core.errors import InvalidInput, NotFound, WarroomError
from warroom.core.outbox import Outcome
from warroom.core.runtime import Runtime
from warroom.core.vocab import Role, Status
from warroom.incidents import schemas
from warroom.incidents.model import Event, IncidentState

log = logging.getLogger("warroom.chat")

# How many times a channel name is tried with a suffix when the platform says it is taken.
NAME_ATTEMPTS = 5
# The keyring entry that signs chat buttons' contexts.
BUTTON_KEY = "chat_buttons"
# After the outbox's own attempts, a chat outage is retried this often, this many times (a day).
OUTAGE_RETRY = timedelta(minutes=15)
OUTAGE_RETRIES = 96
# Inbound keys (replay protection) are kept this long.
INBOUND_TTL = timedelta(days=2)


class ChannelNotOpen(ChatError):
    """The incident's channel is not open yet: wait for it (not a call to the platform)."""

    def __init__(self) -> None:
        super().__init__("the channel is not open yet")


@dataclass(frozen=True)
class Reply:
    """The answer to a command: `private` answers are seen only by the person who asked."""

    ok: bool
    text: str
    private: bool = True


@dataclass(frozen=True)
class Actor:
    """A chat user as warroom knows them (person None: unknown, may read but not act)."""

    platform: str
    chat_user: str
    person: str | None


class ChatService:
    def __init__(
        self,
        runtime: Runtime,
        config: ChatConfig,
        factories: dict[str, Callable[[], ChatPlatform]],
    ) -> None:
        self.runtime = runtime
        self.config = config
        self._factories = factories
        self._platforms: dict[str, ChatPlatform] = {}

    # ---- platforms ---------------------------------------------------------------------

    def platform(self, name: str) -> ChatPlatform:
        if name not in self._platforms:
            factory = self._factories.get(name)
            if factory is None:
                raise ChatError(f"chat platform {name} is not configured", retryable=False)
            self._platforms[name] = factory()
        return self._platforms[name]

    def war_room_url(self, incident: str) -> str:
        return f"{self.runtime.settings.public_url()}/incidents/{incident}"

    # ---- reads -------------------------------------------------------------------------

    def channel(self, conn: Connection, incident: str, platform: str) -> Any:
        c = tables.channels
        return conn.execute(
            select(c).where(c.c.incident == incident, c.c.platform == platform)
        ).first()

    def channels_of(self, incident: str) -> list[dict[str, Any]]:
        c = tables.channels
        with self.runtime.db.read() as conn:
            rows = conn.execute(
                select(c).where(c.c.incident == incident.upper()).order_by(c.c.id)
            ).all()
        return [_channel_view(r) for r in rows]

    def incident_of_channel(self, platform: str, channel_id: str) -> str | None:
        c = tables.channels
        with self.runtime.db.read() as conn:
            row = conn.execute(
                select(c.c.incident).where(c.c.platform == platform, c.c.channel_id == channel_id)
            ).first()
        return str(row.incident) if row else None

    def status(self) -> dict[str, Any]:
        """Per platform: configured, the last delivery and the last error."""
        d = tables.deliveries
        result: dict[str, Any] = {"platforms": []}
        with self.runtime.db.read() as conn:
            for name in self.config.platforms():
                last = conn.execute(
                    select(d).where(d.c.platform == name).order_by(d.c.id.desc()).limit(1)
                ).first()
                error = conn.execute(
                    select(d)
                    .where(d.c.platform == name, d.c.ok.is_(False))
                    .order_by(d.c.id.desc())
                    .limit(1)
                ).first()
                channels = conn.execute(
                    select(func.count())
                    .select_from(tables.channels)
                    .where(
                        tables.channels.c.platform == name,
                        tables.channels.c.archived_at.is_(None),
                    )
                ).scalar_one()
                state = "unknown" if last is None else ("ok" if last.ok else "failing")
                result["platforms"].append(
                    {
                        "platform": name,
                        "state": state,
                        "open_channels": int(channels),
                        "last_attempt_at": last.attempted_at.isoformat() if last else None,
                        "last_error": error.error if error else None,
                        "last_error_at": error.attempted_at.isoformat() if error else None,
                    }
                )
        return result

    def deliveries(
        self, incident: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[dict[str, Any]]:
        d = tables.deliveries
        query = select(d).order_by(d.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(d.c.id < before_id)
        if incident:
            query = query.where(d.c.incident == incident.upper())
        with self.runtime.db.read() as conn:
            rows = conn.execute(query).all()
        return [{**dict(r._mapping), "attempted_at": r.attempted_at.isoformat()} for r in rows]

    def check(self) -> list[dict[str, Any]]:
        """Try each platform's credentials now (`warroom chat status --check`)."""
        results = []
        for name in self.config.platforms():
            try:
                who = self.platform(name).whoami()
                results.append({"platform": name, "ok": True, "as": who})
            except ChatError as exc:
                results.append({"platform": name, "ok": False, "error": exc.message})
        return results

    # ---- outbox handlers ---------------------------------------------------------------

    def handle(self, runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
        p = effect.payload
        platform = str(p["platform"])
        incident = str(p["incident"])
        action = effect.kind.removeprefix("chat.")
        try:
            message = {
                model.OPEN: self._open,
                model.SYNC: self._sync,
                model.POST: self._post,
                model.ARCHIVE: self._archive,
                model.UNARCHIVE: self._unarchive,
            }[effect.kind](effect)
        except ChannelNotOpen as exc:
            if effect.attempts >= outbox.MAX_ATTEMPTS and int(p.get("outage", 0)) < OUTAGE_RETRIES:
                self._again(effect, OUTAGE_RETRY.total_seconds(), "outage")
                return Outcome(True, f"{exc.message}; again in {OUTAGE_RETRY}")
            return Outcome(False, exc.message, retryable=True)
        except ChatError as exc:
            self._log(effect, platform, incident, action, exc.message)
            if exc.retryable and exc.retry_after and int(p.get("rate_limited", 0)) < 8:
                # Rate limited: the same work again when the platform said (its Retry-After),
                # not on the outbox's own backoff.
                self._again(effect, exc.retry_after, "rate_limited")
                return Outcome(True, f"{exc.message}; again in {exc.retry_after:g}s")
            outage = exc.retryable and effect.attempts >= outbox.MAX_ATTEMPTS
            if outage and int(p.get("outage", 0)) < OUTAGE_RETRIES:
                # A long outage outlasts the outbox's attempts: keep trying, less often, for
                # a day before giving up.
                self._again(effect, OUTAGE_RETRY.total_seconds(), "outage")
                return Outcome(True, f"{exc.message}; again in {OUTAGE_RETRY}")
            final = not exc.retryable or effect.attempts >= outbox.MAX_ATTEMPTS
            if final and effect.kind in (model.OPEN, model.UNARCHIVE):
                self._timeline(
                    incident,
                    "chat_channel_failed",
                    {"platform": platform, "error": exc.message, "action": action},
                )
            return Outcome(False, exc.message, retryable=exc.retryable)
        except NotFound:
            return Outcome(True, "incident gone")
        self._log(effect, platform, incident, action, None)
        return Outcome(True, message)

    def _again(self, effect: outbox.ClaimedEffect, seconds: float, counter: str) -> None:
        """The same effect again in `seconds` (a new row, counting how often in `counter`)."""
        now = self.runtime.clock.now()
        payload = dict(effect.payload)
        payload[counter] = int(payload.get(counter, 0)) + 1
        base = payload.setdefault("dedup_base", effect.dedup_key)
        again = outbox.Effect(
            effect.kind,
            payload,
            now + timedelta(seconds=min(seconds, 3600)),
            incident_id=effect.incident_id,
            dedup_key=f"{base}:{counter}{payload[counter]}" if base else None,
        )
        with self.runtime.db.write() as conn:
            outbox.enqueue(conn, [again], now)

    def _log(
        self,
        effect: outbox.ClaimedEffect,
        platform: str,
        incident: str,
        action: str,
        error: str | None,
    ) -> None:
        with self.runtime.db.write() as conn:
            conn.execute(
                insert(tables.deliveries).values(
                    outbox_id=effect.id,
                    incident=incident,
                    platform=platform,
                    action=action[:40],
                    ok=error is None,
                    error=error[:2000] if error else None,
                    attempt=effect.attempts,
                    attempted_at=self.runtime.clock.now(),
                )
            )

    def record(self, platform: str, action: str, error: str | None) -> None:
        """A delivery-log entry not tied to an effect (the Matrix listener's connection)."""
        with self.runtime.db.write() as conn:
            conn.execute(
                insert(tables.deliveries).values(
                    outbox_id=None,
                    incident=None,
                    platform=platform,
                    action=action,
                    ok=error is None,
                    error=error[:2000] if error else None,
                    attempt=1,
                    attempted_at=self.runtime.clock.now(),
                )
            )

    def _timeline(self, incident: str, kind: str, data: dict[str, Any]) -> None:
        event = Event(kind, SYSTEM.actor, self.runtime.clock.now(), data)
        with contextlib.suppress(NotFound):
            self.runtime.incidents.append_events(SYSTEM, incident, [event])

    def _open(self, effect: outbox.ClaimedEffect) -> str:
        p = effect.payload
        platform_name = str(p["platform"])
        state = self.runtime.incidents.get(str(p["incident"]))
        with self.runtime.db.read() as conn:
            existing = self.channel(conn, state.public_id, platform_name)
        if existing is not None:
            # A retry after the channel was made: finish what is missing (the card), then sync.
            return self._finish(state, existing)
        if not state.is_open:
            return "skipped: the incident closed before its channel opened"
        platform = self.platform(platform_name)
        url = self.war_room_url(state.public_id)
        base = model.channel_name(self.config.name, state)
        created: Channel | None = None
        name = base
        for attempt in range(NAME_ATTEMPTS):
            try:
                created = platform.create_channel(
                    name, model.topic(state, url), private=self.config.private
                )
                break
            except ChatError as exc:
                if exc.code != "name_taken" or attempt == NAME_ATTEMPTS - 1:
                    raise
                name = f"{base[:76]}-{attempt + 2}"
        assert created is not None
        with self.runtime.db.write() as conn:
            conn.execute(
                insert(tables.channels).values(
                    incident=state.public_id,
                    platform=platform_name,
                    channel_id=created.id,
                    name=created.name,
                    url=created.url,
                    members=[],
                    created_at=self.runtime.clock.now(),
                )
            )
        self._timeline(
            state.public_id,
            "chat_channel_opened",
            {"platform": platform_name, "channel": created.name, "url": created.url},
        )
        with self.runtime.db.read() as conn:
            row = self.channel(conn, state.public_id, platform_name)
        self._finish(state, row)
        return f"opened {created.name}"

    def _finish(self, state: IncidentState, row: Any) -> str:
        """The pinned summary card (once), then invitations, card and topic up to date."""
        if row.summary_message_id is None:
            platform = self.platform(row.platform)
            card = model.summary_card(
                state,
                self.runtime.policy,
                self.war_room_url(state.public_id),
                model.call_link(self.config, state, self.runtime.policy),
            )
            card_id = platform.post(row.channel_id, card)
            with self.runtime.db.write() as conn:
                conn.execute(
                    update(tables.channels)
                    .where(tables.channels.c.id == row.id)
                    .values(summary_message_id=card_id)
                )
            try:
                platform.pin(row.channel_id, card_id)
            except ChatError as exc:
                log.warning("chat: could not pin the summary card: %s", exc.message)
            with self.runtime.db.read() as conn:
                row = self.channel(conn, state.public_id, row.platform)
        return self._sync_channel(state, row, model.responders(state, self._paged(state)))

    def _paged(self, state: IncidentState) -> list[Event]:
        return self.runtime.incidents.timeline(state.public_id, types=("paged", "escalated"))

    def _sync(self, effect: outbox.ClaimedEffect) -> str:
        p = effect.payload
        state = self.runtime.incidents.get(str(p["incident"]))
        with self.runtime.db.read() as conn:
            row = self.channel(conn, state.public_id, str(p["platform"]))
        if row is None:
            raise ChannelNotOpen()
        people = list(dict.fromkeys([*state.roles.values(), *p.get("people", [])]))
        return self._sync_channel(state, row, people)

    def _sync_channel(self, state: IncidentState, row: Any, people: list[str]) -> str:
        """Invite who is not in yet, refresh the summary card and the topic."""
        platform = self.platform(row.platform)
        members = list(row.members or [])
        users = []
        for person in people:
            user = self.chat_user_of(row.platform, person)
            if user and user not in members and user not in users:
                users.append(user)
        if users and row.archived_at is None:
            platform.invite(row.channel_id, users)
            with self.runtime.db.write() as conn:
                conn.execute(
                    update(tables.channels)
                    .where(tables.channels.c.id == row.id)
                    .values(members=members + users)
                )
        url = self.war_room_url(state.public_id)
        if row.summary_message_id:
            call = model.call_link(self.config, state, self.runtime.policy)
            card = model.summary_card(state, self.runtime.policy, url, call)
            platform.update(row.channel_id, row.summary_message_id, card)
        platform.set_topic(row.channel_id, model.topic(state, url))
        return f"synced; invited {', '.join(users) or 'nobody new'}"

    def _post(self, effect: outbox.ClaimedEffect) -> str:
        p = effect.payload
        with self.runtime.db.read() as conn:
            row = self.channel(conn, str(p["incident"]), str(p["platform"]))
        if row is None:
            raise ChannelNotOpen()
        if row.archived_at is not None:
            return "skipped: channel archived"
        self.platform(row.platform).post(row.channel_id, Message.from_dict(p["message"]))
        return "posted"

    def _archive(self, effect: outbox.ClaimedEffect) -> str:
        p = effect.payload
        state = self.runtime.incidents.get(str(p["incident"]))
        when = str(p.get("when") or "closed")
        done = (Status.RESOLVED, Status.CLOSED) if when == "resolved" else (Status.CLOSED,)
        if state.status not in done or state.reopen_count != int(p["generation"]):
            return "skipped: the incident is open again"
        with self.runtime.db.read() as conn:
            row = self.channel(conn, state.public_id, str(p["platform"]))
        if row is None or row.archived_at is not None:
            return "nothing to archive"
        platform = self.platform(row.platform)
        platform.post(
            row.channel_id,
            Message(f"{state.public_id} is {state.status.value}; this channel is archived."),
        )
        platform.archive(row.channel_id)
        with self.runtime.db.write() as conn:
            conn.execute(
                update(tables.channels)
                .where(tables.channels.c.id == row.id)
                .values(archived_at=self.runtime.clock.now())
            )
        self._timeline(
            state.public_id,
            "chat_channel_archived",
            {"platform": row.platform, "channel": row.name},
        )
        return f"archived {row.name}"

    def _unarchive(self, effect: outbox.ClaimedEffect) -> str:
        """The incident reopened: its archived channel opens again. Where the platform will not
        let the bot unarchive (Slack bot tokens), a new channel takes its place."""
        p = effect.payload
        state = self.runtime.incidents.get(str(p["incident"]))
        if not state.is_open or state.reopen_count != int(p["generation"]):
            return "skipped: the incident is not open"
        with self.runtime.db.read() as conn:
            row = self.channel(conn, state.public_id, str(p["platform"]))
        if row is None or row.archived_at is None:
            return "nothing to unarchive"
        platform = self.platform(row.platform)
        reason = ""
        for event in self.runtime.incidents.timeline(state.public_id, types=("reopened",)):
            reason = str(event.data.get("reason") or "")
        text = f"{state.public_id} reopened" + (f": {reason}" if reason else "")
        try:
            platform.unarchive(row.channel_id)
        except ChatError as exc:
            if exc.retryable:
                raise
            return self._replace_channel(state, row, exc.message, text)
        with self.runtime.db.write() as conn:
            conn.execute(
                update(tables.channels)
                .where(tables.channels.c.id == row.id)
                .values(archived_at=None)
            )
        platform.post(row.channel_id, Message(f"{text}. This channel is open again."))
        self._timeline(
            state.public_id,
            "chat_channel_unarchived",
            {"platform": row.platform, "channel": row.name},
        )
        return f"unarchived {row.name}"

    def _replace_channel(self, state: IncidentState, row: Any, refusal: str, text: str) -> str:
        platform = self.platform(row.platform)
        url = self.war_room_url(state.public_id)
        base = f"{row.name[:70]}-r{state.reopen_count}"
        name = base
        created: Channel | None = None
        for attempt in range(NAME_ATTEMPTS):
            try:
                created = platform.create_channel(
                    name, model.topic(state, url), private=self.config.private
                )
                break
            except ChatError as exc:
                if exc.code != "name_taken" or attempt == NAME_ATTEMPTS - 1:
                    raise
                name = f"{base[:76]}-{attempt + 2}"
        assert created is not None
        with self.runtime.db.write() as conn:
            conn.execute(
                update(tables.channels)
                .where(tables.channels.c.id == row.id)
                .values(
                    channel_id=created.id,
                    name=created.name,
                    url=created.url,
                    summary_message_id=None,
                    members=[],
                    archived_at=None,
                )
            )
        self._timeline(
            state.public_id,
            "chat_channel_opened",
            {
                "platform": row.platform,
                "channel": created.name,
                "url": created.url,
                "replaces": row.name,
                "reason": f"the archived channel could not be reopened ({refusal})",
            },
        )
        with self.runtime.db.read() as conn:
            fresh = self.channel(conn, state.public_id, row.platform)
        self._finish(state, fresh)
        platform.post(
            created.id,
            Message(f"{text}. The archived channel {row.name} ({row.url}) holds the history."),
        )
        return f"opened {created.name} in place of archived {row.name}"

    # ---- identity ----------------------------------------------------------------------

    def link(
        self, principal: Principal, platform: str, chat_user: str, person: str
    ) -> dict[str, Any]:
        principal.require("admin")
        if platform not in self.config.platforms():
            raise InvalidInput(
                f"chat platform {platform!r} is not configured; configured: "
                f"{', '.join(self.config.platforms()) or 'none'}"
            )
        chat_user = chat_user.strip()
        if not chat_user:
            raise InvalidInput("give the chat user id")
        if not self._person_exists(person):
            raise InvalidInput(f"no person {person!r} (see `warroom oncall person list`)")
        now = self.runtime.clock.now()
        lk = tables.links
        with self.runtime.db.write() as conn:
            existing = conn.execute(
                select(lk.c.id).where(lk.c.platform == platform, lk.c.chat_user == chat_user)
            ).first()
            values = {"person": person, "linked_by": principal.actor, "linked_at": now}
            if existing is None:
                conn.execute(insert(lk).values(platform=platform, chat_user=chat_user, **values))
            else:
                conn.execute(update(lk).where(lk.c.id == existing.id).values(**values))
        return {"platform": platform, "chat_user": chat_user, "person": person}

    def unlink(self, principal: Principal, platform: str, chat_user: str) -> None:
        principal.require("admin")
        lk = tables.links
        with self.runtime.db.write() as conn:
            result = conn.execute(
                lk.delete().where(lk.c.platform == platform, lk.c.chat_user == chat_user)
            )
        if result.rowcount == 0:
            raise NotFound(f"{chat_user} on {platform} is not linked")

    def links(self) -> list[dict[str, Any]]:
        lk = tables.links
        with self.runtime.db.read() as conn:
            rows = conn.execute(select(lk).order_by(lk.c.platform, lk.c.chat_user)).all()
        return [
            {
                "platform": r.platform,
                "chat_user": r.chat_user,
                "person": r.person,
                "linked_by": r.linked_by,
                "linked_at": r.linked_at.isoformat(),
            }
            for r in rows
        ]

    def _person_exists(self, person: str) -> bool:
        from warroom.oncall.tables import people

        with self.runtime.db.read() as conn:
            return (
                conn.execute(select(people.c.id).where(people.c.name == person)).first() is not None
            )

    def person_of(self, platform: str, chat_user: str) -> str | None:
        """The warroom person a chat user is: linked, else matched by email where exposed."""
        from warroom.oncall.tables import people

        lk = tables.links
        with self.runtime.db.read() as conn:
            row = conn.execute(
                select(lk.c.person).where(lk.c.platform == platform, lk.c.chat_user == chat_user)
            ).first()
        if row is not None:
            return str(row.person)
        try:
            email = self.platform(platform).email_of(chat_user)
        except ChatError:
            email = None
        if not email:
            return None
        with self.runtime.db.read() as conn:
            found = conn.execute(
                select(people.c.name).where(func.lower(people.c.email) == email.lower())
            ).first()
        if found is None:
            return None
        try:
            with self.runtime.db.write() as conn:
                conn.execute(
                    insert(lk).values(
                        platform=platform,
                        chat_user=chat_user,
                        person=str(found.name),
                        linked_by="email",
                        linked_at=self.runtime.clock.now(),
                    )
                )
        except IntegrityError:
            pass  # found by a concurrent request just now
        return str(found.name)

    def chat_user_of(self, platform: str, person: str) -> str | None:
        """The chat user to invite for a person: linked, else looked up by email."""
        from warroom.oncall.tables import people

        lk = tables.links
        with self.runtime.db.read() as conn:
            row = conn.execute(
                select(lk.c.chat_user)
                .where(lk.c.platform == platform, lk.c.person == person)
                .order_by(lk.c.id)
            ).first()
            if row is not None:
                return str(row.chat_user)
            found = conn.execute(select(people.c.email).where(people.c.name == person)).first()
        if found is None or not found.email:
            return None
        return self.platform(platform).user_for_email(str(found.email))

    def principal_for(self, person: str, platform: str) -> Principal:
        """The person's permissions: their web account's role, else the configured default."""
        from warroom.web.tables import web_users

        with self.runtime.db.read() as conn:
            row = conn.execute(
                select(web_users.c.role, web_users.c.disabled_at).where(web_users.c.name == person)
            ).first()
        role: str = self.config.default_role
        if row is not None:
            role = "viewer" if row.disabled_at is not None else str(row.role)
        return Principal(
            name=f"user:{person}",
            scopes=frozenset({role}),
            kind="chat",
            extra={"user": person, "platform": platform},
        )

    # ---- inbound -----------------------------------------------------------------------

    def first_time(self, key: str) -> bool:
        """Record an inbound request/event; False when it was seen before (a replay)."""
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = (
                insert_fn(tables.inbound)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(tables.inbound.c.key)
            )
            added = conn.execute(statement, {"key": key[:255], "seen_at": now}).first()
            conn.execute(
                tables.inbound.delete().where(tables.inbound.c.seen_at < now - INBOUND_TTL)
            )
        return added is not None

    def cursor(self, platform: str) -> str | None:
        with self.runtime.db.read() as conn:
            row = conn.execute(
                select(tables.cursors.c.cursor).where(tables.cursors.c.platform == platform)
            ).first()
        return str(row.cursor) if row else None

    def save_cursor(self, platform: str, cursor: str) -> None:
        c = tables.cursors
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            done = conn.execute(
                update(c).where(c.c.platform == platform).values(cursor=cursor, updated_at=now)
            )
            if done.rowcount == 0:
                conn.execute(insert(c).values(platform=platform, cursor=cursor, updated_at=now))

    def action_key(self) -> bytes:
        """The key signing chat button contexts (Mattermost does not sign its requests)."""
        from warroom.core import keyring

        with self.runtime.db.write() as conn:
            return keyring.key(conn, BUTTON_KEY)

    def direct_room(self, platform: str, user: str) -> str | None:
        d = tables.direct_rooms
        with self.runtime.db.read() as conn:
            row = conn.execute(
                select(d.c.room_id).where(d.c.platform == platform, d.c.chat_user == user)
            ).first()
        return str(row.room_id) if row else None

    def remember_direct_room(self, platform: str, user: str, room: str) -> None:
        with self.runtime.db.write() as conn:
            conn.execute(
                insert(tables.direct_rooms).values(platform=platform, chat_user=user, room_id=room)
            )

    def mark(self, actor: Actor, channel: str, author: str | None, text: str, link: str) -> Reply:
        """A message marked as a note (📌 or pinned): a timeline note by its author."""
        incident = self.incident_of_channel(actor.platform, channel)
        if incident is None:
            return Reply(False, "this room is not an incident channel")
        if actor.person is None:
            return Reply(False, _unknown(actor))
        person = (self.person_of(actor.platform, author) if author else None) or actor.person
        principal = self.principal_for(person, actor.platform)
        marker = self.principal_for(actor.person, actor.platform)
        if not marker.has("responder"):
            return Reply(False, f"{actor.person} may read but not add notes")
        data = {"text": text, "source": "chat", "marked_by": actor.person, "link": link}
        event = Event("note_added", principal.actor, self.runtime.clock.now(), data)
        try:
            self.runtime.incidents.append_events(
                principal if principal.has("responder") else marker, incident, [event]
            )
        except WarroomError as exc:
            return Reply(False, exc.message)
        return Reply(True, f"noted on {incident}'s timeline")

    def run_command(self, actor: Actor, channel: str | None, text: str) -> Reply:
        """Run one command as the chat user's warroom person."""
        try:
            command = model.parse_command(text)
        except CommandError as exc:
            return Reply(False, str(exc))
        if command.verb == "help":
            return Reply(True, model.help_text())
        if actor.person is None:
            return Reply(False, _unknown(actor))
        if command.verb == "whoami":
            principal = self.principal_for(actor.person, actor.platform)
            return Reply(True, f"you act as {actor.person} ({', '.join(sorted(principal.scopes))})")
        principal = self.principal_for(actor.person, actor.platform)
        incident = command.incident or (
            self.incident_of_channel(actor.platform, channel) if channel else None
        )
        if command.verb != "declare" and incident is None:
            return Reply(False, "name the incident (e.g. INC-20261206-001) outside its channel")
        try:
            return self._execute(principal, command, incident)
        except WarroomError as exc:
            return Reply(False, exc.message)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            return Reply(False, f"{where}: {first.get('msg')}".strip(": "))

    def _execute(self, principal: Principal, command: Command, incident: str | None) -> Reply:
        incidents = self.runtime.incidents
        verb = command.verb
        if verb == "declare":
            severity = command.args[0]
            state = incidents.declare(
                principal,
                schemas.DeclareIn(
                    title=command.text,
                    severity=severity,
                    roles={Role.COMMANDER: str(principal.extra["user"])},
                ),
            )
            return Reply(
                True, f"declared {state.public_id} ({state.severity}): {state.title}", private=False
            )
        assert incident is not None
        if verb == "ack":
            incidents.acknowledge(principal, incident)
            return Reply(True, f"acknowledged {incident}")
        if verb == "status":
            target = command.args[0].lower()
            try:
                status = Status(target)
            except ValueError:
                raise InvalidInput(
                    f"unknown status {target!r}; choose from " + ", ".join(s.value for s in Status)
                ) from None
            if status is Status.RESOLVED:
                raise InvalidInput("use `resolve` (it takes the checklist)")
            incidents.move(
                principal, incident, schemas.StatusIn(status=status, reason=command.text or None)
            )
            return Reply(True, f"{incident} is {status.value}")
        if verb == "severity":
            incidents.change_severity(
                principal,
                incident,
                schemas.SeverityIn(severity=command.args[0], reason=command.text or None),
            )
            return Reply(True, f"{incident} is now {command.args[0]}")
        if verb == "role":
            role_name, who = command.args
            try:
                role = Role(role_name.lower())
            except ValueError:
                raise InvalidInput(
                    f"unknown role {role_name!r}; choose from {', '.join(r.value for r in Role)}"
                ) from None
            person: str | None = who.lstrip("@")
            if person == "me":
                person = str(principal.extra["user"])
            elif person == "none":
                person = None
            elif person is not None and not self._person_exists(person):
                raise InvalidInput(f"no person {person!r}")
            incidents.assign_role(principal, incident, schemas.RoleIn(role=role, person=person))
            return Reply(True, f"{role.value}: {person or 'unassigned'}")
        if verb == "note":
            event = Event(
                "note_added",
                principal.actor,
                self.runtime.clock.now(),
                {"text": command.text, "source": "chat"},
            )
            incidents.append_events(principal, incident, [event])
            return Reply(True, "noted")
        if verb == "update":
            from warroom.comms.updates import UpdateIn

            impact, _, action = command.text.partition("|")
            comms = self.runtime.comms.service
            comms.publish(
                principal,
                incident,
                UpdateIn(
                    status=command.args[0].lower(), impact=impact.strip(), action=action.strip()
                ),
            )
            return Reply(True, f"status update published on {incident}")
        if verb == "page":
            from warroom.oncall.models import PageIn

            state = incidents.get(incident)
            oncall = self.runtime.oncall
            result = oncall.page(
                principal,
                PageIn(
                    target=command.args[0].lstrip("@"),
                    message=f"{incident}: {command.text}",
                    severity=state.severity,
                ),
            )
            note = Event(
                "note_added",
                principal.actor,
                self.runtime.clock.now(),
                {"text": f"paged {', '.join(result['people'])}: {command.text}", "source": "chat"},
            )
            incidents.append_events(principal, incident, [note])
            self._post_page(incident, principal.actor, result, command.text)
            return Reply(True, f"paged {', '.join(result['people'])} (page {result['id']})")
        if verb == "resolve":
            words = command.text.split()
            items = [w[1:] for w in words if w.startswith("+") and len(w) > 1]
            summary = " ".join(w for w in words if not (w.startswith("+") and len(w) > 1))
            checklist = {item: schemas.ChecklistAnswer(confirmed=True) for item in items}
            incidents.resolve(
                principal, incident, schemas.ResolveIn(summary=summary, checklist=checklist)
            )
            return Reply(True, f"resolved {incident}")
        raise InvalidInput(f"unknown command {verb}")

    def _post_page(self, incident: str, actor: str, page: dict[str, Any], text: str) -> None:
        """The page in the incident's channels, with its Acknowledge button (via the outbox)."""
        message = Message(
            f"{actor} paged {', '.join(page['people'])}", (text,), ack=f"page:{page['id']}"
        )
        now = self.runtime.clock.now()
        effects = [
            outbox.Effect(
                model.POST,
                {"incident": incident, "platform": platform, "message": message.to_dict()},
                now,
                dedup_key=f"chat.page:{page['id']}:{platform}",
            )
            for platform in self.config.platforms()
        ]
        effects += [
            outbox.Effect(
                model.SYNC,
                {"incident": incident, "platform": platform, "people": page["people"]},
                now,
                dedup_key=f"chat.page-invite:{page['id']}:{platform}",
            )
            for platform in self.config.platforms()
        ]
        with self.runtime.db.write() as conn:
            outbox.enqueue(conn, effects, now)

    def acknowledge_button(self, actor: Actor, value: str) -> Reply:
        """The Acknowledge button of a page: acknowledges as the person who clicked."""
        kind, _, target = value.partition(":")
        if actor.person is None:
            return Reply(False, _unknown(actor))
        principal = self.principal_for(actor.person, actor.platform)
        try:
            if kind == "incident":
                self.runtime.incidents.acknowledge(principal, target)
                return Reply(True, f"{actor.person} acknowledged {target}", private=False)
            if kind == "page":
                self.runtime.oncall.ack_page(principal, int(target))
                return Reply(True, f"{actor.person} acknowledged page {target}", private=False)
        except WarroomError as exc:
            return Reply(False, exc.message)
        except ValueError:
            pass
        return Reply(False, "unknown button")


def _unknown(actor: Actor) -> str:
    return (
        f"{actor.chat_user} is not linked to a warroom person, so can read but not act. "
        f"An admin links you once: warroom chat link {actor.platform} '{actor.chat_user}' PERSON"
    )


def _channel_view(row: Any) -> dict[str, Any]:
    return {
        "incident": row.incident,
        "platform": row.platform,
        "channel_id": row.channel_id,
        "name": row.name,
        "url": row.url,
        "created_at": row.created_at.isoformat(),
        "archived_at": row.archived_at.isoformat() if row.archived_at else None,
    }
