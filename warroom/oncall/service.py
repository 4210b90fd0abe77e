"""The on-call service: the only writer of people, teams, schedules and escalation policies,
and the resolver from targets (person/team/schedule/contact) to the people to notify.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.core import outbox
from warroom.core.auth import Principal
from warroom.core.clock import iso as _iso
from warroom.core.errors import Conflict, InvalidInput, NotFound
from warroom.core.runtime import Runtime
from warroom.oncall import links, models, tables
from warroom.oncall import schedule as sm
from warroom.policy.schema import normalise_severity

KINDS = {
    "person": tables.people,
    "team": tables.teams,
    "schedule": tables.schedules,
    "escalation_policy": tables.escalation_policies,
}


class OncallService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.clock = runtime.clock

    @property
    def section(self) -> models.OncallSection:
        section = self.runtime.config.section("oncall")
        return section if isinstance(section, models.OncallSection) else models.OncallSection()

    # ---- generic rows ----------------------------------------------------------------

    def _get(self, conn: Connection, kind: str, name: str) -> Any:
        t = KINDS[kind]
        row = conn.execute(select(t).where(t.c.name == name)).first()
        if row is None:
            raise NotFound(f"no {kind.replace('_', ' ')} {name!r}")
        return row

    def _insert(self, kind: str, values: dict[str, Any]) -> None:
        now = self.clock.now()
        try:
            with self.db.write() as conn:
                conn.execute(insert(KINDS[kind]).values(**values, created_at=now, updated_at=now))
        except IntegrityError:
            raise Conflict(
                f"a {kind.replace('_', ' ')} named {values['name']!r} already exists",
                code="exists",
            ) from None

    def _update(self, kind: str, name: str, values: dict[str, Any]) -> None:
        t = KINDS[kind]
        with self.db.write() as conn:
            self._get(conn, kind, name)
            conn.execute(
                update(t).where(t.c.name == name).values(**values, updated_at=self.clock.now())
            )

    def delete(self, principal: Principal, kind: str, name: str) -> None:
        principal.require("responder")
        t = KINDS[kind]
        with self.db.write() as conn:
            self._get(conn, kind, name)
            conn.execute(delete(t).where(t.c.name == name))

    def list_items(self, kind: str) -> list[dict[str, Any]]:
        t = KINDS[kind]
        with self.db.read() as conn:
            rows = conn.execute(select(t).order_by(t.c.name)).all()
        return [self._view(kind, row) for row in rows]

    def show(self, kind: str, name: str) -> dict[str, Any]:
        with self.db.read() as conn:
            view = self._view(kind, self._get(conn, kind, name))
            if kind == "schedule":
                view["overrides"] = self._overrides(conn, view["id"])
        return view

    def _view(self, kind: str, row: Any) -> dict[str, Any]:
        data = dict(row._mapping)
        for key in ("created_at", "updated_at"):
            data[key] = _iso(data.get(key))
        if kind == "person":
            # URLs carry secrets: show the channel only.
            from warroom.notify.delivery import channel_of

            data["contact_methods"] = [
                {"name": m["name"], "channel": channel_of(m["url"]), "delay_minutes": m["delay"]}
                for m in data["contact_methods"]
            ]
        if kind == "escalation_policy":
            data["source"] = "database"
        return data

    # ---- people, teams ---------------------------------------------------------------

    def create_person(self, principal: Principal, data: models.PersonIn) -> dict[str, Any]:
        principal.require("responder")
        self._insert("person", self._person_values(data))
        return self.show("person", data.name)

    def _person_values(self, data: models.PersonIn) -> dict[str, Any]:
        return {
            "name": data.name,
            "display_name": data.display_name or data.name,
            "email": data.email,
            "timezone": data.timezone,
            "contact_methods": [
                {"name": m.name, "url": m.url, "delay": m.delay_minutes}
                for m in data.contact_methods
            ],
            "preferences": {normalise_severity(k): v for k, v in data.preferences.items()},
        }

    def update_person(
        self, principal: Principal, name: str, patch: models.PersonPatch
    ) -> dict[str, Any]:
        principal.require("responder")
        with self.db.read() as conn:
            row = self._get(conn, "person", name)
        current = {
            "name": name,
            "display_name": row.display_name,
            "email": row.email,
            "timezone": row.timezone,
            "contact_methods": [
                {"name": m["name"], "url": m["url"], "delay_minutes": m["delay"]}
                for m in row.contact_methods
            ],
            "preferences": row.preferences,
        }
        current.update(patch.model_dump(exclude_unset=True, exclude_none=True))
        data = models.PersonIn.model_validate(current)
        values = self._person_values(data)
        values.pop("name")
        self._update("person", name, values)
        return self.show("person", name)

    def create_team(self, principal: Principal, data: models.TeamIn) -> dict[str, Any]:
        principal.require("responder")
        self._check_people([*data.members, *([data.manager] if data.manager else [])])
        self._insert("team", data.model_dump())
        return self.show("team", data.name)

    def update_team(self, principal: Principal, name: str, patch: models.TeamPatch) -> Any:
        principal.require("responder")
        values = patch.model_dump(exclude_unset=True)
        self._check_people([*(values.get("members") or []), values.get("manager")])
        self._update("team", name, values)
        return self.show("team", name)

    def _check_people(self, names: list[str | None]) -> None:
        wanted = {n for n in names if n}
        if not wanted:
            return
        with self.db.read() as conn:
            known = {
                r.name
                for r in conn.execute(
                    select(tables.people.c.name).where(tables.people.c.name.in_(wanted))
                )
            }
        missing = sorted(wanted - known)
        if missing:
            raise InvalidInput(f"unknown person(s): {', '.join(missing)}", code="unknown_person")

    # ---- schedules -------------------------------------------------------------------

    def create_schedule(self, principal: Principal, data: models.ScheduleIn) -> dict[str, Any]:
        principal.require("responder")
        self._check_people([u for layer in data.layers for u in layer.users])
        values = data.model_dump(mode="json")
        self._insert("schedule", values)
        return self.show("schedule", data.name)

    def update_schedule(self, principal: Principal, name: str, patch: models.SchedulePatch) -> Any:
        principal.require("responder")
        values = patch.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        if patch.layers is not None:
            self._check_people([u for layer in patch.layers for u in layer.users])
        self._update("schedule", name, values)
        return self.show("schedule", name)

    def add_override(
        self, principal: Principal, name: str, data: models.OverrideIn
    ) -> dict[str, Any]:
        principal.require("responder")
        self._check_people([data.user, data.replaces])
        with self.db.write() as conn:
            row = self._get(conn, "schedule", name)
            result = conn.execute(
                insert(tables.overrides).values(
                    schedule_id=row.id,
                    user_name=data.user,
                    replaces=data.replaces,
                    start_at=data.start,
                    end_at=data.end,
                    created_by=principal.actor,
                    created_at=self.clock.now(),
                )
            )
            assert result.inserted_primary_key is not None
            new_id = int(result.inserted_primary_key[0])
            return next(o for o in self._overrides(conn, row.id) if o["id"] == new_id)

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
        self._check_people([first.user, second.user])
        now = self.clock.now()
        with self.db.write() as conn:
            row = self._get(conn, "schedule", name)
            new_ids = []
            for data in (first, second):
                result = conn.execute(
                    insert(tables.overrides).values(
                        schedule_id=row.id,
                        user_name=data.user,
                        replaces=data.replaces,
                        start_at=data.start,
                        end_at=data.end,
                        created_by=principal.actor,
                        created_at=now,
                    )
                )
                assert result.inserted_primary_key is not None
                new_ids.append(int(result.inserted_primary_key[0]))
            return [o for o in self._overrides(conn, row.id) if o["id"] in new_ids]

    def contact_urls(self, name: str) -> dict[str, str]:
        """A person's contact method URLs by method name (they hold secrets: never render
        them; the web edit form uses them to keep a method whose URL was left blank)."""
        with self.db.read() as conn:
            row = self._get(conn, "person", name)
        return {m["name"]: m["url"] for m in row.contact_methods}

    def delete_override(self, principal: Principal, name: str, override_id: int) -> None:
        principal.require("responder")
        t = tables.overrides
        with self.db.write() as conn:
            row = self._get(conn, "schedule", name)
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
        row = self._get(conn, "schedule", name)
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

    def set_person_disabled(self, principal: Principal, name: str, disabled: bool) -> None:
        """A disabled person is never paged and their shifts show as gaps (account disabled)."""
        principal.require("admin")
        with self.db.write() as conn:
            self._get(conn, "person", name)
            conn.execute(
                update(tables.people)
                .where(tables.people.c.name == name)
                .values(disabled_at=self.clock.now() if disabled else None)
            )

    def shifts(self, name: str, start: datetime, end: datetime) -> list[sm.Shift]:
        if end <= start or end - start > timedelta(days=400):
            raise InvalidInput("the window must end after it starts and span at most 400 days")
        with self.db.read() as conn:
            schedule = self.load_schedule(conn, name)
        return sm.shifts(schedule, start, end)

    def person_shifts(self, person: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            self._get(conn, "person", person)
            names = [r.name for r in conn.execute(select(tables.schedules.c.name))]
            result = []
            for name in names:
                for shift in sm.shifts(self.load_schedule(conn, name), start, end):
                    if shift.user == person:
                        result.append({"schedule": name, "shift": shift})
        return result

    def who_is_on_call(
        self, at: datetime | None = None, schedule: str | None = None
    ) -> list[dict[str, Any]]:
        """Who is on call at `at` (now by default) on one schedule or all of them.

        The service method other packages (web dashboard, MCP) call through
        `runtime.oncall`.
        """
        moment = at or self.clock.now()
        with self.db.read() as conn:
            if schedule is not None:
                names = [self._get(conn, "schedule", schedule).name]
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
                        "since": _iso(shift.start) if shift else None,
                        "until": _iso(shift.end) if shift else None,
                        "at": moment.isoformat(),
                    }
                )
        return result

    # ---- escalation policies, contacts ------------------------------------------------

    def create_policy(
        self, principal: Principal, data: models.EscalationPolicyIn
    ) -> dict[str, Any]:
        principal.require("responder")
        self._check_targets([t for level in data.levels for t in level.targets])
        values = data.model_dump(mode="json")
        self._insert("escalation_policy", values)
        return self.show("escalation_policy", data.name)

    def update_policy(
        self, principal: Principal, name: str, patch: models.EscalationPolicyPatch
    ) -> dict[str, Any]:
        principal.require("responder")
        if patch.levels is not None:
            self._check_targets([t for level in patch.levels for t in level.targets])
        self._update("escalation_policy", name, patch.model_dump(mode="json", exclude_none=True))
        return self.show("escalation_policy", name)

    def list_policies(self) -> list[dict[str, Any]]:
        db_policies = self.list_items("escalation_policy")
        names = {p["name"] for p in db_policies}
        from_config = [
            {**p.model_dump(mode="json"), "source": "config"}
            for p in self.section.escalation_policies
            if p.name not in names
        ]
        return sorted(db_policies + from_config, key=lambda p: p["name"])

    def policy(self, conn: Connection, name: str) -> dict[str, Any] | None:
        """A policy by name: the database's first, else the config file's."""
        row = conn.execute(_POLICY_BY_NAME, {"name": name}).first()
        if row is not None:
            return {"name": row.name, "levels": row.levels, "repeat": row.repeat}
        for p in self.section.escalation_policies:
            if p.name == name:
                return p.model_dump(mode="json")
        return None

    def policy_for_services(self, services: tuple[str, ...]) -> str | None:
        for name in services:
            service = self.runtime.config.service(name)
            if service is not None and service.escalation_policy:
                return service.escalation_policy
        return self.section.default_escalation_policy

    def _check_targets(self, targets: list[str]) -> None:
        with self.db.read() as conn:
            for target in targets:
                kind, _, name = target.partition(":")
                if target == "manager:*":
                    continue
                try:
                    self._get(conn, "team" if kind == "manager" else kind, name)
                except NotFound as exc:
                    raise InvalidInput(f"target {target}: {exc.message}") from None

    def set_contact(self, principal: Principal, name: str, targets: list[str]) -> dict[str, Any]:
        principal.require("responder")
        if name not in self.runtime.policy.contacts:
            raise InvalidInput(
                f"unknown contact {name!r}; the policy's contacts are "
                + ", ".join(sorted(self.runtime.policy.contacts))
            )
        targets = models.ContactTargetsIn(targets=targets).targets  # the syntax, then existence
        self._check_targets(targets)
        t = tables.contacts
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.name == name))
            conn.execute(insert(t).values(name=name, targets=targets, updated_at=self.clock.now()))
        return {"name": name, "targets": targets, "source": "database"}

    def contacts(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [
                {
                    "name": name,
                    "description": contact.description,
                    **self._contact_targets(conn, name),
                }
                for name, contact in sorted(self.runtime.policy.contacts.items())
            ]

    def _contact_targets(self, conn: Connection, name: str) -> dict[str, Any]:
        t = tables.contacts
        row = conn.execute(select(t.c.targets).where(t.c.name == name)).first()
        if row is not None:
            return {"targets": list(row.targets), "source": "database"}
        configured = self.section.contacts.get(name)
        if configured is not None:
            return {"targets": list(configured), "source": "config"}
        return {"targets": [], "source": None}

    # ---- resolution --------------------------------------------------------------------

    def resolve(
        self, conn: Connection, target: str, at: datetime, services: Sequence[str] = ()
    ) -> list[str]:
        """The people a target reaches at `at` (a schedule's on-call, a team's members).

        `services` are the incident's, for `manager:*` and unmapped manager contacts.
        """
        kind, _, name = target.partition(":")
        if kind == "person":
            found = conn.execute(_PERSON_EXISTS, {"name": name}).first()
            return [name] if found else []
        if kind == "team":
            row = conn.execute(select(tables.teams).where(tables.teams.c.name == name)).first()
            return list(row.members) if row else []
        if kind == "manager":
            teams = self.owning_teams(services) if name == "*" else [name]
            tt = tables.teams
            rows = conn.execute(
                select(tt.c.name, tt.c.manager).where(
                    tt.c.name.in_(teams), tt.c.manager.is_not(None)
                )
            ).all()
            by_team = {r.name: r.manager for r in rows}
            return list(dict.fromkeys(by_team[team] for team in teams if team in by_team))
        if kind == "schedule":
            try:
                person = sm.on_call(self.load_schedule(conn, name), at)
            except NotFound:
                return []
            return [person] if person else []
        if kind == "contact":
            mapped = self._contact_targets(conn, name)
            subs = mapped["targets"]
            if mapped["source"] is None and name in self.section.manager_contacts:
                subs = ["manager:*"]
            people: list[str] = []
            for sub in subs:
                people += [p for p in self.resolve(conn, sub, at, services) if p not in people]
            return people
        if kind == "role":
            return []  # roles resolve against an incident (see paging)
        return []

    def owning_teams(self, services: Sequence[str]) -> list[str]:
        """The teams owning these services, from the service catalog's `owner_team`."""
        teams: list[str] = []
        for name in services:
            service = self.runtime.config.service(name)
            if service is not None and service.owner_team and service.owner_team not in teams:
                teams.append(service.owner_team)
        return teams

    def person_methods(
        self, conn: Connection, name: str, severity: str | None
    ) -> list[dict[str, Any]]:
        """The contact methods to use for a severity, in order, with their delays."""
        row = conn.execute(_PERSON_BY_NAME, {"name": name}).first()
        if row is None:
            return []
        methods: list[dict[str, Any]] = list(row.contact_methods)
        chosen = row.preferences.get(normalise_severity(severity)) if severity else None
        if chosen:
            by_name = {m["name"]: m for m in methods}
            methods = [by_name[n] for n in chosen if n in by_name]
        return methods

    def ack_url(
        self, conn: Connection, subject: str, person: str, now: datetime, key: bytes | None = None
    ) -> str:
        """A signed one-click acknowledgement link (`key`: the link key, if already read)."""
        key = key if key is not None else links.secret(conn)
        ttl = timedelta(minutes=self.section.ack_link_ttl_minutes)
        token = links.sign(key, subject, person, now, ttl)
        return f"{self.runtime.settings.public_url()}/api/v1/oncall/ack/{token}"

    # ---- manual pages ------------------------------------------------------------------

    def page(self, principal: Principal, data: models.PageIn) -> dict[str, Any]:
        principal.require("responder")
        target = data.target if ":" in data.target else self._guess_target(data.target)
        now = self.clock.now()
        with self.db.write() as conn:
            people = self.resolve(conn, target, now)
            if not people:
                raise InvalidInput(f"{target} reaches nobody right now", code="nobody_on_call")
            result = conn.execute(
                insert(tables.pages).values(
                    target=target,
                    message=data.message,
                    severity=data.severity,
                    created_by=principal.actor,
                    created_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            page_id = int(result.inserted_primary_key[0])
            from warroom.oncall.paging import person_effects

            effects: list[outbox.Effect] = []
            for person in people:
                effects += person_effects(
                    self,
                    conn,
                    person=person,
                    severity=data.severity,
                    title=f"Page from {principal.actor}",
                    body=data.message,
                    reason=f"page {page_id} ({target})",
                    incident=None,
                    incident_id=None,
                    base=now,
                    subject=f"page:{page_id}",
                    key=f"page:{page_id}:{person}",
                    now=now,
                )
            outbox.enqueue(conn, effects, now)
        return {"id": page_id, "target": target, "people": people, "created_at": now.isoformat()}

    def _guess_target(self, name: str) -> str:
        with self.db.read() as conn:
            for kind in ("person", "schedule", "team"):
                try:
                    self._get(conn, kind, name)
                    return f"{kind}:{name}"
                except NotFound:
                    continue
        raise NotFound(f"no person, schedule or team named {name!r}")

    def list_pages(self, limit: int = 50) -> list[dict[str, Any]]:
        t = tables.pages
        with self.db.read() as conn:
            rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit)).all()
        return [self._page_view(r) for r in rows]

    def _page_view(self, row: Any) -> dict[str, Any]:
        data = dict(row._mapping)
        for key in ("created_at", "acknowledged_at"):
            data[key] = _iso(data[key])
        return data

    def ack_page(self, principal: Principal, page_id: int) -> dict[str, Any]:
        principal.require("responder")
        with self.db.write() as conn:
            return self.ack_page_in(conn, page_id, principal.actor)

    def ack_page_in(self, conn: Connection, page_id: int, actor: str) -> dict[str, Any]:
        t = tables.pages
        row = conn.execute(select(t).where(t.c.id == page_id)).first()
        if row is None:
            raise NotFound(f"no page {page_id}")
        if row.acknowledged_at is not None:
            raise Conflict(f"page {page_id} is already acknowledged", code="no_change")
        now = self.clock.now()
        conn.execute(
            update(t).where(t.c.id == page_id).values(acknowledged_at=now, acknowledged_by=actor)
        )
        return self._page_view(conn.execute(select(t).where(t.c.id == page_id)).one())


