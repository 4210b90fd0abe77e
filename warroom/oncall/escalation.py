"""The escalation service: the only writer of escalation policies and manual pages, and the
acknowledgements of pages and signed links. The escalation steps themselves run as outbox
timers (`warroom.oncall.paging`)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warroom.core import outbox
from warroom.core.auth import Principal
from warroom.core.clock import iso
from warroom.core.errors import Conflict, InvalidInput, NotFound
from warroom.core.runtime import Runtime
from warroom.incidents.model import Event, IncidentState
from warroom.oncall import links, models, tables
from warroom.oncall.directory import DirectoryService
from warroom.oncall.rows import OncallRows

if TYPE_CHECKING:
    from warroom.oncall.service import OncallService


# How long the paging reactor trusts its copy of the service → policy mappings. A mapping
# changed in another process meanwhile still pages: the step re-reads it when it fires.
MAPPINGS_TTL_S = 5.0


class EscalationService(OncallRows):
    def __init__(self, runtime: Runtime, directory: DirectoryService) -> None:
        super().__init__(runtime)
        self.directory = directory
        self._mappings: tuple[float, dict[str, str]] | None = None
        self._mappings_lock = threading.Lock()

    # ---- escalation policies ----------------------------------------------------------

    def create_policy(
        self, principal: Principal, data: models.EscalationPolicyIn
    ) -> dict[str, Any]:
        principal.require("responder")
        self.directory.check_targets([t for level in data.levels for t in level.targets])
        values = data.model_dump(mode="json")
        self.insert_row("escalation_policy", values)
        return self.show_row("escalation_policy", data.name)

    def update_policy(
        self, principal: Principal, name: str, patch: models.EscalationPolicyPatch
    ) -> dict[str, Any]:
        principal.require("responder")
        if patch.levels is not None:
            self.directory.check_targets([t for level in patch.levels for t in level.targets])
        self.update_row("escalation_policy", name, patch.model_dump(mode="json", exclude_none=True))
        return self.show_row("escalation_policy", name)

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

    def policy_for_services(
        self, services: tuple[str, ...], conn: Connection | None = None
    ) -> str | None:
        """The escalation policy paging for an incident with these services: the first
        service mapped (through the API first, else the config file), else the default."""
        if conn is None:
            with self.db.read() as read:
                return self.policy_for_services(services, read)
        mapped = _mapped(conn, services) if services else {}
        for name in services:
            if name in mapped:
                return mapped[name]
            service = self.runtime.config.service(name)
            if service is not None and service.escalation_policy:
                return service.escalation_policy
        return self.section.default_escalation_policy

    def policy_for_services_cached(self, services: tuple[str, ...]) -> str | None:
        """`policy_for_services` from a copy of the mappings at most MAPPINGS_TTL_S old: for
        the paging reactor, which plans inside the incident's transaction."""
        mapped = self._cached_mappings()
        for name in services:
            if name in mapped:
                return mapped[name]
            service = self.runtime.config.service(name)
            if service is not None and service.escalation_policy:
                return service.escalation_policy
        return self.section.default_escalation_policy

    def _cached_mappings(self) -> dict[str, str]:
        with self._mappings_lock:
            cached = self._mappings
            if cached is not None and time.monotonic() - cached[0] < MAPPINGS_TTL_S:
                return cached[1]
            t = tables.service_policies
            with self.db.read() as conn:
                rows = conn.execute(select(t.c.service, t.c.escalation_policy)).all()
            mapped = {r.service: r.escalation_policy for r in rows}
            self._mappings = (time.monotonic(), mapped)
            return mapped

    def _forget_mappings(self) -> None:
        with self._mappings_lock:
            self._mappings = None

    # ---- services → escalation policies ------------------------------------------------

    def service_policies(self) -> list[dict[str, Any]]:
        """Each service of the catalog or mapped here, with the policy that pages for it and
        where that comes from (`database`, `config`, `default` or none)."""
        t = tables.service_policies
        with self.db.read() as conn:
            rows = {r.service: r for r in conn.execute(select(t))}
        names = sorted({s.name for s in self.runtime.config.services} | set(rows))
        return [self._service_view(name, rows.get(name)) for name in names]

    def service_policy(self, service: str) -> dict[str, Any]:
        """One service's escalation policy and where it comes from."""
        models.check_service_name(service)
        t = tables.service_policies
        with self.db.read() as conn:
            row = conn.execute(select(t).where(t.c.service == service)).first()
        return self._service_view(service, row)

    def _service_view(self, name: str, row: Any) -> dict[str, Any]:
        entry = self.runtime.config.service(name)
        default = self.section.default_escalation_policy
        item: dict[str, Any] = {
            "service": name,
            "in_catalog": entry is not None,
            "config_policy": entry.escalation_policy if entry is not None else None,
        }
        if row is not None:
            item.update(
                escalation_policy=row.escalation_policy,
                source="database",
                updated_by=row.updated_by,
                updated_at=iso(row.updated_at),
            )
        elif item["config_policy"]:
            item.update(escalation_policy=item["config_policy"], source="config")
        else:
            item.update(escalation_policy=default, source="default" if default else None)
        return item

    def set_service_policy(self, principal: Principal, service: str, policy: str) -> dict[str, Any]:
        """Page through `policy` for `service` from now on (no restart)."""
        principal.require("responder")
        models.check_service_name(service)
        catalog = [s.name for s in self.runtime.config.services]
        if catalog and service not in catalog:
            # Incidents only name the catalog's services: a mapping for another never pages.
            raise InvalidInput(
                f"unknown service {service!r}; the service catalog has {', '.join(catalog)}",
                code="unknown_service",
            )
        known = {p["name"] for p in self.list_policies()}
        if policy not in known:
            raise InvalidInput(
                f"unknown escalation policy {policy!r}; known: {', '.join(sorted(known)) or 'none'}"
                " (create one with `warroom oncall escalation add`)",
                code="unknown_policy",
            )
        t = tables.service_policies
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.service == service))
            conn.execute(
                insert(t).values(
                    service=service,
                    escalation_policy=policy,
                    updated_by=principal.actor,
                    updated_at=self.clock.now(),
                )
            )
        self._forget_mappings()
        return self.service_policy(service)

    def clear_service_policy(self, principal: Principal, service: str) -> dict[str, Any]:
        """Forget the mapping set here: the config file's (or the default) applies again."""
        principal.require("responder")
        models.check_service_name(service)
        t = tables.service_policies
        with self.db.write() as conn:
            result = conn.execute(delete(t).where(t.c.service == service))
            if result.rowcount != 1:
                raise NotFound(f"no escalation policy was set for service {service!r} here")
        self._forget_mappings()
        return self.service_policy(service)

    # ---- incidents that could page nobody -----------------------------------------------

    def paging_problems(self, incident: str | None = None) -> list[dict[str, Any]]:
        """Open, unacknowledged incidents whose page reached nobody, newest first: what the
        dashboard and the war room show as a warning (`incident`: that one only)."""
        t = tables.paging_problems
        query = select(t).order_by(t.c.created_at.desc())
        if incident is not None:
            query = query.where(t.c.incident == incident.upper())
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        items = []
        for row in rows:
            try:
                state = self.runtime.incidents.get(row.incident)
            except NotFound:
                continue
            if not state.status.awaiting_ack or state.reopen_count != row.generation:
                continue
            items.append(
                {
                    "incident": row.incident,
                    "title": state.title,
                    "severity": state.severity,
                    "services": list(state.services),
                    "problem": row.problem,
                    **row.detail,
                    "since": iso(row.created_at),
                }
            )
        return items

    # ---- team activation -----------------------------------------------------------------

    def activation(self, incident: str) -> dict[str, Any]:
        """The response team the policy asks for at the incident's severity, and what is
        missing: what the war room shows (the reminder goes to the commander at `remind_at`)."""
        state = self.runtime.incidents.get(incident.upper())
        policy = self.runtime.policy
        level = policy.severity(state.severity)
        required = [r.value for r in level.roles_required]
        missing = [r for r in required if r not in state.roles]
        delay = policy.escalation.missing_roles_after
        remind_at = state.declared_at + delay if delay is not None and missing else None
        with self.db.read() as conn:
            problem = conn.execute(
                select(tables.paging_problems.c.problem).where(
                    tables.paging_problems.c.incident == state.public_id
                )
            ).first()
        return {
            "incident": state.public_id,
            "severity": state.severity,
            "paging": level.paging,
            "commander_notified_at_declaration": level.paging == "all_hands"
            or level.notify_commander,
            "roles_required": required,
            "roles": dict(state.roles),
            "roles_missing": missing,
            "remind_at": iso(remind_at) if state.is_open else None,
            "add_to_backlog": level.add_to_backlog,
            "paging_problem": problem.problem if problem is not None else None,
        }

    # ---- links ---------------------------------------------------------------------------

    def ack_url(
        self, conn: Connection, subject: str, person: str, now: datetime, key: bytes | None = None
    ) -> str:
        """A signed one-click acknowledgement link (`key`: the link key, if already read)."""
        key = key if key is not None else links.secret(conn)
        ttl = timedelta(minutes=self.section.ack_link_ttl_minutes)
        token = links.sign(key, subject, person, now, ttl)
        return f"{self.runtime.settings.public_url()}/api/v1/oncall/ack/{token}"

    def ack_link(self, token: str) -> tuple[str, str, dict[str, Any]]:
        """Acknowledge with a signed one-click link (HMAC, expiring, single use), in one
        transaction: (what was acknowledged, by whom, the page's or incident's new state)."""
        now = self.clock.now()
        with self.db.write() as conn:
            link = links.verify(links.secret(conn), token, now)
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(tables.used_links).values(
                            nonce=link.nonce, used_at=now, used_by=link.person
                        )
                    )
            except IntegrityError:
                raise Conflict(
                    "this acknowledgement link was already used", code="link_used"
                ) from None
            kind, _, rest = link.subject.partition(":")
            actor = f"{link.person} (ack link)"
            if kind == "page":
                return f"page {rest}", link.person, self.ack_page_in(conn, int(rest), actor)
            public, _, generation = rest.rpartition(":")

            def build(state: IncidentState, at: datetime) -> list[Event]:
                if str(state.reopen_count) != generation:
                    # A link from the page before a reopen: whoever holds it was paged for
                    # the earlier occurrence, not this one.
                    raise Conflict(
                        f"this link was for {public} before it was reopened; acknowledge the "
                        "reopened incident from its new page or in the war room",
                        code="link_superseded",
                    )
                if not state.status.awaiting_ack:
                    raise Conflict(f"{public} is already {state.status.value}", code="no_change")
                return [Event("acknowledged", actor, at, {"via": "link"})]

            state = self.runtime.incidents.mutate_in(conn, public, build)
            return public, link.person, {"id": state.public_id, "status": state.status.value}

    # ---- manual pages ------------------------------------------------------------------

    def page(self, principal: Principal, data: models.PageIn) -> dict[str, Any]:
        principal.require("responder")
        target = data.target if ":" in data.target else self.directory.guess_target(data.target)
        now = self.clock.now()
        with self.db.write() as conn:
            people = self.directory.resolve(conn, target, now)
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

            oncall: OncallService = self.runtime.oncall
            sender = self.directory.sender_name(conn, principal)
            effects: list[outbox.Effect] = []
            for person in people:
                effects += person_effects(
                    oncall,
                    conn,
                    person=person,
                    severity=data.severity,
                    title=f"Page from {sender}",
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

    def list_pages(self, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` pages, older than page `before_id` when given."""
        t = tables.pages
        query = select(t).order_by(t.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(t.c.id < before_id)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_page_view(r) for r in rows]

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
        return _page_view(conn.execute(select(t).where(t.c.id == page_id)).one())


def _page_view(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("created_at", "acknowledged_at"):
        data[key] = iso(data[key])
    return data


# Prebuilt look-up: every escalation step runs it.
_POLICY_BY_NAME = select(tables.escalation_policies).where(
    tables.escalation_policies.c.name == bindparam("name")
)


def _mapped(conn: Connection, services: tuple[str, ...]) -> dict[str, str]:
    rows = conn.execute(_MAPPED, {"services": list(services)}).all()
    return {r.service: r.escalation_policy for r in rows}


# Built once: every escalation step looks its incident's services up.
_MAPPED = select(
    tables.service_policies.c.service, tables.service_policies.c.escalation_policy
).where(tables.service_policies.c.service.in_(bindparam("services", expanding=True)))
