"""What the on-call services share: the named rows (people, teams, schedules, escalation
policies) looked up, written and shown by kind, and the `oncall:` config section."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.core.auth import Principal
from warroom.core.clock import iso
from warroom.core.errors import Conflict, InvalidInput, NotFound
from warroom.core.runtime import Runtime
from warroom.oncall import models, tables

KINDS = {
    "person": tables.people,
    "team": tables.teams,
    "schedule": tables.schedules,
    "escalation_policy": tables.escalation_policies,
}


class OncallRows:
    """The base of the on-call services: each writes its own kinds through these."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.clock = runtime.clock

    @property
    def section(self) -> models.OncallSection:
        section = self.runtime.config.section("oncall")
        return section if isinstance(section, models.OncallSection) else models.OncallSection()

    def get_row(self, conn: Connection, kind: str, name: str) -> Any:
        t = KINDS[kind]
        row = conn.execute(select(t).where(t.c.name == name)).first()
        if row is None:
            raise NotFound(f"no {kind.replace('_', ' ')} {name!r}")
        return row

    def insert_row(self, kind: str, values: dict[str, Any]) -> None:
        now = self.clock.now()
        try:
            with self.db.write() as conn:
                conn.execute(insert(KINDS[kind]).values(**values, created_at=now, updated_at=now))
        except IntegrityError:
            raise Conflict(
                f"a {kind.replace('_', ' ')} named {values['name']!r} already exists",
                code="exists",
            ) from None

    def update_row(self, kind: str, name: str, values: dict[str, Any]) -> None:
        t = KINDS[kind]
        with self.db.write() as conn:
            self.get_row(conn, kind, name)
            conn.execute(
                update(t).where(t.c.name == name).values(**values, updated_at=self.clock.now())
            )

    def delete(self, principal: Principal, kind: str, name: str) -> None:
        principal.require("responder")
        t = KINDS[kind]
        with self.db.write() as conn:
            self.get_row(conn, kind, name)
            conn.execute(delete(t).where(t.c.name == name))

    def list_items(self, kind: str) -> list[dict[str, Any]]:
        t = KINDS[kind]
        with self.db.read() as conn:
            rows = conn.execute(select(t).order_by(t.c.name)).all()
        return [self.view(kind, row) for row in rows]

    def show_row(self, kind: str, name: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.view(kind, self.get_row(conn, kind, name))

    def check_people(self, names: list[str | None]) -> None:
        """InvalidInput unless every named person exists."""
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

    def view(self, kind: str, row: Any) -> dict[str, Any]:
        data = dict(row._mapping)
        for key in ("created_at", "updated_at"):
            data[key] = iso(data.get(key))
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
