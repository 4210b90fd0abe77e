"""The status page service: components, public incidents, maintenance and subscribers.

Only this module writes the public tables. Public incidents are linked to internal incidents
by id, but nothing internal is stored in them: their name, updates and components are the
public wording alone.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from warroom.comms import signing, tables, views
from warroom.comms.config import CommsConfig
from warroom.comms.updates import IMPACT_TO_COMPONENT, ComponentStatus
from warroom.comms.updates import PublicStatus as UpdateStatus
from warroom.core import outbox
from warroom.core.auth import Principal
from warroom.core.clock import Clock, ensure_utc
from warroom.core.config import ServiceConfig
from warroom.core.db import Database
from warroom.core.errors import Conflict, InvalidInput, NotFound
from warroom.core.settings import Settings

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
Impact = Literal["none", "minor", "major", "critical"]

CONFIRM_KIND = "statuspage_confirm"
FANOUT_KIND = "statuspage_fanout"
DELIVER_KIND = "statuspage_deliver"


def _code() -> str:
    return secrets.token_hex(6)


def public_name(service: str) -> str:
    """A draft component's name from a service id (`payments-api` -> `Payments Api`)."""
    return re.sub(r"[-_.]+", " ", service).strip().title() or service


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentIn(_Strict):
    slug: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    group: str | None = Field(default=None, max_length=200)
    service: str | None = Field(default=None, max_length=120)
    position: int = Field(default=0, ge=0, le=100_000)
    status: ComponentStatus = "operational"
    showcase: bool = True
    only_show_if_degraded: bool = False
    # False: a draft, on no public page or API until published.
    published: bool = True

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("a component id is a lowercase slug (letters, digits, . _ -)")
        return value


class ComponentPatch(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    group: str | None = Field(default=None, max_length=200)
    position: int | None = Field(default=None, ge=0, le=100_000)
    status: ComponentStatus | None = None
    showcase: bool | None = None
    only_show_if_degraded: bool | None = None
    archived: bool | None = None


class PublicIncidentIn(_Strict):
    """A public incident written by hand (e.g. a third-party outage with no internal one)."""

    name: str = Field(min_length=1, max_length=300)
    status: UpdateStatus = "investigating"
    body: str = Field(min_length=1, max_length=10000)
    impact: Impact = "minor"
    components: list[str] = Field(default_factory=list, max_length=100)
    component_status: ComponentStatus | None = None


class PublicUpdateIn(_Strict):
    status: UpdateStatus
    body: str = Field(min_length=1, max_length=10000)
    component_status: ComponentStatus | None = None


class MaintenanceIn(_Strict):
    name: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=10000)
    components: list[str] = Field(default_factory=list, max_length=100)
    scheduled_for: datetime
    scheduled_until: datetime


class SubscribeIn(_Strict):
    email: str | None = Field(default=None, max_length=254)
    webhook: str | None = Field(default=None, max_length=500)
    components: list[str] = Field(default_factory=list, max_length=100)


def _component(row: Row[Any]) -> views.Component:
    return views.Component(
        slug=row.slug,
        name=row.name,
        description=row.description,
        group=row.group_name,
        position=row.position,
        status=row.status,
        showcase=row.showcase,
        only_show_if_degraded=row.only_show_if_degraded,
        created_at=row.created_at,
        updated_at=row.updated_at,
        published=row.published,
    )


def _incident(row: Row[Any], updates: Sequence[views.PublicUpdate]) -> views.PublicIncident:
    return views.PublicIncident(
        code=row.code,
        name=row.name,
        status=row.status,
        impact=row.impact,
        components=tuple(row.components),
        component_status=row.component_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        monitoring_at=row.monitoring_at,
        resolved_at=row.resolved_at,
        updates=tuple(updates),
    )


