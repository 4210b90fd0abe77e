"""Apply an import plan through the on-call services, idempotently.

Each vendor object is matched by its vendor id (table `import_links`): the first import creates
it, a later one updates it when what the vendor has changed and leaves it alone otherwise. A
warroom object of the same name that was not imported is never overwritten (reported as a skip).
A dry run plans the same actions and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy import update as sa_update

from warroom.core import audit
from warroom.core.auth import Principal
from warroom.core.errors import NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.importers.plan import Action, ImportAction, ImportPlan, ImportReport, Kind
from warroom.importers.tables import import_links
from warroom.oncall import models


def _digest(model: BaseModel) -> str:
    data = json.dumps(model.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


class ImportService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def apply(self, principal: Principal, plan: ImportPlan, *, dry_run: bool) -> ImportReport:
        """Create or update what the plan holds, people first (the rest refers to them)."""
        principal.require("admin")
        links = self._links(plan.vendor)
        actions = []
        for step in _steps(self.runtime, principal, plan):
            action = self._plan_step(step, links)
            actions.append(action)
            if dry_run or action.action not in ("create", "update"):
                continue
            try:
                (step.create if action.action == "create" else step.change or step.create)()
            except WarroomError as exc:
                actions[-1] = action.model_copy(update={"action": "skip", "why": exc.message})
                continue
            self._link(plan.vendor, step, update=action.action == "update")
        report = ImportReport(
            vendor=plan.vendor, dry_run=dry_run, actions=actions, skipped=plan.skipped
        )
        if not dry_run:
            with self.runtime.db.write() as conn:
                audit.record(
                    conn,
                    actor=principal.actor,
                    action="import.apply",
                    target=f"import:{plan.vendor}",
                    now=self.runtime.clock.now(),
                    details={a: report.count(a) for a in ("create", "update", "skip")},
                )
        return report

    def _plan_step(self, step: _Step, links: dict[tuple[str, str], str]) -> ImportAction:
        def act(action: Action, why: str = "") -> ImportAction:
            return ImportAction(
                kind=step.kind, name=step.name, vendor_id=step.vendor_id, action=action, why=why
            )

        digest = links.get((step.kind, step.vendor_id))
        if digest is None:
            if step.kind != "override" and self._exists(step.kind, step.name):
                what = step.kind.replace("_", " ")
                return act("skip", f"a {what} named {step.name!r} exists and was not imported")
            return act("create")
        if digest == step.digest or step.change is None:
            return act("unchanged")
        return act("update")

    def _exists(self, kind: str, name: str) -> bool:
        try:
            if kind == "integration":
                self.runtime.alerts.integration(name)
            elif kind != "service":  # a service's mapping is set, never "created"
                self.runtime.oncall.show(kind, name)
            else:
                return False
        except NotFound:
            return False
        return True

    def _links(self, vendor: str) -> dict[tuple[str, str], str]:
        """(kind, vendor id) -> digest of what was imported last."""
        with self.runtime.db.read() as conn:
            rows = conn.execute(select(import_links).where(import_links.c.vendor == vendor)).all()
        return {(r.kind, r.vendor_id): r.digest for r in rows}

    def _link(self, vendor: str, step: _Step, *, update: bool) -> None:
        values = {"name": step.name, "digest": step.digest, "imported_at": self.runtime.clock.now()}
        key = (
            (import_links.c.vendor == vendor)
            & (import_links.c.kind == step.kind)
            & (import_links.c.vendor_id == step.vendor_id)
        )
        with self.runtime.db.write() as conn:
            if update:
                conn.execute(sa_update(import_links).where(key).values(**values))
            else:
                conn.execute(
                    insert(import_links).values(
                        vendor=vendor, kind=step.kind, vendor_id=step.vendor_id, **values
                    )
                )


@dataclass(frozen=True)
class _Step:
    kind: Kind
    vendor_id: str
    name: str
    digest: str
    create: Callable[[], object]
    change: Callable[[], object] | None  # None: imported once, never updated (overrides)


def _steps(runtime: Runtime, principal: Principal, plan: ImportPlan) -> list[_Step]:
    oncall = runtime.oncall
    steps: list[_Step] = []
    for person in plan.people:
        p = person.person
        steps.append(
            _Step(
                "person",
                person.vendor_id,
                p.name,
                _digest(p),
                partial(oncall.create_person, principal, p),
                partial(
                    oncall.update_person,
                    principal,
                    p.name,
                    models.PersonPatch(**p.model_dump(exclude={"name"})),
                ),
            )
        )
    for team in plan.teams:
        t = team.team
        steps.append(
            _Step(
                "team",
                team.vendor_id,
                t.name,
                _digest(t),
                partial(oncall.create_team, principal, t),
                partial(
                    oncall.update_team,
                    principal,
                    t.name,
                    models.TeamPatch(members=t.members, manager=t.manager),
                ),
            )
        )
    for schedule in plan.schedules:
        s = schedule.schedule
        steps.append(
            _Step(
                "schedule",
                schedule.vendor_id,
                s.name,
                _digest(s),
                partial(oncall.create_schedule, principal, s),
                partial(
                    oncall.update_schedule,
                    principal,
                    s.name,
                    models.SchedulePatch(
                        description=s.description, timezone=s.timezone, layers=s.layers
                    ),
                ),
            )
        )
        for override in schedule.overrides:
            o = override.override
            steps.append(
                _Step(
                    "override",
                    override.vendor_id,
                    f"{s.name}: {o.user} from {o.start:%Y-%m-%d %H:%M}",
                    _digest(o),
                    partial(oncall.add_override, principal, s.name, o),
                    None,
                )
            )
    for policy in plan.escalation_policies:
        e = policy.policy
        steps.append(
            _Step(
                "escalation_policy",
                policy.vendor_id,
                e.name,
                _digest(e),
                partial(oncall.create_policy, principal, e),
                partial(
                    oncall.update_policy,
                    principal,
                    e.name,
                    models.EscalationPolicyPatch(
                        description=e.description, levels=e.levels, repeat=e.repeat
                    ),
                ),
            )
        )
    # Services last: the policies they page through exist by then.
    policies = {p.policy.name for p in plan.escalation_policies}
    for service in plan.services:
        if service.escalation_policy in policies:
            steps.append(
                _Step(
                    "service",
                    service.vendor_id,
                    service.name,
                    _digest(service),
                    partial(
                        runtime.oncall.escalation.set_service_policy,
                        principal,
                        service.name,
                        service.escalation_policy,
                    ),
                    partial(
                        runtime.oncall.escalation.set_service_policy,
                        principal,
                        service.name,
                        service.escalation_policy,
                    ),
                )
            )
        for routing in service.routing_keys:
            steps.append(
                _Step(
                    "integration",
                    routing.vendor_id,
                    routing.name,
                    _digest(routing),
                    partial(
                        runtime.alerts.create_integration,
                        principal,
                        routing.name,
                        "pagerduty",
                        {"service": service.name},
                        routing.key,
                    ),
                    None,
                )
            )
    return steps
