"""The on-call CLI against the local database: people, schedules, who, page, outbox, iCal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import yaml

from tests.support.cli import use_local_database, wr, wr_json
from tests.support.receiver import http_receiver


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    return use_local_database(monkeypatch, tmp_path, database_url)


def test_people_schedules_overrides_and_who(cli_env: Path) -> None:
    for name in ("ann", "bob"):
        wr_json(
            "oncall",
            "person",
            "add",
            name,
            "--contact",
            "json://127.0.0.1:9/x",
            "--contact",
            "mailto://u:p@example.com@5",
            "--tz",
            "Europe/Berlin",
        )
    shown = wr_json("oncall", "person", "show", "ann")
    assert shown["contact_methods"] == [
        {"name": "m1", "channel": "json", "delay_minutes": 0},
        {"name": "m2", "channel": "mailto", "delay_minutes": 5},
    ]
    assert "p@example" not in json.dumps(shown)  # URLs (secrets) are never shown
    wr_json(
        "oncall",
        "schedule",
        "add",
        "primary",
        "--tz",
        "Europe/Berlin",
        "--users",
        "ann,bob",
        "--start",
        "2026-03-16T09:00",
        "--shift",
        "1w",
    )
    who = wr_json("oncall", "who", "--at", "2026-03-30T06:59:00Z")
    assert who["items"][0]["person"] == "bob"
    who = wr_json("oncall", "who", "--at", "2026-03-30T07:00:00Z", "--schedule", "primary")
    assert who["items"][0]["person"] == "ann"  # 09:00 Berlin summer time
    override = wr_json(
        "oncall",
        "override",
        "add",
        "primary",
        "--user",
        "bob",
        "--start",
        "2026-03-30T07:00:00Z",
        "--end",
        "2026-03-30T12:00:00Z",
    )
    who = wr_json("oncall", "who", "--at", "2026-03-30T08:00:00Z")
    assert who["items"][0]["person"] == "bob"
    wr("oncall", "override", "delete", "primary", str(override["id"]))
    assert wr_json("oncall", "who", "--at", "2026-03-30T08:00:00Z")["items"][0]["person"] == "ann"
    human = wr("oncall", "who", "--at", "2026-03-30T08:00:00Z")
    assert human.exit_code == 0 and "ann" in human.stdout
    wr_json("oncall", "team", "add", "db", "--member", "ann", "--member", "bob", "--manager", "bob")
    assert wr_json("oncall", "team", "list")["items"][0]["members"] == ["ann", "bob"]
    wr_json(
        "oncall",
        "escalation",
        "add",
        "payments",
        "--level",
        "5:schedule:primary",
        "--level",
        "10:team:db",
        "--repeat",
        "2",
    )
    policy = wr_json("oncall", "escalation", "show", "payments")
    assert [lvl["delay_minutes"] for lvl in policy["levels"]] == [5, 10]
    assert wr_json("oncall", "escalation", "update", "payments", "--repeat", "0")["repeat"] == 0
    wr_json("oncall", "contact", "set", "legal", "person:bob")
    contacts = {c["name"]: c for c in wr_json("oncall", "contact", "list")["items"]}
    assert contacts["legal"]["targets"] == ["person:bob"]
    assert wr("oncall", "person", "delete", "bob").exit_code == 0
    assert [p["name"] for p in wr_json("oncall", "person", "list")["items"]] == ["ann"]


def test_bad_input_exits_2_and_changes_nothing(cli_env: Path) -> None:
    assert wr("oncall", "person", "add", "Bad Name").exit_code == 2
    assert wr("oncall", "person", "add", "ann", "--tz", "Mars/Base").exit_code == 2
    assert wr("oncall", "person", "add", "ann", "--contact", "nope").exit_code == 2
    assert (
        wr(
            "oncall", "schedule", "add", "s", "--users", "ghost", "--start", "2026-01-01T00:00"
        ).exit_code
        == 2
    )
    assert wr("oncall", "escalation", "add", "p", "--level", "5:person:ghost").exit_code == 2
    assert wr("oncall", "who", "--schedule", "nope").exit_code == 2
    assert wr_json("oncall", "person", "list")["items"] == []
    assert wr_json("oncall", "schedule", "list")["items"] == []


def test_page_and_outbox(cli_env: Path) -> None:
    with http_receiver() as receiver:
        receiver.status = 500
        wr_json("oncall", "person", "add", "ann", "--contact", receiver.json_url())
        page = wr_json("page", "ann", "--message", "database on fire")
        assert page["people"] == ["ann"]
        from warroom.core.runtime import Runtime
        from warroom.core.settings import Settings
        from warroom.worker import Worker

        runtime = Runtime.build(Settings())
        try:
            Worker(runtime).run_once()
        finally:
            runtime.close()
        assert len(receiver.wait_for(1)) == 1
        failed = wr_json("outbox", "--status", "failed")["items"]
        assert failed[0]["kind"] == "oncall.notify" and failed[0]["attempts"] == 1
        assert "127.0.0.1" not in json.dumps(failed)
        assert "json failed" in (failed[0]["last_error"] or "") or failed[0]["last_error"]
        again = wr_json("outbox", "retry", str(failed[0]["id"]))
        assert again["status"] == "pending" and again["attempts"] == 0
        assert wr("outbox", "retry", str(failed[0]["id"])).exit_code == 2  # not failed now
        listing = wr("outbox")
        assert listing.exit_code == 0 and "oncall.notify" in listing.stdout
        acked = wr_json("oncall", "ack", str(page["id"]))
        assert acked["acknowledged_by"] == "alice"
        # Delivery happens in the worker: the CLI says a page is queued, not sent.
        human = wr("page", "ann", "--message", "still on fire")
        assert human.exit_code == 0 and "queued for ann" in human.output


def test_ical_feed_and_import_round_trip(cli_env: Path, tmp_path: Path) -> None:
    for name in ("ann", "bob"):
        wr_json("oncall", "person", "add", name, "--email", f"{name}@example.com")
    spec = {
        "timezone": "UTC",
        "layers": [
            {"users": ["ann", "bob"], "start": "2026-11-02T09:00", "shift_unit": "days"},
        ],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    wr_json("oncall", "schedule", "add", "primary", "--file", str(tmp_path / "s.yaml"))
    shifts = wr_json(
        "oncall",
        "schedule",
        "shifts",
        "primary",
        "--start",
        "2026-11-23T09:00:00Z",
        "--end",
        "2026-11-25T09:00:00Z",
    )["items"]
    assert [s["person"] for s in shifts] == ["bob", "ann"]
    url = wr_json("oncall", "schedule", "feed", "primary")["url"]
    assert "/api/v1/oncall/schedules/primary/calendar.ics?key=" in url
    # Imports look ahead from today: build the calendar around tomorrow.
    day = (datetime.now(UTC) + timedelta(days=1)).date()

    def stamp(days: int, hour: int) -> str:
        return (datetime.combine(day, time(hour), UTC) + timedelta(days=days)).strftime(
            "%Y%m%dT%H%M%SZ"
        )

    def iso(days: int, hour: int) -> str:
        return (datetime.combine(day, time(hour), UTC) + timedelta(days=days)).isoformat()

    ics = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1@test
DTSTART:{stamp(0, 8)}
DTEND:{stamp(0, 20)}
RRULE:FREQ=DAILY;COUNT=3
SUMMARY:On call: bob
END:VEVENT
BEGIN:VEVENT
UID:2@test
DTSTART:{stamp(0, 20)}
DTEND:{stamp(1, 8)}
SUMMARY:stranger
ATTENDEE:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:3@test
DTSTART:{stamp(2, 20)}
DTEND:{stamp(3, 8)}
SUMMARY:nobody we know
END:VEVENT
END:VCALENDAR
"""
    (tmp_path / "in.ics").write_text(ics)
    result = wr_json("oncall", "schedule", "import", "imported", "--file", str(tmp_path / "in.ics"))
    assert result["shifts_added"] == 4 and len(result["skipped"]) == 1
    assert (
        wr_json("oncall", "who", "--at", iso(1, 10), "--schedule", "imported")["items"][0]["person"]
        == "bob"
    )
    assert (
        wr_json("oncall", "who", "--at", iso(0, 21), "--schedule", "imported")["items"][0]["person"]
        == "ann"
    )
    assert (
        wr_json("oncall", "who", "--at", iso(3, 21), "--schedule", "imported")["items"][0]["person"]
        is None
    )


