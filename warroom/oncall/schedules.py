"""The schedule service: the only writer of schedules and their overrides, and who is on call
when (the rotation math itself is the pure `warroom.oncall.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from warroom.core.auth import Principal
from warroom.core.clock import iso
from warroom.core.errors import InvalidInput, NotFound
from warroom.oncall import models, tables
from warroom.oncall import schedule as sm
from warroom.oncall.rows import OncallRows


class ScheduleService(OncallRows):
    def show(self, name: str) -> dict[str, Any]:
        """A schedule with its overrides."""
        with self.db.read() as conn:
            view = self.view("schedule", self.get_row(conn, "schedule", name))
            view["overrides"] = self._overrides(conn, view["id"])
        return view

    def create_schedule(self, principal: Principal, data: models.ScheduleIn) -> dict[str, Any]:
        principal.require("responder")
        self.check_people([u for layer in data.layers for u in layer.users])
        values = data.model_dump(mode="json")
        self.insert_row("schedule", values)
        return self.show(data.name)

    def update_schedule(self, principal: Principal, name: str, patch: models.SchedulePatch) -> Any:
        principal.require("responder")
        values = patch.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        if patch.layers is not None:
            self.check_people([u for layer in patch.layers for u in layer.users])
        self.update_row("schedule", name, values)
        return self.show(name)

    def add_override(
        self, principal: Principal, name: str, data: models.OverrideIn
    ) -> dict[str, Any]:
        principal.require("responder")
        self.check_people([data.user, data.replaces])
        with self.db.write() as conn:
            row = self.get_row(conn, "schedule", name)
            new_id = self._insert_override(conn, row.id, data, principal.actor)
            return next(o for o in self._overrides(conn, row.id) if o["id"] == new_id)

    def _insert_override(
        self,
        conn: Connection,
        schedule_id: int,
        data: models.OverrideIn,
        actor: str,
        *,
        ical_uid: str | None = None,
    ) -> int:
        result = conn.execute(
            insert(tables.overrides).values(
                schedule_id=schedule_id,
                ical_uid=ical_uid,
                user_name=data.user,
                replaces=data.replaces,
                start_at=data.start,
                end_at=data.end,
                created_by=actor,
                created_at=self.clock.now(),
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    def swap_shifts(
        self, principal: Principal, name: str, first: models.OverrideIn, second: models.OverrideIn
    ) -> list[dict[str, Any]]:
        """Two people trade shifts: both overrides are written in one transaction, or neither."""
        principal.require("responder")
        if not first.replaces or not second.replaces:
            raise InvalidInput("a swap names whose shift each person takes")
        if first.user == first.replaces:
            raise InvalidInput("a swap needs the shifts of two different people")
        if {first.user, first.replaces} != {second.user, second.replaces}:
            raise InvalidInput("a swap trades the shifts of the same two people")
        self.check_people([first.user, second.user])
        with self.db.write() as conn:
            row = self.get_row(conn, "schedule", name)
            new_ids = [
                self._insert_override(conn, row.id, data, principal.actor)
                for data in (first, second)
            ]
            return [o for o in self._overrides(conn, row.id) if o["id"] in new_ids]

    def delete_override(self, principal: Principal, name: str, override_id: int) -> None:
        principal.require("responder")
        t = tables.overrides
        with self.db.write() as conn:
            row = self.get_row(conn, "schedule", name)
            result = conn.execute(delete(t).where(t.c.id == override_id, t.c.schedule_id == row.id))
            if result.rowcount != 1:
                raise NotFound(f"no override {override_id} on {name}")

    def _overrides(self, conn: Connection, schedule_id: int) -> list[dict[str, Any]]:
        t = tables.overrides
        rows = conn.execute(
            select(t).where(t.c.schedule_id == schedule_id).order_by(t.c.start_at, t.c.id)
        ).all()
        return [
            {
                "id": r.id,
                "user": r.user_name,
                "replaces": r.replaces,
                "start": r.start_at.isoformat(),
                "end": r.end_at.isoformat(),
                "created_by": r.created_by,
            }
            for r in rows
        ]

    def load_schedule(self, conn: Connection, name: str) -> sm.Schedule:
        row = self.get_row(conn, "schedule", name)
        t = tables.overrides
        rows = conn.execute(
            select(t).where(t.c.schedule_id == row.id).order_by(t.c.created_at, t.c.id)
        ).all()
        people = tables.people
        unavailable = conn.execute(
            select(people.c.name).where(people.c.disabled_at.is_not(None))
        ).scalars()
        return sm.Schedule(
            name=row.name,
            timezone=row.timezone,
            layers=tuple(models.layer_of(layer) for layer in row.layers),
            overrides=tuple(
                sm.Override(r.start_at, r.end_at, r.user_name, r.replaces) for r in rows
            ),
            unavailable=frozenset(unavailable),
        )

    def shifts(self, name: str, start: datetime, end: datetime) -> list[sm.Shift]:
        if end <= start or end - start > timedelta(days=400):
            raise InvalidInput("the window must end after it starts and span at most 400 days")
        with self.db.read() as conn:
            schedule = self.load_schedule(conn, name)
        return sm.shifts(schedule, start, end)

    def feed_shifts(self, name: str, start: datetime, end: datetime) -> list[sm.Shift]:
        """Shifts for a calendar feed: the first one with its true start, not the window's,
        so its event (its UID) stays the same as the window moves."""
        if end <= start or end - start > timedelta(days=400):
            raise InvalidInput("the window must end after it starts and span at most 400 days")
        with self.db.read() as conn:
            schedule = self.load_schedule(conn, name)
        return _true_first(schedule, sm.shifts(schedule, start, end), start)

    def person_shifts(self, person: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            self.get_row(conn, "person", person)
            names = [r.name for r in conn.execute(select(tables.schedules.c.name))]
            result = []
            for name in names:
                schedule = self.load_schedule(conn, name)
                for shift in _true_first(schedule, sm.shifts(schedule, start, end), start):
                    if shift.user == person:
                        result.append({"schedule": name, "shift": shift})
        return result

    def who_is_on_call(
        self, at: datetime | None = None, schedule: str | None = None
    ) -> list[dict[str, Any]]:
        """Who is on call at `at` (now by default) on one schedule or all of them.

        Other packages (web dashboard, MCP) call it through the on-call service.
        """
        moment = at or self.clock.now()
        with self.db.read() as conn:
            if schedule is not None:
                names = [self.get_row(conn, "schedule", schedule).name]
            else:
                names = [
                    r.name
                    for r in conn.execute(
                        select(tables.schedules.c.name).order_by(tables.schedules.c.name)
                    )
                ]
            result = []
            for name in names:
                loaded = self.load_schedule(conn, name)
                shift = sm.current_shift(loaded, moment, timedelta(days=31))
                result.append(
                    {
                        "schedule": name,
                        "person": shift.user if shift else None,
                        "since": iso(shift.start) if shift else None,
                        "until": iso(shift.end) if shift else None,
                        "at": moment.isoformat(),
                    }
                )
        return result

    def import_ical(
        self,
        principal: Principal,
        name: str,
        data: bytes,
        *,
        timezone: str = "UTC",
        days: int = 90,
    ) -> dict[str, Any]:
        """Create (or add to) a schedule from an iCal file: each event becomes an override.

        Floating times are in `timezone`. Importing the same calendar again matches shifts by
        their event's UID: unchanged ones stay, changed ones are replaced, and occurrences no
        longer in an event are removed; nothing is added twice.
        """
        from zoneinfo import ZoneInfo

        from warroom.oncall import ical

        principal.require("responder")
        models.ScheduleIn(name=name, timezone=timezone)  # both valid before anything is read
        now = self.clock.now()
        window_start = now - timedelta(days=1)
        try:
            shifts = ical.parse(data, window_start, now + timedelta(days=days), ZoneInfo(timezone))
        except ValueError as exc:
            raise InvalidInput(str(exc), code="bad_ical") from None
        with self.db.read() as conn:
            people = conn.execute(select(tables.people)).all()
            exists = conn.execute(
                select(tables.schedules.c.id).where(tables.schedules.c.name == name)
            ).first()
        if exists is None:
            self.create_schedule(
                principal, models.ScheduleIn(name=name, timezone=timezone, description="imported")
            )
        wanted: dict[str, tuple[ical.ImportedShift, str]] = {}
        skipped = []
        for shift in shifts:
            person = _match_person(people, shift.who)
            if person is None:
                skipped.append({"who": shift.who, "start": shift.start.isoformat()})
            else:
                wanted[shift.key] = (shift, person)
        uids = {shift.uid for shift in shifts}
        t = tables.overrides
        added = unchanged = removed = 0
        with self.db.write() as conn:
            row = self.get_row(conn, "schedule", name)
            previous = conn.execute(
                select(t).where(
                    t.c.schedule_id == row.id, t.c.ical_uid.is_not(None), t.c.end_at > window_start
                )
            ).all()
            kept: set[str] = set()
            for old in previous:
                uid = str(old.ical_uid).split("|", 1)[0]
                found = wanted.get(old.ical_uid)
                same = found is not None and (
                    found[0].start == old.start_at
                    and found[0].end == old.end_at
                    and found[1] == old.user_name
                )
                if same and old.ical_uid not in kept:
                    kept.add(old.ical_uid)
                    unchanged += 1
                elif uid in uids or found is not None:
                    conn.execute(delete(t).where(t.c.id == old.id))
                    removed += 1
            for key, (shift, person) in wanted.items():
                if key in kept:
                    continue
                override = models.OverrideIn(start=shift.start, end=shift.end, user=person)
                self._insert_override(conn, row.id, override, principal.actor, ical_uid=key)
                added += 1
        return {
            "schedule": name,
            "shifts_added": added,
            "shifts_unchanged": unchanged,
            "shifts_removed": removed,
            "skipped": skipped,
        }


def _true_first(schedule: sm.Schedule, shifts: list[sm.Shift], start: datetime) -> list[sm.Shift]:
    """`shifts` with the first one's start moved back from the window's to the shift's own."""
    if not shifts or shifts[0].start != start:
        return shifts
    true = sm.current_shift(schedule, start, timedelta(days=31))
    if true is None or true.user != shifts[0].user or true.start >= start:
        return shifts
    return [sm.Shift(true.start, shifts[0].end, shifts[0].user), *shifts[1:]]


def _match_person(people: Any, who: str) -> str | None:
    text = who.strip().lower()
    for prefix in ("on call:", "on-call:", "oncall:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    # warroom's own feeds say "On call: ann (primary)": the schedule in brackets
    if text.endswith(")") and " (" in text:
        text = text[: text.rindex(" (")].strip()
    for row in people:
        if text in (row.name.lower(), row.email.lower(), row.display_name.lower()):
            return str(row.name)
    return None
