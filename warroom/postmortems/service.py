"""Post-mortem and action item use cases. Each write runs in one transaction.

The post-mortem's owner, due date and publication live on the incident timeline
(`postmortem_scheduled`, `postmortem_published`), so the lifecycle's close guard reads them from
the incident state; the document itself (Markdown source, review status) is a row here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from warroom.core import outbox, tables
from warroom.core.actors import actor_name, is_agent, is_system, person_of
from warroom.core.auth import Principal
from warroom.core.clock import Clock, ensure_utc
from warroom.core.clock import iso as _iso
from warroom.core.db import Database
from warroom.core.errors import Conflict, InvalidInput, NotFound
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.service import IncidentService
from warroom.policy import Policy
from warroom.postmortems import draft
from warroom.postmortems.config import PostmortemsConfig
from warroom.postmortems.schemas import ActionItemIn, ActionItemPatch, ListActions, MeetingIn
from warroom.postmortems.tables import action_items, postmortems

DRAFT, IN_REVIEW, PUBLISHED = "draft", "in_review", "published"
OPEN_STATUSES = ("open", "in_progress")
ITEM_STATUSES = ("open", "in_progress", "done", "wont_do")
ITEM_TYPES = ("prevent", "mitigate", "detect", "process")
MAX_BODY = 200_000
MAX_SECTION = 100_000
SYNC_KIND = "action_item_sync"
# A post-mortem or an action item due within this long is "due soon" (listed first).
DUE_SOON = timedelta(days=3)


class _IncidentRow(NamedTuple):
    id: int
    public_id: str
    state: dict[str, Any]


def _incident_row(conn: Connection, public_id: str, *, lock: bool = False) -> Any:
    i = tables.incidents
    query = select(i.c.id, i.c.public_id, i.c.state).where(
        i.c.public_id == public_id.strip().upper()
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no incident {public_id}")
    return row


def load_events(conn: Connection, incident_id: int) -> list[Event]:
    e = tables.events
    rows = conn.execute(select(e).where(e.c.incident_id == incident_id).order_by(e.c.seq)).all()
    events = [
        Event(
            type=r.type,
            actor=r.actor,
            occurred_at=r.occurred_at,
            data=r.data,
            recorded_at=r.recorded_at,
            seq=r.seq,
        )
        for r in rows
    ]
    events.sort(key=lambda ev: (ev.occurred_at, ev.seq or 0))
    return events


def _parse(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    return ensure_utc(datetime.fromisoformat(str(value)))


def item_lines(conn: Connection, incident_id: int) -> list[draft.ActionItemLine]:
    a = action_items
    rows = conn.execute(select(a).where(a.c.incident_id == incident_id).order_by(a.c.id)).all()
    return [
        draft.ActionItemLine(r.id, r.title, r.owner, r.due_at, r.priority, r.type, r.status)
        for r in rows
    ]


class PostmortemService:
    """The only writer of post-mortem documents."""

    @staticmethod
    def action_item_stats(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
        """Action-item figures for the metrics package (see the module function)."""
        return action_item_stats(conn, since, until)

    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        incidents: IncidentService,
        config: PostmortemsConfig,
        people: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.incidents = incidents
        self.config = config
        # The directory's display names (name → display name), for showing people.
        self.people = people or dict
        self.after_publish: list[Callable[[str], None]] = []

    def display_names(self) -> Mapping[str, str]:
        """Name → display name of the people the directory knows (empty when none)."""
        return self.people()

    def namer(self, names: Mapping[str, str] | None = None) -> draft.Namer:
        """How the post-mortem shows an actor or a typed name: one identity per person."""
        known = self.display_names() if names is None else names

        def name(actor: str) -> str:
            return actor_name(actor, known)

        return name

    # ---- reads -------------------------------------------------------------------------

    def get(self, public_id: str, *, document: bool = True) -> dict[str, Any]:
        """The post-mortem, its document rendered from the incident as it is now (owner, due
        date, action items, timeline, responders) around the sections people wrote.

        `document=False` leaves the document out (a status panel that needs only the facts)."""
        with self.db.read() as conn:
            incident = _incident_row(conn, public_id)
            row = conn.execute(
                select(postmortems).where(postmortems.c.incident_id == incident.id)
            ).first()
            if row is None:
                state = IncidentState.from_dict(incident.state)
                level = self.policy.severity(state.severity)
                raise NotFound(
                    f"{incident.public_id} has no post-mortem yet ({level.id}: "
                    f"{level.postmortem.requirement}); it is created when the incident is "
                    "resolved, or on demand with "
                    f"POST /api/v1/incidents/{incident.public_id}/postmortem",
                    code="no_postmortem",
                )
            body = self._document(conn, incident, row) if document else None
        return self._view(row, IncidentState.from_dict(incident.state), body)

    def list(self, status: str | None = None, *, with_body: bool = False) -> list[dict[str, Any]]:
        """Post-mortems by id; their documents (`body`) only when asked (exports)."""
        p, i = postmortems, tables.incidents
        query = (
            select(p, i.c.state, i.c.id.label("incident_row_id"))
            .join(i, i.c.id == p.c.incident_id)
            .order_by(p.c.id)
        )
        if status:
            if status not in (DRAFT, IN_REVIEW, PUBLISHED):
                raise InvalidInput("status must be draft, in_review or published")
            query = query.where(p.c.status == status)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
            names = self.display_names()
            views = []
            for r in rows:
                incident = _IncidentRow(r.incident_row_id, r.public_id, r.state)
                body = self._document(conn, incident, r, names) if with_body else None
                views.append(self._view(r, IncidentState.from_dict(r.state), body))
        return views

    def _view(self, row: Row[Any], state: IncidentState, body: str | None) -> dict[str, Any]:
        pm = state.postmortem or {}
        due = _parse(pm.get("due_at"))
        now = self.clock.now()
        view: dict[str, Any] = {
            "incident": row.public_id,
            "title": state.title,
            "severity": state.severity,
            "services": list(state.services),
            "status": row.status,
            "requirement": row.requirement,
            "owner": pm.get("owner"),
            # The owner as the post-mortem shows people (their directory display name).
            "owner_name": actor_name(str(pm["owner"]), self.display_names())
            if pm.get("owner")
            else None,
            "due_at": _iso(due),
            "overdue": bool(due and row.status != PUBLISHED and now > due),
            "due_soon": bool(due and row.status != PUBLISHED and now <= due <= now + DUE_SOON),
            "root_cause_category": row.root_cause_category,
            "version": row.version,
            "reviewers": list(row.reviewers or []),
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "submitted_at": _iso(row.submitted_at),
            "published_at": _iso(row.published_at),
            "resolved_at": _iso(state.resolved_at),
        }
        if body is not None:
            sections = self.policy.postmortem_template.sections
            view["body"] = body
            view["generated_sections"] = draft.generated_headings(body, sections)
            view["incomplete"] = (
                draft.unfilled(body, self.policy.postmortem_template.required)
                if row.status != PUBLISHED
                else []
            )
            view["warnings"] = draft.blame_warnings(body)
        return view

    def _render(
        self,
        conn: Connection,
        incident: Any,
        requirement: str,
        names: Mapping[str, str] | None = None,
    ) -> str:
        """The document as the incident's record writes it now (people's sections as prompts)."""
        state = IncidentState.from_dict(incident.state)
        pm = state.postmortem or {}
        events = load_events(conn, int(incident.id))
        return draft.render(
            state,
            events,
            owner=pm.get("owner"),
            due_at=_parse(pm.get("due_at")),
            requirement=requirement,
            action_items=item_lines(conn, int(incident.id)),
            mttr_from=self.policy.mttr_from,
            human_sections=self.policy.postmortem_template.sections,
            sla_impact=self.sla_impact(state),
            meeting=latest_meeting(events),
            name=self.namer(names),
        )

    def _document(
        self,
        conn: Connection,
        incident: Any,
        row: Row[Any],
        names: Mapping[str, str] | None = None,
    ) -> str:
        """The document: what the record says now, around the sections people wrote."""
        fresh = self._render(conn, incident, row.requirement, names)
        return draft.merge_human_sections(fresh, row.body, self.policy.postmortem_template.sections)

    # ---- writes ------------------------------------------------------------------------

    def ensure(
        self, principal: Principal, public_id: str, *, on_demand: bool = False
    ) -> dict[str, Any] | None:
        """Create the post-mortem if the policy asks for one (or on demand); idempotent.

        Called when an incident is resolved (from the resolve use case's after-commit hook and,
        as a crash-safe backstop, from an outbox effect). Returns None when none is needed.
        """
        if on_demand:
            principal.require("responder")
        with self.db.write() as conn:
            created = self.ensure_in(conn, principal.actor, public_id, on_demand=on_demand)
        if created is None:
            return None
        return self.get(public_id)

    def ensure_in(
        self, conn: Connection, actor: str, public_id: str, *, on_demand: bool = False
    ) -> int | None:
        incident = _incident_row(conn, public_id, lock=True)
        existing = conn.execute(
            select(postmortems.c.id).where(postmortems.c.incident_id == incident.id)
        ).first()
        if existing is not None:
            return int(existing.id)
        state = IncidentState.from_dict(incident.state)
        level = self.policy.severity(state.severity)
        requirement = level.postmortem.requirement
        if not on_demand and (requirement == "optional" or state.resolved_at is None):
            return None
        now = self.clock.now()
        events = load_events(conn, int(incident.id))
        scheduled = dict(state.postmortem or {})
        owner = scheduled.get("owner") or state.roles.get("commander") or _resolver(events, actor)
        owner = owner if is_agent(owner) else person_of(owner)
        due_at = _parse(scheduled.get("due_at")) or (state.resolved_at or now) + (
            level.postmortem.due_within or self.config.default_due
        )
        body = draft.render(
            state,
            events,
            owner=owner,
            due_at=due_at,
            requirement=requirement,
            action_items=item_lines(conn, int(incident.id)),
            mttr_from=self.policy.mttr_from,
            human_sections=self.policy.postmortem_template.sections,
            sla_impact=self.sla_impact(state),
            meeting=latest_meeting(events),
            name=self.namer(),
        )
        result = conn.execute(
            insert(postmortems).values(
                incident_id=incident.id,
                public_id=incident.public_id,
                status=DRAFT,
                requirement=requirement,
                body=body,
                version=1,
                created_at=now,
                updated_at=now,
                reviewers=[],
            )
        )
        if not (scheduled.get("owner") and scheduled.get("due_at")):
            data = {
                "owner": owner,
                "due_at": due_at.isoformat(),
                "requirement": requirement,
                "source": "policy",
            }
            self.incidents.mutate_in(
                conn,
                incident.public_id,
                lambda _s, at: [Event("postmortem_scheduled", actor, at, data)],
            )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    def regenerate(self, principal: Principal, public_id: str) -> dict[str, Any]:
        """Store the document as the record writes it now; people's sections are kept.

        Reads already render the recorded facts from the incident as it is, so this only
        refreshes the stored copy (and its version)."""
        principal.require("responder")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id, lock=True)
            row = self._locked(conn, int(incident.id))
            self._editable(row)
            self._save(conn, row, body=self._document(conn, incident, row))
        return self.get(public_id)

    def edit(
        self,
        principal: Principal,
        public_id: str,
        *,
        body: str | None,
        version: int | None,
        root_cause_category: str | None = None,
    ) -> dict[str, Any]:
        principal.require("responder")
        if body is not None and len(body) > MAX_BODY:
            raise InvalidInput(f"the post-mortem is longer than {MAX_BODY} characters")
        if body is not None and not body.strip():
            raise InvalidInput("the post-mortem body cannot be empty")
        if root_cause_category is not None and (
            root_cause_category not in self.config.root_cause_categories
        ):
            raise InvalidInput(
                f"unknown root-cause category {root_cause_category!r}; choose from "
                + ", ".join(self.config.root_cause_categories)
            )
        if body is None and root_cause_category is None:
            raise InvalidInput("nothing to change: give body and/or root_cause_category")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id, lock=True)
            row = self._locked(conn, int(incident.id))
            self._editable(row)
            if version is not None and version != row.version:
                raise Conflict(
                    f"the post-mortem changed since version {version} (now {row.version}); "
                    "reload it and apply your edit again",
                    code="stale_version",
                    details={"current_version": row.version},
                )
            if body is not None:
                # The recorded facts come from the incident; only people's sections are kept.
                fresh = self._render(conn, incident, row.requirement)
                body = draft.merge_human_sections(
                    fresh, body, self.policy.postmortem_template.sections
                )
            self._save(conn, row, body=body, root_cause_category=root_cause_category)
        return self.get(public_id)

    def edit_section(
        self,
        principal: Principal,
        public_id: str,
        heading: str,
        text: str,
        *,
        version: int | None,
    ) -> dict[str, Any]:
        """Replace the text of one section people write; the others stay as they are."""
        principal.require("responder")
        heading = heading.strip()
        if len(text) > MAX_SECTION:
            raise InvalidInput(f"a section is at most {MAX_SECTION:,} characters")
        current = self.get(public_id)
        generated = {h.lower() for h in current["generated_sections"]}
        if heading.lower() in generated:
            raise InvalidInput(
                f"{heading!r} is written from the incident's record: change it there (the "
                "incident, its action items, the post-mortem's owner or due date)",
                code="generated_section",
            )
        try:
            body = draft.replace_section(current["body"], heading, text)
        except KeyError:
            raise InvalidInput(f"the post-mortem has no section {heading!r}") from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return self.edit(principal, public_id, body=body, version=version)

    def submit(
        self, principal: Principal, public_id: str, reviewers: Sequence[str] = ()
    ) -> dict[str, Any]:
        principal.require("responder")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id, lock=True)
            row = self._locked(conn, int(incident.id))
            if row.status != DRAFT:
                raise Conflict(
                    f"only a draft can be submitted for review (this one is {row.status})",
                    code="illegal_transition",
                )
            self._complete(self._document(conn, incident, row), "submitted")
            now = self.clock.now()
            conn.execute(
                update(postmortems)
                .where(postmortems.c.id == row.id)
                .values(
                    status=IN_REVIEW,
                    submitted_at=now,
                    updated_at=now,
                    reviewers=[r.strip() for r in reviewers if r.strip()],
                    version=row.version + 1,
                )
            )
            self.incidents.mutate_in(
                conn,
                incident.public_id,
                lambda _s, at: [
                    Event(
                        "postmortem_submitted",
                        principal.actor,
                        at,
                        {"reviewers": list(reviewers)},
                    )
                ],
            )
        return self.get(public_id)

    def return_to_draft(self, principal: Principal, public_id: str, reason: str) -> dict[str, Any]:
        principal.require("responder")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id, lock=True)
            row = self._locked(conn, int(incident.id))
            if row.status != IN_REVIEW:
                raise Conflict("only a post-mortem in review can go back to draft")
            self._save(conn, row, status=DRAFT)
            self.incidents.mutate_in(
                conn,
                incident.public_id,
                lambda _s, at: [
                    Event("postmortem_changes_requested", principal.actor, at, {"reason": reason})
                ],
            )
        return self.get(public_id)

    def publish(self, principal: Principal, public_id: str) -> dict[str, Any]:
        principal.require("responder")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id, lock=True)
            row = self._locked(conn, int(incident.id))
            if row.status != IN_REVIEW:
                raise Conflict(
                    f"a post-mortem is published after review: this one is {row.status} "
                    "(submit it first)",
                    code="illegal_transition",
                )
            document = self._document(conn, incident, row)
            self._complete(document, "published")
            now = self.clock.now()
            conn.execute(
                update(postmortems)
                .where(postmortems.c.id == row.id)
                .values(
                    status=PUBLISHED,
                    body=document,  # the text as approved
                    published_at=now,
                    updated_at=now,
                    version=row.version + 1,
                )
            )
            self.incidents.mutate_in(
                conn,
                incident.public_id,
                lambda _s, at: [
                    Event("postmortem_published", principal.actor, at, {"version": row.version + 1})
                ],
            )
        for hook in self.after_publish:
            hook(public_id)
        return self.get(public_id)

    # ---- internals ---------------------------------------------------------------------

    def _locked(self, conn: Connection, incident_id: int) -> Row[Any]:
        query = select(postmortems).where(postmortems.c.incident_id == incident_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound("this incident has no post-mortem yet", code="no_postmortem")
        return row

    def _complete(self, body: str, what: str) -> None:
        """Refuse a post-mortem whose required sections are blank or still placeholders."""
        problems = draft.unfilled(body, self.policy.postmortem_template.required)
        if problems:
            listed = "; ".join(f"{p['section']}: {p['problem']}" for p in problems)
            raise Conflict(
                f"the post-mortem cannot be {what} yet: the template requires {listed}",
                code="postmortem_incomplete",
                details={"sections": problems},
            )

    def sla_impact(self, state: IncidentState) -> str:
        """The incident's targets and whether they were met, for the Impact section."""
        from warroom.incidents.views import incident_view

        targets = incident_view(state, self.policy, self.clock.now())["targets"]
        parts = []
        for name, entry in targets.items():
            if "due_at" not in entry:
                parts.append(f"{name} target {entry['label']}")
                continue
            verdict = (
                "met" if entry.get("met") else "missed" if entry.get("met") is False else "pending"
            )
            parts.append(f"{name} target ({entry['label']}) {verdict}")
        return "; ".join(parts)

    # ---- the review meeting ------------------------------------------------------------

    def schedule_meeting(
        self, principal: Principal, public_id: str, request: MeetingIn
    ) -> dict[str, Any]:
        """Record the review meeting on the timeline and fill the Review meeting section."""
        principal.require("responder")
        now = self.clock.now()
        if request.starts_at <= now:
            raise InvalidInput("the review meeting must start in the future")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id, lock=True)
            row = self._locked(conn, int(incident.id))
            previous = [e for e in load_events(conn, int(incident.id)) if e.type == MEETING_EVENT]
            data = {
                "starts_at": request.starts_at.isoformat(),
                "duration_seconds": int(request.duration.total_seconds()),
                "facilitator": request.facilitator,
                "attendees": list(request.attendees),
                "location": request.location,
                "sequence": len(previous),
            }
            self.incidents.mutate_in(
                conn,
                incident.public_id,
                lambda _s, at: [Event(MEETING_EVENT, principal.actor, at, data)],
            )
            if row.status != PUBLISHED:
                meeting = meeting_of(data)
                with suppress(KeyError):
                    body = draft.replace_section(
                        row.body, draft.REVIEW_MEETING, draft.review_meeting_text(meeting)
                    )
                    self._save(conn, row, body=body)
        return self.meeting(public_id)

    def meeting(self, public_id: str) -> dict[str, Any]:
        """The scheduled review meeting and its iCalendar invite."""
        with self.db.read() as conn:
            incident = _incident_row(conn, public_id)
            events = load_events(conn, int(incident.id))
        found = [e for e in events if e.type == MEETING_EVENT]
        if not found:
            raise NotFound(
                f"no review meeting is scheduled for {incident.public_id}; schedule one with "
                f"POST /api/v1/incidents/{incident.public_id}/postmortem/meeting",
                code="no_meeting",
            )
        data = dict(found[-1].data)
        state = IncidentState.from_dict(incident.state)
        return {
            "incident": incident.public_id,
            **data,
            "ics": meeting_ics(state, data, self.clock.now()),
        }

    def _editable(self, row: Row[Any]) -> None:
        if row.status == PUBLISHED:
            raise Conflict("a published post-mortem is final and cannot be edited")

    def _save(self, conn: Connection, row: Row[Any], **changes: Any) -> None:
        values = {k: v for k, v in changes.items() if v is not None}
        conn.execute(
            update(postmortems)
            .where(postmortems.c.id == row.id)
            .values(updated_at=self.clock.now(), version=row.version + 1, **values)
        )