def test_docs_from_zero_to_a_person_paged(cli_env: Path) -> None:
    """docs/oncall.md "From zero to a person paged", command by command (a JSON webhook
    stands in for ntfy; the worker is `warroom worker`'s, run once)."""
    with http_receiver() as ann:
        wr_json(
            "oncall", "person", "add", "ann", "--email", "ann@example.com",
            "--contact", ann.json_url(),
        )  # fmt: skip
        wr_json(
            "oncall", "schedule", "add", "primary", "--users", "ann",
            "--start", "2026-01-05T09:00", "--shift", "1w",
        )  # fmt: skip
        assert wr_json("oncall", "who")["items"][0]["person"] == "ann"
        wr_json("oncall", "escalation", "add", "checkout", "--level", "5:schedule:primary")
        wr_json("oncall", "service", "set", "checkout-api", "checkout")
        listed = wr_json("oncall", "service", "list")["items"]
        assert [(i["service"], i["escalation_policy"], i["source"]) for i in listed] == [
            ("checkout-api", "checkout", "database")
        ]
        incident = wr_json(
            "declare", "Checkout failing", "--severity", "SEV2", "--service", "checkout-api"
        )["id"]
        from warroom.core.runtime import Runtime
        from warroom.core.settings import Settings
        from warroom.worker import Worker

        runtime = Runtime.build(Settings())
        try:
            while Worker(runtime).run_once():
                pass
        finally:
            runtime.close()
        assert len(ann.wait_for(1)) == 1
        timeline = wr_json("timeline", incident)["events"]
        kinds = [e["type"] for e in timeline]
        assert "paged" in kinds and "notification_sent" in kinds, kinds
        assert next(e for e in timeline if e["type"] == "paged")["data"]["notified"] == ["ann"]
        text = wr("timeline", incident)
        assert text.exit_code == 0 and "paged" in text.stdout


def test_service_mapping_bad_input_exits_2_and_changes_nothing(cli_env: Path) -> None:
    unknown = wr("oncall", "service", "set", "checkout-api", "ghost")
    assert unknown.exit_code == 2 and "unknown escalation policy" in unknown.output
    assert wr("oncall", "service", "unset", "checkout-api").exit_code == 2
    assert wr_json("oncall", "service", "list")["items"] == []
    assert wr_json("oncall", "problems")["items"] == []
    assert wr("oncall", "activation", "INC-20990101-001").exit_code == 2


def test_activation_shows_the_roles_the_severity_requires(cli_env: Path) -> None:
    incident = wr_json("declare", "Checkout failing", "--severity", "SEV1")["id"]
    wr_json("assign", incident, "commander", "carol")
    shown = wr_json("oncall", "activation", incident)
    assert shown["roles"] == {"commander": "carol"}
    assert "commander" in shown["roles_required"] and "commander" not in shown["roles_missing"]
    assert shown["commander_notified_at_declaration"] is True  # SEV1 is all hands
    text = wr("oncall", "activation", incident)
    assert text.exit_code == 0 and "commander: carol" in text.stdout