def _match_person(people: Any, who: str) -> str | None:
    text = who.strip().lower()
    for prefix in ("on call:", "on-call:", "oncall:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    for row in people:
        if text in (row.name.lower(), row.email.lower(), row.display_name.lower()):
            return str(row.name)
    return None


def import_ical(
    service: OncallService,
    principal: Principal,
    name: str,
    data: bytes,
    *,
    timezone: str = "UTC",
    days: int = 90,
) -> dict[str, Any]:
    """Create (or add to) a schedule from an iCal file: each event becomes an override shift."""
    from warroom.oncall import ical

    principal.require("responder")
    now = service.clock.now()
    try:
        shifts = ical.parse(data, now - timedelta(days=1), now + timedelta(days=days))
    except ValueError as exc:
        raise InvalidInput(str(exc), code="bad_ical") from None
    with service.db.read() as conn:
        people = conn.execute(select(tables.people)).all()
        exists = conn.execute(
            select(tables.schedules.c.id).where(tables.schedules.c.name == name)
        ).first()
    if exists is None:
        service.create_schedule(
            principal, models.ScheduleIn(name=name, timezone=timezone, description="imported")
        )
    added, skipped = 0, []
    for shift in shifts:
        person = _match_person(people, shift.who)
        if person is None:
            skipped.append({"who": shift.who, "start": shift.start.isoformat()})
            continue
        service.add_override(
            principal, name, models.OverrideIn(start=shift.start, end=shift.end, user=person)
        )
        added += 1
    return {"schedule": name, "shifts_added": added, "skipped": skipped}


# Prebuilt look-ups: every escalation step runs them.
_POLICY_BY_NAME = select(tables.escalation_policies).where(
    tables.escalation_policies.c.name == bindparam("name")
)
_PERSON_EXISTS = select(tables.people.c.name).where(
    tables.people.c.name == bindparam("name"), tables.people.c.disabled_at.is_(None)
)
_PERSON_BY_NAME = select(tables.people).where(
    tables.people.c.name == bindparam("name"), tables.people.c.disabled_at.is_(None)
)