MEETING_EVENT = "postmortem_review_scheduled"


def meeting_of(data: Mapping[str, Any]) -> draft.ReviewMeeting:
    return draft.ReviewMeeting(
        starts_at=ensure_utc(datetime.fromisoformat(str(data["starts_at"]))),
        duration=timedelta(seconds=int(data["duration_seconds"])),
        facilitator=str(data["facilitator"]),
        attendees=tuple(str(a) for a in data.get("attendees") or ()),
    )


def latest_meeting(events: Sequence[Event]) -> draft.ReviewMeeting | None:
    found = [e for e in events if e.type == MEETING_EVENT]
    return meeting_of(found[-1].data) if found else None


def meeting_ics(state: IncidentState, data: Mapping[str, Any], now: datetime) -> str:
    """An RFC 5545 invite (METHOD:REQUEST) for the review meeting; the UID is stable per
    incident and SEQUENCE grows with each reschedule, so calendars update the one event."""
    from icalendar import Calendar, vCalAddress, vText
    from icalendar import Event as CalendarEvent

    meeting = meeting_of(data)
    calendar = Calendar()
    calendar.add("prodid", "-//warroom//post-incident review//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = CalendarEvent()
    event.add("uid", f"postmortem-review-{state.public_id}@warroom")
    event.add("sequence", int(data.get("sequence") or 0))
    event.add("dtstamp", now)
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.starts_at + meeting.duration)
    event.add("summary", f"Post-incident review: {state.public_id} {state.title}")
    event.add(
        "description",
        f"Blameless review of {state.public_id} ({state.severity}).\n"
        f"Facilitator: {meeting.facilitator}\n"
        f"Attendees: {', '.join(meeting.attendees)}\n"
        f"Post-mortem: warroom postmortem show {state.public_id}",
    )
    if data.get("location"):
        event.add("location", str(data["location"]))
    for name in (meeting.facilitator, *meeting.attendees):
        if "@" in name:  # a calendar address needs an email; names stay in the description
            address = vCalAddress(f"mailto:{name}")
            address.params["cn"] = vText(name)
            address.params["role"] = vText(
                "CHAIR" if name == meeting.facilitator else "REQ-PARTICIPANT"
            )
            event.add("organizer" if name == meeting.facilitator else "attendee", address)
    calendar.add_component(event)
    text: str = calendar.to_ical().decode("utf-8")
    return text


