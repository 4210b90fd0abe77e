"""The pure part: channel names, commands, the timeline mirror and the planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.chat import model
from warroom.chat.config import ChatConfig
from warroom.chat.model import CommandError, Planner
from warroom.core.auth import SYSTEM
from warroom.core.errors import ConfigError
from warroom.incidents.model import Event, apply, initial_state
from warroom.policy.loader import parse_policy

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
POLICY = parse_policy("default")


def _state(
    title: str = "Checkout: 5xx / timeouts!",
    severity: str = "SEV2",
    services: list[str] | None = None,
):  # type: ignore[no-untyped-def]
    data = {
        "public_id": "INC-20261206-001",
        "title": title,
        "summary": "",
        "severity": severity,
        "type": "service_outage",
        "services": services or [],
        "labels": {},
        "impact": {},
        "started_at": NOW.isoformat(),
        "detected_at": NOW.isoformat(),
        "roles": {"commander": "alice"},
        "source": "manual",
    }
    return initial_state(Event("declared", "user:alice", NOW, data))


def test_channel_names_follow_the_template() -> None:
    state = _state()
    assert (
        model.channel_name("inc-{date}-{seq}-{slug}", state)
        == "inc-20261206-001-checkout-5xx-timeouts"
    )
    assert model.channel_name("{id}", state) == "inc-20261206-001"
    named = _state(services=["checkout-api"])
    assert (
        model.channel_name("inc-{date}-{seq}-{service}", named) == "inc-20261206-001-checkout-api"
    )
    assert len(model.channel_name("{slug}-{slug}-{slug}-{slug}", _state("x" * 300))) <= 80


def test_commands_parse_with_an_optional_incident() -> None:
    assert model.parse_command("ack") == model.Command("ack")
    assert model.parse_command("ack inc-20261206-001").incident == "INC-20261206-001"
    note = model.parse_command("note the DB is back")
    assert (note.verb, note.text) == ("note", "the DB is back")
    role = model.parse_command("role commander @bob")
    assert role.args == ("commander", "@bob")
    update = model.parse_command("update identified users see errors | rolling back")
    assert update.args == ("identified",) and "|" in update.text
    for bad in (
        "fly away",
        "note",
        "role commander",
        "update investigating no bar",
        "declare SEV1",
    ):
        with pytest.raises(CommandError):
            model.parse_command(bad)
    assert model.strip_prefix("!warroom ack", "!warroom") == "ack"
    assert model.strip_prefix("!warroomack", "!warroom") is None
    assert model.strip_prefix("hello", "!warroom") is None


def test_the_mirror_posts_key_events_by_default() -> None:
    ack = Event("acknowledged", "user:bob", NOW, {})
    note = Event("note_added", "user:bob", NOW, {"text": "hi"})
    from_chat = Event("note_added", "user:bob", NOW, {"text": "hi", "source": "chat"})
    assert model.mirror(ack, "key", "INC-1") == model.Message("user:bob acknowledged INC-1")
    assert model.mirror(note, "key", "INC-1") is None
    assert model.mirror(note, "all", "INC-1") is not None
    assert model.mirror(from_chat, "all", "INC-1") is None  # it came from the channel
    assert model.mirror(ack, "none", "INC-1") is None
    paged = model.mirror(Event("paged", "warroom", NOW, {"notified": ["bob"]}), "key", "INC-1")
    assert paged is not None and paged.ack == "incident:INC-1"


def test_the_planner_opens_only_for_the_configured_severities() -> None:
    planner = Planner(ChatConfig(severities=("SEV1", "P1")), POLICY, ("slack",))
    low = _state(severity="SEV3")
    declared = Event("declared", "user:alice", NOW, {})
    assert planner(incident_id=1, before=None, after=low, events=[declared], now=NOW) == []
    raised = apply(
        low, Event("severity_changed", "user:alice", NOW, {"from": "SEV3", "to": "SEV1"})
    )
    effects = planner(
        incident_id=1,
        before=low,
        after=raised,
        events=[Event("severity_changed", "user:alice", NOW, {"from": "SEV3", "to": "SEV1"})],
        now=NOW,
    )
    assert [e.kind for e in effects] == [model.OPEN, model.POST]
    assert effects[0].dedup_key == "chat.open:1:slack"
    closed = Event("closed", SYSTEM.actor, NOW, {})
    later = planner(incident_id=1, before=raised, after=raised, events=[closed], now=NOW)
    archive = [e for e in later if e.kind == model.ARCHIVE]
    assert archive and archive[0].due_at == NOW + ChatConfig().archive_delay
    assert (
        Planner(ChatConfig(), POLICY, ()).__call__(
            incident_id=1, before=None, after=low, events=[declared], now=NOW
        )
        == []
    )


def test_the_policy_archives_the_channel_after_resolution_and_reopening_unarchives() -> None:
    policy = parse_policy("bmad-p0-p4")
    planner = Planner(ChatConfig(), policy, ("slack",))
    state = _state(severity="P2")
    resolved = Event("resolved", "user:alice", NOW, {"summary": "ok"})
    effects = planner(incident_id=1, before=state, after=state, events=[resolved], now=NOW)
    (archive,) = [e for e in effects if e.kind == model.ARCHIVE]
    assert archive.due_at == NOW + timedelta(hours=24)
    assert archive.payload["when"] == "resolved"
    closed = Event("closed", "user:alice", NOW, {})
    later = planner(incident_id=1, before=state, after=state, events=[closed], now=NOW)
    assert [e for e in later if e.kind == model.ARCHIVE] == []  # planned at the resolution
    reopened = Event("reopened", "user:alice", NOW, {"reason": "back"})
    again = apply(state, reopened)
    effects = planner(incident_id=1, before=state, after=again, events=[reopened], now=NOW)
    (unarchive,) = [e for e in effects if e.kind == model.UNARCHIVE]
    assert unarchive.payload["generation"] == again.reopen_count
    for bad in ({"when": "later", "after": "24h"}, {"when": "resolved", "after": "soon"}, {}):
        with pytest.raises(ConfigError):
            parse_policy({"extends": "default", "communications": {"archive_channel": bad}})
