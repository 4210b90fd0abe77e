"""Routing rules: which service, policy severity and action (declare or record) an alert gets.

Rules come from two places: those added through the API and CLI (`warroom routes add`), stored
in the database and tried first, in their order; then the config file's `alert_routes`. The
first rule whose matchers all match decides; with none, the config's defaults do. Intake reads
the combined rules at most once a second (at once after a change made in this process).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from warroom.alerts import domain
from warroom.alerts import tables as t
from warroom.alerts.domain import AlertRoutes, RouteRule
from warroom.core import audit
from warroom.core.auth import Principal
from warroom.core.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

ROUTES_CACHE_SECONDS = 1.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")


@dataclass(frozen=True)
class StoredRoute:
    """A routing rule and where it lives (`api`: the database; `config`: the config file)."""

    rule: RouteRule
    source: str
    position: int
    created_at: datetime | None = None
    created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.rule.name,
            "source": self.source,
            "position": self.position,
            **self.rule.model_dump(mode="json", exclude={"name"}),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


class RouteService:
    """The only writer of routing rules; the combined rules for intake."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.clock = runtime.clock
        section = runtime.config.section("alert_routes")
        self.config_routes: AlertRoutes = (
            section if isinstance(section, AlertRoutes) else AlertRoutes()
        )
        self._cache: tuple[float, AlertRoutes] | None = None

    # ---- reads -------------------------------------------------------------------------

    def effective(self, conn: Connection | None = None) -> AlertRoutes:
        """The rules intake applies: stored ones first, then the config file's, its defaults."""
        cached = self._cache
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        if conn is None:
            with self.db.read() as read:
                stored = self._stored(read)
        else:
            stored = self._stored(conn)
        routes = self.config_routes.model_copy(
            update={"routes": (*(s.rule for s in stored), *self.config_routes.routes)}
        )
        self._cache = (time.monotonic() + ROUTES_CACHE_SECONDS, routes)
        return routes

    def list_routes(self) -> list[StoredRoute]:
        """Every rule in the order intake tries them."""
        with self.db.read() as conn:
            stored = self._stored(conn)
        start = len(stored)
        from_config = [
            StoredRoute(
                rule=rule.model_copy(update={"name": rule.name or f"routes.{n}"}),
                source="config",
                position=start + n + 1,
            )
            for n, rule in enumerate(self.config_routes.routes)
        ]
        return [*stored, *from_config]

    def _stored(self, conn: Connection) -> list[StoredRoute]:
        r = t.alert_route_rules
        rows = conn.execute(select(r).order_by(r.c.position, r.c.id)).all()
        routes: list[StoredRoute] = []
        for n, row in enumerate(rows, start=1):
            try:
                rule = RouteRule.model_validate({**(row.rule or {}), "name": row.name})
            except ValidationError:  # written by a newer version: skip rather than fail intake
                continue
            routes.append(
                StoredRoute(rule, "api", n, created_at=row.created_at, created_by=row.created_by)
            )
        return routes

    # ---- writes ------------------------------------------------------------------------

    def add(
        self, principal: Principal, rule: Mapping[str, Any], *, position: int | None = None
    ) -> StoredRoute:
        """Add a rule (last among the stored ones, or at `position`, 1 = tried first)."""
        principal.require("admin")
        parsed = self._validate(rule)
        if position is not None and position < 1:
            raise InvalidInput("position counts from 1 (tried first)")
        now = self.clock.now()
        r = t.alert_route_rules
        with self.db.write() as conn:
            if conn.execute(select(r.c.id).where(r.c.name == parsed.name)).first() is not None:
                raise Conflict(f"a routing rule named {parsed.name} already exists")
            count = int(conn.execute(select(func.count()).select_from(r)).scalar_one())
            ordered = [
                row.id for row in conn.execute(select(r.c.id).order_by(r.c.position, r.c.id))
            ]
            at = min(position or count + 1, count + 1)
            # Renumber 1..n with a gap at `at` (positions stay dense whatever was removed).
            for n, row_id in enumerate(ordered, start=1):
                conn.execute(
                    update(r).where(r.c.id == row_id).values(position=n if n < at else n + 1)
                )
            conn.execute(
                insert(r).values(
                    name=parsed.name,
                    position=at,
                    rule=parsed.model_dump(mode="json", exclude={"name"}, exclude_defaults=True),
                    created_at=now,
                    created_by=principal.actor,
                )
            )
            audit.record(
                conn,
                actor=principal.actor,
                action="alert_route.added",
                target=parsed.name,
                now=now,
                details={"position": at, **parsed.model_dump(mode="json", exclude_defaults=True)},
            )
        self._cache = None
        return self.get(parsed.name)

    def remove(self, principal: Principal, name: str) -> StoredRoute:
        principal.require("admin")
        if any(rule.name == name for rule in self.config_routes.routes):
            raise Conflict(f"routing rule {name} is defined in the config file; remove it there")
        removed = self.get(name)
        r = t.alert_route_rules
        now = self.clock.now()
        with self.db.write() as conn:
            result = conn.execute(r.delete().where(r.c.name == name))
            if result.rowcount == 0:
                raise NotFound(f"no routing rule {name}")
            audit.record(
                conn,
                actor=principal.actor,
                action="alert_route.removed",
                target=name,
                now=now,
                details=removed.rule.model_dump(mode="json", exclude_defaults=True),
            )
        self._cache = None
        return removed

    def get(self, name: str) -> StoredRoute:
        for route in self.list_routes():
            if route.rule.name == name:
                return route
        raise NotFound(f"no routing rule {name}")

    def _validate(self, data: Mapping[str, Any]) -> RouteRule:
        try:
            rule = RouteRule.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first.get("loc", ())) or "rule"
            raise InvalidInput(f"{path}: {first.get('msg')}") from None
        if not _NAME.match(rule.name):
            raise InvalidInput("a routing rule's name is a lowercase slug (letters, digits, . _ -)")
        if not rule.matchers:
            raise InvalidInput("a routing rule needs at least one matcher (e.g. service=payments)")
        if any(
            rule.name == (c.name or f"routes.{n}") for n, c in enumerate(self.config_routes.routes)
        ):
            raise Conflict(f"routing rule {rule.name} is defined in the config file")
        policy = self.runtime.policy
        services = list(self.runtime.incidents.known_services)
        problems = domain.check_routes(
            AlertRoutes(routes=(rule,)), lambda key: policy.severity(key).id, services
        )
        if problems:
            raise InvalidInput("; ".join(p.partition(": ")[2] for p in problems))
        return rule