def _resolver(events: Sequence[Event], fallback: str) -> str:
    for event in reversed(events):
        if event.type == "resolved" and not is_system(event.actor):
            return event.actor
    return fallback


# ---- action items ----------------------------------------------------------------------


def _item_view(row: Row[Any], public_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "incident": public_id,
        "title": row.title,
        "description": row.description,
        "owner": row.owner,
        "due_at": _iso(row.due_at),
        "priority": row.priority,
        "type": row.type,
        "status": row.status,
        "overdue": bool(row.due_at and row.status in OPEN_STATUSES and now > row.due_at),
        "due_soon": bool(
            row.due_at and row.status in OPEN_STATUSES and now <= row.due_at <= now + DUE_SOON
        ),
        "source": row.source,
        "external": dict(row.external or {}),
        "version": row.version,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "done_at": _iso(row.done_at),
    }


class ActionItemService:
    """The only writer of action items; tracker syncs are outbox effects."""

    def __init__(self, db: Database, clock: Clock, config: PostmortemsConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    def trackers(self) -> list[str]:
        return [name for name in ("github", "jira") if getattr(self.config, name) is not None]

    def get(self, item_id: int) -> dict[str, Any]:
        a, i = action_items, tables.incidents
        with self.db.read() as conn:
            row = conn.execute(
                select(a, i.c.public_id.label("incident_public_id"))
                .join(i, i.c.id == a.c.incident_id)
                .where(a.c.id == item_id)
            ).first()
        if row is None:
            raise NotFound(f"no action item {item_id}")
        return _item_view(row, row.incident_public_id, self.clock.now())

    def list(self, flt: ListActions) -> list[dict[str, Any]]:
        a, i = action_items, tables.incidents
        now = self.clock.now()
        conditions: list[ColumnElement[bool]] = []
        if flt.owner:
            conditions.append(a.c.owner == flt.owner)
        if flt.status:
            conditions.append(a.c.status.in_(flt.status))
        if flt.overdue:
            conditions.append(
                and_(a.c.status.in_(OPEN_STATUSES), a.c.due_at.is_not(None), a.c.due_at < now)
            )
        if flt.incident:
            conditions.append(i.c.public_id == flt.incident.strip().upper())
        if flt.after_id is not None:
            conditions.append(a.c.id > flt.after_id)
        query = (
            select(a, i.c.public_id.label("incident_public_id"))
            .join(i, i.c.id == a.c.incident_id)
            .order_by(a.c.id)
            .limit(flt.limit)
        )
        if conditions:
            query = query.where(and_(*conditions))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_item_view(r, r.incident_public_id, now) for r in rows]

    def create(self, principal: Principal, public_id: str, request: ActionItemIn) -> dict[str, Any]:
        principal.require("responder")
        with self.db.write() as conn:
            incident = _incident_row(conn, public_id)
            item_id = self.insert(
                conn,
                int(incident.id),
                request.model_dump(),
                source="manual",
                source_key=None,
            )
        return self.get(item_id)

    def insert(
        self,
        conn: Connection,
        incident_id: int,
        data: Mapping[str, Any],
        *,
        source: str,
        source_key: str | None,
    ) -> int:
        """Insert an item (exactly once per source_key) and plan its tracker syncs.

        Returns the item's id; for a source_key seen before, the existing item's id negated.
        """
        if source_key is not None:
            found = conn.execute(
                select(action_items.c.id).where(action_items.c.source_key == source_key)
            ).first()
            if found is not None:
                return -int(found.id)
        now = self.clock.now()
        result = conn.execute(
            insert(action_items).values(
                incident_id=incident_id,
                title=str(data["title"]),
                description=str(data.get("description") or ""),
                owner=data.get("owner"),
                due_at=data.get("due_at"),
                priority=int(data.get("priority") or 2),
                type=str(data.get("type") or "prevent"),
                status=str(data.get("status") or "open"),
                source=source,
                source_key=source_key,
                external={},
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        item_id = int(result.inserted_primary_key[0])
        self._plan_sync(conn, item_id, incident_id, 1, now)
        return item_id

    def update(self, principal: Principal, item_id: int, patch: ActionItemPatch) -> dict[str, Any]:
        principal.require("responder")
        changes = patch.model_dump(exclude_unset=True)
        if not changes:
            raise InvalidInput(
                "nothing to change: give title, description, owner, due_at, priority, type or "
                "status"
            )
        if "title" in changes and not (changes["title"] or "").strip():
            raise InvalidInput("an action item needs a title")
        if "description" in changes and changes["description"] is None:
            changes["description"] = ""  # no description
        blank = [
            name
            for name in ("priority", "type", "status")
            if name in changes and changes[name] is None
        ]
        if blank:
            raise InvalidInput(f"{', '.join(blank)} cannot be empty")
        with self.db.write() as conn:
            query = select(action_items).where(action_items.c.id == item_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                raise NotFound(f"no action item {item_id}")
            now = self.clock.now()
            status = changes.get("status", row.status)
            if status == "done" and row.status != "done":
                changes["done_at"] = now
            elif status != "done":
                changes["done_at"] = None
            conn.execute(
                update(action_items)
                .where(action_items.c.id == item_id)
                .values(updated_at=now, version=row.version + 1, **changes)
            )
            self._plan_sync(conn, item_id, int(row.incident_id), row.version + 1, now)
        return self.get(item_id)

    def delete(self, principal: Principal, item_id: int) -> None:
        principal.require("responder")
        with self.db.write() as conn:
            result = conn.execute(delete(action_items).where(action_items.c.id == item_id))
            if result.rowcount != 1:
                raise NotFound(f"no action item {item_id}")

    def record_sync(self, item_id: int, tracker: str, entry: Mapping[str, Any]) -> None:
        with self.db.write() as conn:
            row = conn.execute(
                select(action_items.c.external).where(action_items.c.id == item_id)
            ).first()
            if row is None:
                return
            external = dict(row.external or {})
            external[tracker] = {**dict(external.get(tracker) or {}), **dict(entry)}
            conn.execute(
                update(action_items).where(action_items.c.id == item_id).values(external=external)
            )

    def _plan_sync(
        self, conn: Connection, item_id: int, incident_id: int, version: int, now: datetime
    ) -> None:
        effects = [
            outbox.Effect(
                SYNC_KIND,
                {"item_id": item_id, "tracker": tracker, "version": version},
                now,
                incident_id=incident_id,
                dedup_key=f"action-sync:{tracker}:{item_id}:{version}",
            )
            for tracker in self.trackers()
        ]
        if effects:
            outbox.enqueue(conn, effects, now)


def follow_up_key(incident_id: int, event: Event) -> str:
    """The exactly-once key of a follow_up_required event."""
    digest = hashlib.sha256(
        repr((event.occurred_at.isoformat(), sorted(event.data.items()))).encode()
    ).hexdigest()[:24]
    return f"follow-up:{incident_id}:{digest}"


# ---- figures for the metrics package ---------------------------------------------------


def action_item_stats(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
    """Action items created in [since, until): total, done, and overdue as of `until`."""
    a = action_items
    window = and_(a.c.created_at >= since, a.c.created_at < until)
    total = conn.execute(select(func.count()).select_from(a).where(window)).scalar_one()
    done = conn.execute(
        select(func.count()).select_from(a).where(window, a.c.status == "done")
    ).scalar_one()
    overdue = conn.execute(
        select(func.count())
        .select_from(a)
        .where(window, a.c.status.in_(OPEN_STATUSES), a.c.due_at.is_not(None), a.c.due_at < until)
    ).scalar_one()
    return {"total": int(total), "done": int(done), "overdue": int(overdue)}


def postmortem_completion(conn: Connection, since: datetime, until: datetime) -> dict[str, Any]:
    """Post-mortems created in [since, until): how many were required, published, on time."""
    p, i = postmortems, tables.incidents
    rows = conn.execute(
        select(p.c.status, p.c.requirement, p.c.published_at, i.c.state)
        .join(i, i.c.id == p.c.incident_id)
        .where(p.c.created_at >= since, p.c.created_at < until)
    ).all()
    figures: dict[str, Any] = {
        "total": 0,
        "required": 0,
        "published": 0,
        "on_time": 0,
        "overdue": 0,
    }
    for row in rows:
        figures["total"] += 1
        if row.requirement == "required":
            figures["required"] += 1
        due = _parse((row.state.get("postmortem") or {}).get("due_at"))
        if row.status == PUBLISHED:
            figures["published"] += 1
            if due is None or (row.published_at and row.published_at <= due):
                figures["on_time"] += 1
        elif due is not None and until > due:
            figures["overdue"] += 1
    figures["completion_rate"] = (
        round(figures["published"] / figures["total"], 4) if figures["total"] else None
    )
    return figures