def _component_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.slug,
        "name": row.name,
        "description": row.description,
        "group": row.group_name,
        "service": row.service,
        "position": row.position,
        "status": row.status,
        "showcase": row.showcase,
        "only_show_if_degraded": row.only_show_if_degraded,
        "archived": row.archived,
        "published": row.published,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """A subscriber webhook must be http(s) and, unless allowed, not point into our network."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput("that is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("a webhook must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL must not carry credentials")
    if allow_private:
        return url.strip()
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        raise InvalidInput("the webhook host does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise InvalidInput("the webhook points to a private or local address")
    return url.strip()


class StatusPage:
    """Writes and reads of the public status page."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        config: CommsConfig,
        services: Sequence[ServiceConfig] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.config = config
        self.services = tuple(services)
        # Bumped by every write here: cached public responses older than it are stale.
        self.generation = 0
        self.response_cache: dict[tuple[str, int, int], tuple[bytes, str]] = {}

    def touch(self) -> None:
        self.generation += 1
        self.response_cache.clear()

    @property
    def base_url(self) -> str:
        return self.settings.public_url() + "/status"

    # ---- components ----------------------------------------------------------------------

    def record_state(
        self, conn: Connection, component_id: int, status: str, since: datetime, actor: str
    ) -> None:
        """Remember that a component's state set by hand is `status` from `since` on."""
        conn.execute(
            insert(tables.component_states).values(
                component_id=component_id, status=status, since=since, actor=actor[:200]
            )
        )

    def sync_components(self, conn: Connection, now: datetime, actor: str = "system") -> int:
        """Create a draft component for each catalog service that never had one.

        A draft is on no public page until an admin publishes it, and nothing internal is
        copied into it: its name comes from the service's id (not the catalog's internal
        description), it has no description and no group (not the owner team)."""
        self.touch()
        t = tables.status_components
        have = {r.service for r in conn.execute(select(t.c.service)).all()}
        slugs = {r.slug for r in conn.execute(select(t.c.slug)).all()}
        added = 0
        for n, service in enumerate(self.services):
            if service.name in have or service.name in slugs:
                continue
            result = conn.execute(
                insert(t).values(
                    slug=service.name,
                    name=public_name(service.name),
                    description="",
                    group_name=None,
                    service=service.name,
                    position=n,
                    status="operational",
                    showcase=True,
                    only_show_if_degraded=False,
                    archived=False,
                    published=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            self.record_state(conn, int(result.inserted_primary_key[0]), "operational", now, actor)
            added += 1
        return added

    def sync(self, principal: Principal) -> int:
        """An admin adds the catalog's missing services as draft components."""
        principal.require("admin")
        with self.db.write() as conn:
            return self.sync_components(conn, self.clock.now(), principal.actor)

    def list_components(self, *, archived: bool = False) -> list[dict[str, Any]]:
        t = tables.status_components
        query = select(t).order_by(t.c.position, t.c.name)
        if not archived:
            query = query.where(t.c.archived.is_(False))
        with self.db.read() as conn:
            return [_component_dict(r) for r in conn.execute(query).all()]

    def create_component(self, principal: Principal, body: ComponentIn) -> dict[str, Any]:
        self.touch()
        principal.require("admin")
        now = self.clock.now()
        t = tables.status_components
        with self.db.write() as conn:
            clash = conn.execute(
                select(t.c.slug).where(
                    or_(
                        t.c.slug == body.slug,
                        and_(t.c.service.isnot(None), t.c.service == body.service),
                    )
                )
            ).first()
            if clash is not None:
                raise Conflict(f"component {clash.slug} already exists (same id or service)")
            result = conn.execute(
                insert(t).values(
                    slug=body.slug,
                    name=body.name,
                    description=body.description,
                    group_name=body.group,
                    service=body.service,
                    position=body.position,
                    status=body.status,
                    showcase=body.showcase,
                    only_show_if_degraded=body.only_show_if_degraded,
                    archived=False,
                    published=body.published,
                    created_at=now,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            self.record_state(
                conn, int(result.inserted_primary_key[0]), body.status, now, principal.actor
            )
            row = conn.execute(select(t).where(t.c.slug == body.slug)).one()
        return _component_dict(row)

    def update_component(
        self, principal: Principal, slug: str, body: ComponentPatch
    ) -> dict[str, Any]:
        """Change a component; setting its status needs a responder, the rest an admin."""
        self.touch()
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise InvalidInput("nothing to change")
        principal.require("responder" if set(changes) <= {"status"} else "admin")
        for key, value in list(changes.items()):
            if value is None and key == "description":
                changes[key] = ""
            elif value is None and key != "group":
                raise InvalidInput(f"{key} cannot be null")
        if "group" in changes:
            changes["group_name"] = changes.pop("group")
        return self._change(principal, slug, changes)

    def _change(self, principal: Principal, slug: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Write `changes` to a component in one transaction; a new state set by hand is
        recorded in its history (the uptime bars replay it)."""
        t = tables.status_components
        now = self.clock.now()
        with self.db.write() as conn:
            before = conn.execute(select(t.c.id, t.c.status).where(t.c.slug == slug)).first()
            if before is None:
                raise NotFound(f"no component {slug}")
            conn.execute(update(t).where(t.c.id == before.id).values(**changes, updated_at=now))
            if "status" in changes and changes["status"] != before.status:
                self.record_state(conn, int(before.id), changes["status"], now, principal.actor)
            row = conn.execute(select(t).where(t.c.id == before.id)).one()
        self.touch()
        return _component_dict(row)

    def publish_component(
        self, principal: Principal, slug: str, *, published: bool = True
    ) -> dict[str, Any]:
        """An admin publishes a draft component (or takes one back to draft)."""
        principal.require("admin")
        return self._change(principal, slug, {"published": published})

    def _component_slugs(self, conn: Connection, *, public: bool = False) -> dict[str, str | None]:
        t = tables.status_components
        query = select(t.c.slug, t.c.service).where(t.c.archived.is_(False))
        if public:
            query = query.where(t.c.published.is_(True))
        return {r.slug: r.service for r in conn.execute(query).all()}

    def check_components(
        self, conn: Connection, slugs: Sequence[str], *, public: bool = False
    ) -> list[str]:
        """The slugs, checked; `public`: only published ones exist (a visitor's request)."""
        known = self._component_slugs(conn, public=public)
        unknown = [s for s in slugs if s not in known]
        if unknown:
            raise InvalidInput(
                f"unknown component(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        return list(dict.fromkeys(slugs))

    def components_for_services(self, conn: Connection, services: Sequence[str]) -> list[str]:
        return [s for s, service in self._component_slugs(conn).items() if service in services]

    def component_names(self, conn: Connection, slugs: Sequence[str]) -> list[str]:
        """The public names of the published ones (for public wording: never a draft's)."""
        t = tables.status_components
        rows = conn.execute(
            select(t.c.slug, t.c.name).where(t.c.slug.in_(list(slugs)), t.c.published.is_(True))
        ).all()
        names = {r.slug: r.name for r in rows}
        return [names[s] for s in slugs if s in names]

    # ---- public incidents ------------------------------------------------------------------

    def post_update(
        self,
        conn: Connection,
        *,
        incident_id: int | None,
        public_incident_id: int | None,
        name: str,
        status: str,
        body: str,
        impact: str,
        components: Sequence[str],
        component_status: str | None,
        now: datetime,
    ) -> tuple[int, str]:
        """Add an update (creating the public incident when needed); fan it out to
        subscribers. Returns (public incident id, its code)."""
        self.touch()
        p = tables.public_incidents
        row = None
        if public_incident_id is not None:
            row = conn.execute(select(p).where(p.c.id == public_incident_id)).first()
        elif incident_id is not None:
            row = conn.execute(select(p).where(p.c.incident_id == incident_id)).first()
        component_status = component_status or IMPACT_TO_COMPONENT.get(impact, "partial_outage")
        monitoring_at = now if status == "monitoring" else None
        resolved_at = now if status == "resolved" else None
        if row is None:
            code = _code()
            result = conn.execute(
                insert(p).values(
                    code=code,
                    incident_id=incident_id,
                    name=name,
                    status=status,
                    impact=impact,
                    components=list(components),
                    component_status=component_status,
                    created_at=now,
                    updated_at=now,
                    monitoring_at=monitoring_at,
                    resolved_at=resolved_at,
                )
            )
            assert result.inserted_primary_key is not None
            pid = int(result.inserted_primary_key[0])
        else:
            pid, code = int(row.id), str(row.code)
            conn.execute(
                update(p)
                .where(p.c.id == pid)
                .values(
                    name=name,
                    status=status,
                    impact=impact,
                    components=list(components),
                    component_status=component_status,
                    updated_at=now,
                    monitoring_at=row.monitoring_at or monitoring_at,
                    # Re-opened when a new non-resolved update follows a resolution.
                    resolved_at=resolved_at,
                )
            )
        u = tables.public_incident_updates
        result = conn.execute(
            insert(u).values(
                code=_code(),
                public_incident_id=pid,
                status=status,
                body=body,
                created_at=now,
                display_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        update_id = int(result.inserted_primary_key[0])
        outbox.enqueue(
            conn,
            [
                outbox.Effect(
                    FANOUT_KIND,
                    {"update_id": update_id},
                    now,
                    dedup_key=f"statuspage:fanout:{update_id}",
                )
            ],
            now,
        )
        return pid, code

    def linked_public_incident(self, conn: Connection, incident_id: int) -> Row[Any] | None:
        p = tables.public_incidents
        return conn.execute(select(p).where(p.c.incident_id == incident_id)).first()

    def create_incident(self, principal: Principal, body: PublicIncidentIn) -> dict[str, Any]:
        principal.require("responder")
        now = self.clock.now()
        with self.db.write() as conn:
            components = self.check_components(conn, body.components)
            _, code = self.post_update(
                conn,
                incident_id=None,
                public_incident_id=None,
                name=body.name.strip(),
                status=body.status,
                body=body.body.strip(),
                impact=body.impact,
                components=components,
                component_status=body.component_status,
                now=now,
            )
        self.touch()
        return self.public_incident(code)

    def add_incident_update(
        self, principal: Principal, code: str, body: PublicUpdateIn
    ) -> dict[str, Any]:
        principal.require("responder")
        now = self.clock.now()
        p = tables.public_incidents
        with self.db.write() as conn:
            row = conn.execute(select(p).where(p.c.code == code)).first()
            if row is None:
                raise NotFound(f"no public incident {code}")
            self.post_update(
                conn,
                incident_id=row.incident_id,
                public_incident_id=int(row.id),
                name=row.name,
                status=body.status,
                body=body.body.strip(),
                impact=row.impact,
                components=row.components,
                component_status=body.component_status or row.component_status,
                now=now,
            )
        self.touch()
        return self.public_incident(code)

    def public_incident(self, code: str) -> dict[str, Any]:
        snapshot = self.snapshot(history_days=None, only_code=code)
        match = [i for i in snapshot.incidents if i.code == code]
        if not match:
            raise NotFound(f"no public incident {code}")
        return views.incident_json(snapshot, match[0])

    # ---- maintenance ----------------------------------------------------------------------

    def schedule_maintenance(self, principal: Principal, body: MaintenanceIn) -> dict[str, Any]:
        self.touch()
        principal.require("responder")
        try:
            start, end = ensure_utc(body.scheduled_for), ensure_utc(body.scheduled_until)
        except OverflowError:
            raise InvalidInput("the maintenance window is out of range") from None
        if end <= start:
            raise InvalidInput("scheduled_until must be after scheduled_for")
        now = self.clock.now()
        if end <= now:
            raise InvalidInput("that maintenance window has already ended")
        code = _code()
        with self.db.write() as conn:
            components = self.check_components(conn, body.components)
            conn.execute(
                insert(tables.maintenances).values(
                    code=code,
                    name=body.name.strip(),
                    body=body.body.strip(),
                    components=components,
                    scheduled_for=start,
                    scheduled_until=end,
                    created_at=now,
                    updated_at=now,
                )
            )
            outbox.enqueue(
                conn,
                [
                    outbox.Effect(
                        FANOUT_KIND,
                        {"maintenance": code},
                        now,
                        dedup_key=f"statuspage:fanout:maintenance:{code}",
                    )
                ],
                now,
            )
        snapshot = self.snapshot(history_days=0, updates_for="open")
        window = views.Maintenance(
            code=code,
            name=body.name.strip(),
            body=body.body.strip(),
            components=tuple(components),
            scheduled_for=start,
            scheduled_until=end,
            created_at=now,
            updated_at=now,
        )
        return views.maintenance_json(snapshot, window)

    def cancel_maintenance(self, principal: Principal, code: str) -> None:
        self.touch()
        principal.require("responder")
        m = tables.maintenances
        with self.db.write() as conn:
            result = conn.execute(delete(m).where(m.c.code == code))
            if result.rowcount != 1:
                raise NotFound(f"no maintenance {code}")

    # ---- reads ----------------------------------------------------------------------------

    def page(self) -> views.Page:
        name = self.config.statuspage.name
        return views.Page(
            id=views.slugify(name),
            name=name,
            url=self.base_url,
            time_zone=self.config.statuspage.time_zone,
        )

    def snapshot(
        self,
        *,
        history_days: int | None = views.UPTIME_DAYS,
        only_code: str | None = None,
        updates_for: Literal["all", "open"] = "all",
        limit: int | None = None,
        states: bool = False,
        drafts: bool = False,
    ) -> views.Snapshot:
        """What is public, read in one transaction: published components (`drafts`: drafts
        too, for the admin page), maintenance, unresolved incidents plus those resolved
        within `history_days` (0: none; None: all), at most `limit` of them, with their
        updates (`updates_for="open"`: only unresolved ones'), and with `states` the
        components' states set by hand over the uptime window."""
        now = self.clock.now()
        c, p, u, m = (
            tables.status_components,
            tables.public_incidents,
            tables.public_incident_updates,
            tables.maintenances,
        )
        with self.db.read() as conn:
            query = select(c).where(c.c.archived.is_(False)).order_by(c.c.position, c.c.name)
            if not drafts:
                query = query.where(c.c.published.is_(True))
            component_rows = conn.execute(query).all()
            components = [_component(r) for r in component_rows]
            history = (
                self._states(conn, {int(r.id): r.slug for r in component_rows}, now)
                if states
                else {}
            )
            query = select(p).order_by(p.c.created_at.desc(), p.c.id.desc())
            if only_code is not None:
                query = query.where(p.c.code == only_code)
            elif history_days == 0:
                query = query.where(p.c.resolved_at.is_(None))
            elif history_days is not None:
                since = now - timedelta(days=history_days)
                query = query.where(or_(p.c.resolved_at.is_(None), p.c.resolved_at >= since))
            if limit is not None:
                query = query.limit(limit)
            incident_rows = conn.execute(query).all()
            ids = [r.id for r in incident_rows if updates_for == "all" or r.resolved_at is None]
            updates: dict[int, list[views.PublicUpdate]] = {}
            if ids:
                for r in conn.execute(
                    select(u)
                    .where(u.c.public_incident_id.in_(ids))
                    .order_by(u.c.display_at.desc(), u.c.id.desc())
                ).all():
                    updates.setdefault(r.public_incident_id, []).append(
                        views.PublicUpdate(r.code, r.status, r.body, r.created_at, r.display_at)
                    )
            windows = conn.execute(
                select(m)
                .where(m.c.scheduled_until >= now - timedelta(days=views.UPTIME_DAYS))
                .order_by(m.c.scheduled_for)
            ).all()
        incidents = [_incident(r, updates.get(r.id, ())) for r in incident_rows]
        maintenances = [
            views.Maintenance(
                code=r.code,
                name=r.name,
                body=r.body,
                components=tuple(r.components),
                scheduled_for=r.scheduled_for,
                scheduled_until=r.scheduled_until,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in windows
        ]
        return views.build_snapshot(
            self.page(), components, incidents, maintenances, now, states=history
        )

    def _states(
        self, conn: Connection, slugs: dict[int, str], now: datetime
    ) -> dict[str, tuple[views.StateChange, ...]]:
        """Each component's states set by hand over the uptime window, oldest first: the
        changes within it and the one in force when it began."""
        if not slugs:
            return {}
        s = tables.component_states
        start = views.window_start(now)
        before = (
            select(s.c.component_id, func.max(s.c.since).label("since"))
            .where(s.c.since < start, s.c.component_id.in_(list(slugs)))
            .group_by(s.c.component_id)
            .subquery()
        )
        rows = [
            *conn.execute(
                select(s.c.id, s.c.component_id, s.c.status, s.c.since).join(
                    before,
                    and_(s.c.component_id == before.c.component_id, s.c.since == before.c.since),
                )
            ).all(),
            *conn.execute(
                select(s.c.id, s.c.component_id, s.c.status, s.c.since).where(
                    s.c.since >= start, s.c.since <= now, s.c.component_id.in_(list(slugs))
                )
            ).all(),
        ]
        found: dict[str, list[views.StateChange]] = {}
        for r in sorted(rows, key=lambda r: (r.since, r.id)):
            found.setdefault(slugs[int(r.component_id)], []).append(
                views.StateChange(r.since, r.status)
            )
        return {slug: tuple(changes) for slug, changes in found.items()}

    def history(self, limit: int = 50) -> list[tuple[views.PublicIncident, views.PublicUpdate]]:
        """The newest public updates with their incidents (for the feeds)."""
        p, u = tables.public_incidents, tables.public_incident_updates
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    u.c.code.label("update_code"),
                    u.c.status.label("update_status"),
                    u.c.body,
                    u.c.created_at.label("update_created_at"),
                    u.c.display_at,
                    p,
                )
                .join(p, p.c.id == u.c.public_incident_id)
                .order_by(u.c.display_at.desc(), u.c.id.desc())
                .limit(limit)
            ).all()
        return [
            (
                _incident(r, ()),
                views.PublicUpdate(
                    r.update_code, r.update_status, r.body, r.update_created_at, r.display_at
                ),
            )
            for r in rows
        ]

    # ---- subscribers ----------------------------------------------------------------------

    def subscribe(self, body: SubscribeIn) -> dict[str, Any]:
        """Anyone may subscribe; nothing is sent to them until they confirm (double opt-in)."""
        settings = self.config.statuspage
        if bool(body.email) == bool(body.webhook):
            raise InvalidInput("give either an email address or a webhook URL")
        if body.email:
            if not settings.allow_email_subscribers or not settings.email_url:
                raise InvalidInput("email subscriptions are not enabled on this status page")
            target = body.email.strip()
            if not _EMAIL.match(target):
                raise InvalidInput("that does not look like an email address")
            kind = "email"
        else:
            if not settings.allow_webhook_subscribers:
                raise InvalidInput("webhook subscriptions are not enabled on this status page")
            target = check_webhook_url(
                body.webhook or "", allow_private=settings.allow_private_webhooks
            )
            kind = "webhook"
        now = self.clock.now()
        s = tables.subscribers
        with self.db.write() as conn:
            components = self.check_components(conn, body.components, public=True)
            existing = conn.execute(
                select(s).where(
                    s.c.kind == kind,
                    func.lower(s.c.target) == target.lower(),
                    s.c.status != "unsubscribed",
                )
            ).first()
            if existing is not None:
                subscriber_id = int(existing.id)
                conn.execute(update(s).where(s.c.id == subscriber_id).values(components=components))
                status = existing.status
            else:
                result = conn.execute(
                    insert(s).values(
                        kind=kind,
                        target=target,
                        components=components,
                        status="pending",
                        nonce=signing.new_nonce(),
                        created_at=now,
                    )
                )
                assert result.inserted_primary_key is not None
                subscriber_id = int(result.inserted_primary_key[0])
                status = "pending"
            if status == "pending":
                # One confirmation message per subscriber per hour at most.
                bucket = now.strftime("%Y%m%d%H")
                outbox.enqueue(
                    conn,
                    [
                        outbox.Effect(
                            CONFIRM_KIND,
                            {"subscriber_id": subscriber_id},
                            now,
                            dedup_key=f"statuspage:confirm:{subscriber_id}:{bucket}",
                        )
                    ],
                    now,
                )
        # The same answer whether or not the address was known (no address enumeration).
        return {"status": "pending_confirmation", "kind": kind}

    def links(self, conn: Connection, subscriber_id: int, nonce: str) -> dict[str, str]:
        key = signing.secret(conn)
        base = self.base_url + "/subscribers"
        return {
            "confirm": f"{base}/confirm?token={signing.sign(key, 'confirm', subscriber_id, nonce)}",
            "unsubscribe": (
                f"{base}/unsubscribe?token={signing.sign(key, 'unsub', subscriber_id, nonce)}"
            ),
        }

    def _by_token(self, conn: Connection, purpose: str, token: str) -> Row[Any]:
        key = signing.secret(conn)
        found = signing.verify(key, purpose, token)
        s = tables.subscribers
        row = None
        if found is not None:
            row = conn.execute(select(s).where(s.c.id == found[0], s.c.nonce == found[1])).first()
        if row is None:
            raise InvalidInput("this link is invalid or has expired", code="invalid_link")
        return row

    def check_token(self, purpose: str, token: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._by_token(conn, purpose, token)
        return {"kind": row.kind, "status": row.status}

    def confirm(self, token: str) -> dict[str, Any]:
        now = self.clock.now()
        s = tables.subscribers
        with self.db.write() as conn:
            row = self._by_token(conn, "confirm", token)
            if row.status == "unsubscribed":
                raise InvalidInput("this subscription was cancelled; subscribe again")
            if row.status == "pending":
                conn.execute(
                    update(s).where(s.c.id == row.id).values(status="confirmed", confirmed_at=now)
                )
        return {"status": "confirmed", "kind": row.kind}

    def unsubscribe(self, token: str) -> dict[str, Any]:
        now = self.clock.now()
        s = tables.subscribers
        with self.db.write() as conn:
            row = self._by_token(conn, "unsub", token)
            if row.status != "unsubscribed":
                conn.execute(
                    update(s)
                    .where(s.c.id == row.id)
                    .values(status="unsubscribed", unsubscribed_at=now, nonce=signing.new_nonce())
                )
        return {"status": "unsubscribed", "kind": row.kind}

    def list_subscribers(self, principal: Principal) -> list[dict[str, Any]]:
        principal.require("admin")
        s = tables.subscribers
        with self.db.read() as conn:
            rows = conn.execute(select(s).order_by(s.c.id)).all()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "target": r.target,
                "components": r.components,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "confirmed_at": r.confirmed_at.isoformat() if r.confirmed_at else None,
                "unsubscribed_at": r.unsubscribed_at.isoformat() if r.unsubscribed_at else None,
            }
            for r in rows
        ]

    def remove_subscriber(self, principal: Principal, subscriber_id: int) -> None:
        principal.require("admin")
        s = tables.subscribers
        with self.db.write() as conn:
            result = conn.execute(
                update(s)
                .where(s.c.id == subscriber_id, s.c.status != "unsubscribed")
                .values(
                    status="unsubscribed",
                    unsubscribed_at=self.clock.now(),
                    nonce=signing.new_nonce(),
                )
            )
            if result.rowcount != 1:
                raise NotFound(f"no active subscriber {subscriber_id}")
