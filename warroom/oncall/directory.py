"""The directory service: the only writer of people, teams and policy contacts, and the
resolver from a target (person/team/schedule/manager/contact) to the people it reaches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from warroom.core.auth import Principal
from warroom.core.db import transaction_memo
from warroom.core.errors import InvalidInput, NotFound
from warroom.core.runtime import Runtime
from warroom.oncall import models, tables
from warroom.oncall import schedule as sm
from warroom.oncall.rows import OncallRows
from warroom.oncall.schedules import ScheduleService
from warroom.policy.schema import normalise_severity


class DirectoryService(OncallRows):
    def __init__(self, runtime: Runtime, schedules: ScheduleService) -> None:
        super().__init__(runtime)
        self.schedules = schedules

    # ---- people, teams ---------------------------------------------------------------

    def create_person(self, principal: Principal, data: models.PersonIn) -> dict[str, Any]:
        principal.require("responder")
        self.insert_row("person", self._person_values(data))
        return self.show_row("person", data.name)

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
            row = self.get_row(conn, "person", name)
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
        self.update_row("person", name, values)
        return self.show_row("person", name)

    def set_person_disabled(self, principal: Principal, name: str, disabled: bool) -> None:
        """A disabled person is never paged and their shifts show as gaps (account disabled)."""
        principal.require("admin")
        with self.db.write() as conn:
            self.get_row(conn, "person", name)
            conn.execute(
                update(tables.people)
                .where(tables.people.c.name == name)
                .values(disabled_at=self.clock.now() if disabled else None)
            )

    def contact_urls(self, name: str) -> dict[str, str]:
        """A person's contact method URLs by method name (they hold secrets: never render
        them; the web edit form uses them to keep a method whose URL was left blank)."""
        with self.db.read() as conn:
            row = self.get_row(conn, "person", name)
        return {m["name"]: m["url"] for m in row.contact_methods}

    def create_team(self, principal: Principal, data: models.TeamIn) -> dict[str, Any]:
        principal.require("responder")
        self.check_people([*data.members, *([data.manager] if data.manager else [])])
        self.insert_row("team", data.model_dump())
        return self.show_row("team", data.name)

    def update_team(self, principal: Principal, name: str, patch: models.TeamPatch) -> Any:
        principal.require("responder")
        values = patch.model_dump(exclude_unset=True)
        self.check_people([*(values.get("members") or []), values.get("manager")])
        self.update_row("team", name, values)
        return self.show_row("team", name)

    # ---- policy contacts ----------------------------------------------------------------

    def check_targets(self, targets: list[str]) -> None:
        """InvalidInput unless every target names something that exists."""
        with self.db.read() as conn:
            for target in targets:
                kind, _, name = target.partition(":")
                if target == "manager:*":
                    continue
                try:
                    self.get_row(conn, "team" if kind == "manager" else kind, name)
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
        self.check_targets(targets)
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
                    **self.contact_targets(conn, name),
                }
                for name, contact in sorted(self.runtime.policy.contacts.items())
            ]

    def contact_targets(self, conn: Connection, name: str) -> dict[str, Any]:
        """A policy contact's targets and where they come from (database, config or none)."""
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
        self,
        conn: Connection,
        target: str,
        at: datetime,
        services: Sequence[str] = (),
        *,
        once_per_transaction: bool = False,
    ) -> list[str]:
        """The people a target reaches at `at` (a schedule's on-call, a team's members).

        `services` are the incident's, for `manager:*` and unmapped manager contacts.
        `once_per_transaction`: each schedule is read once per transaction of `conn` (a round
        of escalation steps pages through the same schedules again and again); only for a
        transaction that changes no schedule, override or person.
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
            schedule = self._schedule(conn, name, once_per_transaction)
            person = sm.on_call(schedule, at) if schedule is not None else None
            return [person] if person else []
        if kind == "contact":
            mapped = self.contact_targets(conn, name)
            subs = mapped["targets"]
            if mapped["source"] is None and name in self.section.manager_contacts:
                subs = ["manager:*"]
            people: list[str] = []
            for sub in subs:
                reached = self.resolve(
                    conn, sub, at, services, once_per_transaction=once_per_transaction
                )
                people += [p for p in reached if p not in people]
            return people
        return []  # roles resolve against an incident (see paging)

    def _schedule(
        self, conn: Connection, name: str, once_per_transaction: bool
    ) -> sm.Schedule | None:
        """The schedule (None if there is none), from this transaction's memo if asked."""
        memo = transaction_memo(conn) if once_per_transaction else {}
        key = ("oncall.schedule", name)
        if key not in memo:
            try:
                memo[key] = self.schedules.load_schedule(conn, name)
            except NotFound:
                memo[key] = None
        found: sm.Schedule | None = memo[key]
        return found

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

    def sender_name(self, conn: Connection, principal: Principal) -> str:
        """The person behind a principal as people know them (their display name when they
        are in the directory): "ann" or "Ann Example", never "token:ann"."""
        name = str(principal.extra.get("user") or principal.name)
        kind, sep, bare = name.partition(":")
        if sep and kind in ("token", "user", "agent"):
            name = bare
        p = tables.people
        row = conn.execute(
            select(p.c.display_name).where((p.c.name == name) | (p.c.email == name))
        ).first()
        if row is not None and row.display_name:
            return str(row.display_name)
        return f"agent {name}" if kind == "agent" else name

    def guess_target(self, name: str) -> str:
        """`kind:name` for a bare name: a person, else a schedule, else a team."""
        with self.db.read() as conn:
            for kind in ("person", "schedule", "team"):
                try:
                    self.get_row(conn, kind, name)
                    return f"{kind}:{name}"
                except NotFound:
                    continue
        raise NotFound(f"no person, schedule or team named {name!r}")


# Prebuilt look-ups: every escalation step runs them.
# A disabled person (account deprovisioned) is never paged.
_PERSON_EXISTS = select(tables.people.c.name).where(
    tables.people.c.name == bindparam("name"), tables.people.c.disabled_at.is_(None)
)
_PERSON_BY_NAME = select(tables.people).where(
    tables.people.c.name == bindparam("name"), tables.people.c.disabled_at.is_(None)
)
