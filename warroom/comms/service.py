"""Publishing status updates and resolution messages.

One transaction per update: the `status_update_published` event (its `next_update_at` is the
promise the on-call reminders hold us to), the public status page update when the audience
includes the public, and one notification per matching stakeholder group, all committed
together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy import select

from warroom.comms import templates
from warroom.comms.config import CommsConfig, StakeholderGroup
from warroom.comms.statuspage import StatusPage
from warroom.comms.updates import (
    UpdateIn,
    audience,
    brief_context,
    clock_text,
    duration_text,
    eta_text,
    impact_for,
    internal_context,
    matching_groups,
    next_update_at,
    public_context,
    public_status,
)
from warroom.core import outbox, tables
from warroom.core.auth import SYSTEM, Principal
from warroom.core.clock import Clock
from warroom.core.db import Database
from warroom.core.errors import NotFound
from warroom.core.guardrails import require_agent_permission
from warroom.core.vocab import Status
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.service import IncidentService
from warroom.notify.effects import notify_effect
from warroom.policy import Policy
from warroom.worker import Outcome

RESOLUTION_KIND = "comms_resolution"
INITIAL_KIND = "comms_initial_update"
INITIAL_ACTION = "Our team is actively working on this issue."


def _group_text(
    group: StakeholderGroup, internal: str, public: str | None, brief: str | None
) -> str:
    if group.format == "brief" and brief:
        return brief
    if group.format == "public":
        return public or ""
    return internal


class CommsService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        config: CommsConfig,
        incidents: IncidentService,
        statuspage: StatusPage,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.config = config
        self.incidents = incidents
        self.statuspage = statuspage

    def _incident_id(self, conn: Any, public_id: str) -> int:
        row = conn.execute(
            select(tables.incidents.c.id).where(
                tables.incidents.c.public_id == public_id.strip().upper()
            )
        ).first()
        if row is None:
            raise NotFound(f"no incident {public_id}")
        return int(row.id)

    def publish(self, principal: Principal, public_id: str, request: UpdateIn) -> dict[str, Any]:
        """Publish one structured update to its audiences."""
        principal.require("responder")
        tpl = self.config.templates
        result: dict[str, Any] = {}
        with self.db.write() as conn:
            incident_id = self._incident_id(conn, public_id)
            if request.components is not None:
                components = self.statuspage.check_components(conn, request.components)
            else:
                components = None

            def build(state: IncidentState, now: datetime) -> list[Event]:
                level = self.policy.severity(state.severity)
                promised = next_update_at(request.next, request.status, level.update_interval, now)
                who = audience(request, self.config, self.policy, state)
                if who.public:
                    # An agent reaches the public status page only if the policy says so.
                    require_agent_permission(
                        principal, self.policy, "may_publish_public", "publish a public update"
                    )
                eta = eta_text(request, self.policy)
                internal = templates.render(
                    "internal", tpl.internal, internal_context(request, state, now, promised, eta)
                )
                slugs = (
                    components
                    if components is not None
                    else self.statuspage.components_for_services(conn, state.services)
                )
                public = None
                if who.public:
                    names = self.statuspage.component_names(conn, slugs)
                    public = templates.render(
                        "public", tpl.public, public_context(request, names, now, promised, eta)
                    )
                brief = None
                if who.brief:
                    brief = templates.render(
                        "brief",
                        tpl.brief,
                        brief_context(request, state, self.policy, now, promised),
                    )
                data: dict[str, Any] = {
                    "status": request.status,
                    "impact": request.impact,
                    "action": request.action,
                    "next_update_at": promised.isoformat() if promised else None,
                    "note": request.note,
                    "cause": request.cause,
                    "eta": request.eta,
                    "business_impact": request.business_impact,
                    "internal": internal,
                    "public": public,
                    "brief": brief,
                    "audience": {
                        "public": who.public,
                        "brief": who.brief,
                        "stakeholders": [g.name for g in who.groups],
                    },
                }
                result.update(data=data, groups=who.groups, slugs=slugs, now=now)
                return [Event("status_update_published", principal.actor, now, data)]

            state = self.incidents.mutate_in(conn, public_id, build)
            data, now = result["data"], result["now"]
            public_code = None
            if data["public"] is not None:
                linked = self.statuspage.linked_public_incident(conn, incident_id)
                names = self.statuspage.component_names(conn, result["slugs"])
                name = request.public_title or (
                    linked.name
                    if linked is not None
                    else "Service disruption" + (f": {', '.join(names)}" if names else "")
                )
                impact = impact_for(self.policy, state, self.config.statuspage.impact_by_rank)
                _, public_code = self.statuspage.post_update(
                    conn,
                    incident_id=incident_id,
                    public_incident_id=None,
                    name=name,
                    status=public_status(request.status),
                    body=data["public"],
                    impact=impact,
                    components=result["slugs"],
                    component_status=request.component_status,
                    now=now,
                )
            effects = [
                notify_effect(
                    urls=list(group.urls),
                    title=f"[{state.severity}] {state.public_id} {request.status}: {state.title}",
                    body=_group_text(group, data["internal"], data["public"], data["brief"]),
                    recipient=f"stakeholders:{group.name}",
                    reason="status_update",
                    due_at=now,
                    incident=state.public_id,
                    incident_id=incident_id,
                    dedup_key=f"comms:update:{incident_id}:{state.event_count}:{group.name}",
                )
                for group in result["groups"]
            ]
            outbox.enqueue(conn, effects, now)
        self.statuspage.touch()  # again after commit: drop anything cached meanwhile
        return {
            "incident": state.public_id,
            **data,
            "last_update_at": state.last_update_at.isoformat() if state.last_update_at else None,
            "public_incident": public_code,
        }

    def preview(self, public_id: str, request: UpdateIn) -> dict[str, Any]:
        """Render the texts without publishing anything."""
        state = self.incidents.get(public_id)
        now = self.clock.now()
        level = self.policy.severity(state.severity)
        promised = next_update_at(request.next, request.status, level.update_interval, now)
        who = audience(request, self.config, self.policy, state)
        tpl = self.config.templates
        eta = eta_text(request, self.policy)
        with self.db.read() as conn:
            slugs = request.components or self.statuspage.components_for_services(
                conn, state.services
            )
            names = self.statuspage.component_names(conn, slugs)
        return {
            "internal": templates.render(
                "internal", tpl.internal, internal_context(request, state, now, promised, eta)
            ),
            "public": templates.render(
                "public", tpl.public, public_context(request, names, now, promised, eta)
            )
            if who.public
            else None,
            "brief": templates.render(
                "brief", tpl.brief, brief_context(request, state, self.policy, now, promised)
            )
            if who.brief
            else None,
            "next_update_at": promised.isoformat() if promised else None,
            "audience": {
                "public": who.public,
                "brief": who.brief,
                "stakeholders": [g.name for g in who.groups],
            },
        }

    def updates(self, public_id: str) -> list[dict[str, Any]]:
        return [
            {"occurred_at": e.occurred_at.isoformat(), "actor": e.actor, **dict(e.data)}
            for e in self.incidents.timeline(public_id, types=("status_update_published",))
        ]

    # ---- resolution ----------------------------------------------------------------------

    # ---- the initial update at declaration -------------------------------------------------

    def initial_mode(self, severity: str) -> str | None:
        """`publish`, `draft` or None: what the policy says about the first update."""
        rules = self.policy.communications
        level = self.policy.severity(severity).id
        if level in {self.policy.severity(s).id for s in rules.initial_update_publish}:
            return "publish"
        if level in {self.policy.severity(s).id for s in rules.initial_update_draft}:
            return "draft"
        return None

    def initial_update(self, public_id: str) -> UpdateIn:
        """The "Investigating" update the process sends first, from what is known so far."""
        state = self.incidents.get(public_id)
        with self.db.read() as conn:
            names = self.statuspage.component_names(
                conn, self.statuspage.components_for_services(conn, state.services)
            )
        affected = ", ".join(names) or "our service"
        if len(affected) > 250:  # many components: the public title stays short
            affected = "several of our services"
        return UpdateIn(
            status="investigating",
            impact=f"We are investigating reports of {state.title}"[:2000],
            action=INITIAL_ACTION,
            public_impact=f"We are investigating reports of problems with {affected}",
            public_title=f"{affected} experiencing problems",
        )

    def draft_initial(self, public_id: str) -> dict[str, Any]:
        """The drafted initial update, as `preview` renders it (nothing is sent)."""
        request = self.initial_update(public_id)
        return {"update": request.model_dump(exclude_none=True), **self.preview(public_id, request)}

    def handle_initial(self, effect: outbox.ClaimedEffect) -> Outcome:
        """Publish the first update, or put the draft on the timeline and prompt for it."""
        public_id = str(effect.payload["incident"])
        try:
            state = self.incidents.get(public_id)
        except NotFound:
            return Outcome(True, "incident gone")
        mode = self.initial_mode(state.severity)
        if not state.is_open or mode is None:
            return Outcome(True, "no initial update needed any more")
        if state.last_update_at is not None:
            return Outcome(True, "an update was already published")
        if mode == "publish":
            self.publish(SYSTEM, public_id, self.initial_update(public_id))
            return Outcome(True, "initial update published")
        drafted = self.draft_initial(public_id)
        prompt = (
            f"Publish the initial update now: warroom update {public_id} --initial "
            "(or edit it: warroom update ... --status investigating)"
        )
        self.incidents.append_events(
            SYSTEM,
            public_id,
            [
                Event(
                    "initial_update_drafted",
                    SYSTEM.actor,
                    self.clock.now(),
                    {"prompt": prompt, **drafted},
                )
            ],
        )
        return Outcome(True, "initial update drafted")

    def react(
        self,
        *,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> list[outbox.Effect]:
        """Plan the initial update at declaration and the resolution message at resolve."""
        declared = any(e.type == "declared" for e in events)
        if declared and self.initial_mode(after.severity) is not None:
            return [
                outbox.Effect(
                    INITIAL_KIND,
                    {"incident": after.public_id},
                    now,
                    incident_id=incident_id,
                    dedup_key=f"comms:initial:{incident_id}",
                )
            ]
        if not any(e.type == "resolved" for e in events):
            return []
        return [
            outbox.Effect(
                RESOLUTION_KIND,
                {"incident": after.public_id},
                now,
                incident_id=incident_id,
                dedup_key=f"comms:resolution:{incident_id}:{after.reopen_count}",
            )
        ]

    def resolution_context(self, state: IncidentState, events: Sequence[Event]) -> dict[str, Any]:
        updates = [e for e in events if e.type == "status_update_published"]
        latest = updates[-1].data if updates else {}
        causes = [e.data.get("cause") for e in updates if e.data.get("cause")]
        end = state.resolved_at or self.clock.now()
        postmortem = "not required"
        if state.postmortem and state.postmortem.get("due_at"):
            due = datetime.fromisoformat(str(state.postmortem["due_at"]))
            postmortem = f"scheduled, due {clock_text(due)}"
            if state.postmortem.get("owner"):
                postmortem += f" (owner {state.postmortem['owner']})"
        else:
            rule = self.policy.severity(state.severity).postmortem
            if rule.requirement != "optional" and rule.due_within is not None:
                postmortem = f"{rule.requirement}, due by {clock_text(end + rule.due_within)}"
            elif rule.requirement != "optional":
                postmortem = rule.requirement
        return {
            "incident": {
                "id": state.public_id,
                "severity": state.severity,
                "title": state.title,
                "type": state.type,
            },
            "services": ", ".join(state.services),
            "duration": duration_text(state.started_at, end),
            "impact": str(latest.get("impact") or ""),
            "fix": state.resolution_summary or "",
            "root_cause": str(causes[-1]) if causes else "",
            "postmortem": postmortem,
            "resolved_at": end.isoformat(),
        }

    def handle_resolution(self, effect: outbox.ClaimedEffect) -> Outcome:
        """Send the resolution message to stakeholders and resolve the public incident."""
        public_id = str(effect.payload["incident"])
        try:
            state = self.incidents.get(public_id)
        except NotFound:
            return Outcome(True, "incident gone")
        if state.status not in (Status.RESOLVED, Status.CLOSED):
            return Outcome(True, "reopened before the message went out")
        events = self.incidents.timeline(public_id)
        context = self.resolution_context(state, events)
        text = templates.render("resolution", self.config.templates.resolution, context)
        now = self.clock.now()
        groups = matching_groups(self.config, self.policy, state, purpose="resolution")
        with self.db.write() as conn:
            incident_id = self._incident_id(conn, public_id)
            key = f"{incident_id}:{state.reopen_count}"
            linked = self.statuspage.linked_public_incident(conn, incident_id)
            public_text = None
            disclosed = ""
            if linked is not None and linked.resolved_at is None:
                names = self.statuspage.component_names(conn, linked.components)
                # Only with the explicit policy option: causes are written for responders.
                if self.policy.communications.root_cause_in_public_resolution:
                    disclosed = context["root_cause"]
                public_text = templates.render(
                    "public_resolution",
                    self.config.templates.public_resolution,
                    {
                        "components": ", ".join(names),
                        "many": len(names) > 1,
                        "duration": context["duration"],
                        "root_cause": disclosed,
                    },
                )
                self.statuspage.post_update(
                    conn,
                    incident_id=incident_id,
                    public_incident_id=int(linked.id),
                    name=linked.name,
                    status="resolved",
                    body=public_text,
                    impact=linked.impact,
                    components=linked.components,
                    component_status=linked.component_status,
                    now=now,
                )
            effects = [
                notify_effect(
                    urls=list(group.urls),
                    title=f"[{state.severity}] {state.public_id} resolved: {state.title}",
                    body=(public_text or "") if group.format == "public" else text,
                    recipient=f"stakeholders:{group.name}",
                    reason="resolution",
                    due_at=now,
                    incident=state.public_id,
                    incident_id=incident_id,
                    dedup_key=f"comms:resolution:{key}:{group.name}",
                )
                for group in groups
                if group.format != "public" or public_text
            ]
            outbox.enqueue(conn, effects, now)
        self.statuspage.touch()
        recorded = [
            Event(
                "resolution_message_sent",
                SYSTEM.actor,
                now,
                {
                    "stakeholders": [g.name for g in groups],
                    "public": public_text is not None,
                    "text": text,
                },
            )
        ]
        if disclosed:
            recorded.append(
                Event(
                    "root_cause_made_public",
                    SYSTEM.actor,
                    now,
                    {
                        "root_cause": disclosed,
                        "policy": "communications.root_cause_in_public_resolution",
                        "public_text": public_text,
                    },
                )
            )
        with suppress(NotFound):
            self.incidents.append_events(SYSTEM, public_id, recorded)
        return Outcome(True, f"resolution sent to {len(effects)} group(s)")
