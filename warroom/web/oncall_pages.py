"""On-call editing in the browser: escalation policies, schedules (layers, overrides, swaps),
people and teams.

Every write goes through `OncallService` with the logged-in principal (the service checks the
scope; a viewer's forged post is refused with 403). A form is first read into a *draft* (plain
strings, what the person typed), then validated into the service's input model; on any refusal
the page is shown again from the draft with the reason, and nothing was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from warroom.core.auth import Principal
from warroom.core.errors import Conflict, InvalidInput, NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.policy.schema import normalise_severity
from warroom.web import calendar, pages
from warroom.web.pages import PageRuntime, PageSession, render

router = APIRouter(include_in_schema=False)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNITS = ("hours", "days", "weeks")
MODES = (("all", "notify all"), ("round_robin", "round robin"))
MAX_ROWS = 20
UPCOMING = timedelta(days=14)
CALENDAR_DAYS = 14


def _oncall(runtime: Runtime) -> Any:
    service = runtime.oncall
    return service


# Input model lists -> the form's repeated rows (`level-0-...`): an error in a row is shown
# beside that row.
_ROW_FIELDS = {"levels": "level", "layers": "layer", "contact_methods": "cm"}


def invalid(exc: ValidationError) -> InvalidInput:
    """The first validation problem, said so a person can fix the form, beside its field."""
    errors = exc.errors()
    if not errors:
        return InvalidInput("invalid input")
    first = errors[0]
    loc = [p for p in first.get("loc", ()) if p != "__root__"]
    where = ".".join(str(p) for p in loc)
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    text = f"{where}: {message}" if where else message
    head = str(loc[0]) if loc else ""
    if head in _ROW_FIELDS and len(loc) > 1 and isinstance(loc[1], int):
        return pages.field_invalid(f"{_ROW_FIELDS[head]}-{loc[1]}", text)
    return pages.field_invalid(head, text) if head else InvalidInput(text)


def _text(form: Any, key: str, limit: int = 4000) -> str:
    return str(form.get(key) or "").strip()[:limit]


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]


def _rows(form: Any, prefix: str) -> list[int]:
    """The row indexes a repeated group of fields posted (`level-0-...`, `level-1-...`)."""
    found = set()
    pattern = re.compile(rf"^{prefix}-(\d+)-")
    for key in form:
        match = pattern.match(key)
        if match and int(match.group(1)) < MAX_ROWS:
            found.add(int(match.group(1)))
    return sorted(found)


def _pad(rows: list[dict[str, Any]], blank: dict[str, Any], minimum: int, extra: int = 1) -> Any:
    return rows + [dict(blank) for _ in range(max(minimum - len(rows), extra))]


def _people(runtime: Runtime) -> list[str]:
    return [p["name"] for p in _oncall(runtime).list_items("person")]


def _targets(runtime: Runtime) -> list[str]:
    oncall = _oncall(runtime)
    return [
        f"{kind}:{item['name']}"
        for kind in ("schedule", "team", "person")
        for item in oncall.list_items(kind)
    ]


def _confirmed(form: Any) -> None:
    if form.get("confirm") != "yes":
        raise pages.field_invalid("confirm", "tick the box to confirm the deletion")


async def _submit(
    request: Request,
    session: Any,
    action: Callable[[Principal, Any], str],
    failed: Callable[[Any], tuple[str, dict[str, Any]]],
    *,
    field: str | None = None,
) -> Response:
    """Run a write from a form: redirect to what it returns, or show the form again with what
    was typed and the reason beside its field (`field`: for a reason that names none)."""
    form = await request.form()

    def run() -> str:
        principal = pages.form_principal(session, form)
        principal.require("responder")
        try:
            return action(principal, form)
        except ValidationError as exc:
            raise invalid(exc) from exc

    try:
        target = await run_in_threadpool(run)
    except WarroomError as exc:
        template, context = await run_in_threadpool(failed, form)
        context = {**context, **pages.refused(exc, form)}
        if context["error_field"] is None:
            # A duplicate name is said beside the name; other reasons beside `field`.
            context["error_field"] = "name" if exc.code == "exists" else field
        return render(request, template, context, status_code=exc.status_code, session=session)
    return RedirectResponse(target, status_code=303)


# ---- escalation policies ---------------------------------------------------------------

BLANK_LEVEL = {"delay_minutes": "", "targets": "", "mode": "all"}


def policy_draft(policy: dict[str, Any] | None) -> dict[str, Any]:
    if policy is None:
        return {"name": "", "description": "", "repeat": "0", "levels": _pad([], BLANK_LEVEL, 3)}
    levels = [
        {
            "delay_minutes": str(level.get("delay_minutes", 0)),
            "targets": ", ".join(level.get("targets", [])),
            "mode": level.get("mode", "all"),
        }
        for level in policy.get("levels", [])
    ]
    return {
        "name": policy["name"],
        "description": policy.get("description", ""),
        "repeat": str(policy.get("repeat", 0)),
        "levels": _pad(levels, BLANK_LEVEL, 3),
    }


def policy_draft_from(form: Any) -> dict[str, Any]:
    levels = []
    for n in _rows(form, "level"):
        row = {
            "delay_minutes": _text(form, f"level-{n}-delay", 10),
            "targets": _text(form, f"level-{n}-targets"),
            "mode": _text(form, f"level-{n}-mode", 20) or "all",
        }
        levels.append(row)
    return {
        "name": _text(form, "name", 80),
        "description": _text(form, "description", 2000),
        "repeat": _text(form, "repeat", 10) or "0",
        "levels": levels,
    }


def policy_body(draft: dict[str, Any]) -> dict[str, Any]:
    """The service's input from a draft; rows with no targets and no delay are left out."""
    levels = []
    for n, row in enumerate(draft["levels"]):
        if not row["targets"] and not row["delay_minutes"]:
            continue
        if not row["targets"]:
            raise pages.field_invalid(f"level-{n}", f"level {n + 1}: name at least one target")
        level: dict[str, Any] = {"targets": _split(row["targets"]), "mode": row["mode"]}
        if row["delay_minutes"]:
            level["delay_minutes"] = row["delay_minutes"]
        levels.append(level)
    if not levels:
        raise pages.field_invalid(
            "level-0", "an escalation policy needs at least one level with targets"
        )
    return {"description": draft["description"], "levels": levels, "repeat": draft["repeat"]}


def _find_policy(runtime: Runtime, name: str) -> dict[str, Any]:
    found = [p for p in _oncall(runtime).list_policies() if p["name"] == name]
    if not found:
        raise NotFound(f"no escalation policy {name!r}")
    return dict(found[0])


def _editable(runtime: Runtime, name: str) -> None:
    if _find_policy(runtime, name).get("source") == "config":
        raise Conflict(f"{name} is defined in the config file; change it there", code="read_only")


def _services_using(runtime: Runtime, policy: str) -> list[str]:
    return [s.name for s in runtime.config.services if s.escalation_policy == policy]


def policy_form_context(
    runtime: Runtime, draft: dict[str, Any], policy: dict[str, Any] | None
) -> dict[str, Any]:
    draft = {**draft, "levels": _pad(list(draft["levels"]), BLANK_LEVEL, 3)}
    return {
        "draft": draft,
        "policy": policy,
        "modes": MODES,
        "known_targets": _targets(runtime),
        "used_by": _services_using(runtime, policy["name"]) if policy else [],
        # schedule:NAME -> who it pages right now (None: nobody, a gap)
        "paged_now": {
            f"schedule:{row['schedule']}": row["person"]
            for row in _oncall(runtime).who_is_on_call()
        }
        if policy
        else {},
    }


@router.get("/oncall/policies")
def policies_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    context = {"policies": _oncall(runtime).list_policies()}
    return render(request, "oncall_policies.html", context, session=session)


@router.get("/oncall/policies/new")
def policy_new(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    pages.require_scope(session, "responder")
    context = policy_form_context(runtime, policy_draft(None), None)
    return render(request, "oncall_policy.html", context, session=session)


@router.post("/oncall/policies")
async def policy_create(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    from warroom.oncall.models import EscalationPolicyIn

    def action(principal: Principal, form: Any) -> str:
        draft = policy_draft_from(form)
        body = EscalationPolicyIn.model_validate({"name": draft["name"], **policy_body(draft)})
        _oncall(runtime).create_policy(principal, body)
        return f"/oncall/policies/{body.name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_policy.html", policy_form_context(runtime, policy_draft_from(form), None)

    return await _submit(request, session, action, failed)


@router.get("/oncall/policies/{name}")
def policy_page(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> HTMLResponse:
    policy = _find_policy(runtime, name)
    context = policy_form_context(runtime, policy_draft(policy), policy)
    return render(request, "oncall_policy.html", context, session=session)


@router.post("/oncall/policies/{name}")
async def policy_update(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    from warroom.oncall.models import EscalationPolicyPatch

    def action(principal: Principal, form: Any) -> str:
        _editable(runtime, name)
        body = EscalationPolicyPatch.model_validate(policy_body(policy_draft_from(form)))
        _oncall(runtime).update_policy(principal, name, body)
        return f"/oncall/policies/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        policy = _find_policy(runtime, name)
        draft = {**policy_draft_from(form), "name": name}
        return "oncall_policy.html", policy_form_context(runtime, draft, policy)

    return await _submit(request, session, action, failed)


@router.post("/oncall/policies/{name}/delete")
async def policy_delete(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    def action(principal: Principal, form: Any) -> str:
        used = _services_using(runtime, name)
        if used:
            raise InvalidInput(f"services still use this policy: {', '.join(used)}")
        _editable(runtime, name)
        _confirmed(form)
        _oncall(runtime).delete(principal, "escalation_policy", name)
        return "/oncall/policies"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        policy = _find_policy(runtime, name)
        return "oncall_policy.html", policy_form_context(runtime, policy_draft(policy), policy)

    return await _submit(request, session, action, failed)


# ---- schedules -----------------------------------------------------------------------------

BLANK_LAYER = {
    "name": "",
    "users": "",
    "start": "",
    "shift_length": "1",
    "shift_unit": "weeks",
    "restrictions": "",
}
_TIMES = re.compile(r"^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$")


def _day_list(spec: str) -> list[str]:
    days: list[str] = []
    for part in [p for p in spec.lower().split(",") if p.strip()]:
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidInput(f"restriction days: {part.strip()!r} is not a day (mon..sun)")
        if not last:
            days.append(first)
            continue
        n = DAYS.index(first)
        while True:
            days.append(DAYS[n])
            if DAYS[n] == last:
                break
            n = (n + 1) % 7
    return [d for d in DAYS if d in days]


def _clock_time(text: str, item: str) -> str:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise InvalidInput(f"restriction {item!r}: {text} is not a time of day")
    return f"{hours:02d}:{minutes:02d}"


def parse_restrictions(text: str) -> list[dict[str, Any]]:
    """`mon-fri 09:00-17:00; sat,sun 10:00-14:00` -> restriction inputs (empty: always)."""
    result = []
    for item in [i.strip() for i in text.split(";") if i.strip()]:
        words = item.split()
        match = _TIMES.match(words[-1]) if words else None
        if match is None:
            raise InvalidInput(
                f"restriction {item!r}: write days then hours, like 'mon-fri 09:00-17:00'"
            )
        days = _day_list(",".join(words[:-1])) or list(DAYS)
        start, end = (_clock_time(match.group(n), item) for n in (1, 2))
        result.append({"days": days, "start": start, "end": end})
    return result


def format_restrictions(restrictions: list[dict[str, Any]]) -> str:
    parts = []
    for r in restrictions:
        chosen = [d for d in DAYS if d in (r.get("days") or DAYS)]
        runs: list[list[str]] = []
        for day in chosen:
            if runs and DAYS.index(runs[-1][-1]) + 1 == DAYS.index(day):
                runs[-1].append(day)
            else:
                runs.append([day])
        days = ",".join(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
        hours = f"{str(r.get('start', '00:00'))[:5]}-{str(r.get('end', '00:00'))[:5]}"
        parts.append(hours if len(chosen) == 7 else f"{days} {hours}")
    return "; ".join(parts)


def schedule_draft(schedule: dict[str, Any] | None) -> dict[str, Any]:
    if schedule is None:
        return {"name": "", "description": "", "timezone": "UTC", "layers": []}
    layers = [
        {
            "name": layer.get("name", ""),
            "users": ", ".join(layer.get("users", [])),
            "start": str(layer.get("start", ""))[:16],
            "shift_length": str(layer.get("shift_length", 1)),
            "shift_unit": layer.get("shift_unit", "weeks"),
            "restrictions": format_restrictions(layer.get("restrictions", [])),
        }
        for layer in schedule.get("layers", [])
    ]
    return {
        "name": schedule["name"],
        "description": schedule.get("description", ""),
        "timezone": schedule.get("timezone", "UTC"),
        "layers": layers,
    }


def schedule_draft_from(form: Any) -> dict[str, Any]:
    layers = [
        {key: _text(form, f"layer-{n}-{key}", 2000) for key in BLANK_LAYER}
        for n in _rows(form, "layer")
    ]
    return {
        "name": _text(form, "name", 80),
        "description": _text(form, "description", 2000),
        "timezone": _text(form, "timezone", 64) or "UTC",
        "layers": layers,
    }


def schedule_body(draft: dict[str, Any]) -> dict[str, Any]:
    layers = []
    for n, row in enumerate(draft["layers"]):
        if not row["users"] and not row["start"]:
            continue
        if not row["users"]:
            raise pages.field_invalid(
                f"layer-{n}", f"layer {n + 1}: name who rotates (people, in order)"
            )
        if not row["start"]:
            raise pages.field_invalid(
                f"layer-{n}", f"layer {n + 1}: give the first handoff (date and time)"
            )
        try:
            restrictions = parse_restrictions(row["restrictions"])
        except InvalidInput as exc:
            raise pages.field_invalid(f"layer-{n}", f"layer {n + 1}: {exc.message}") from None
        layers.append(
            {
                "name": row["name"],
                "users": _split(row["users"]),
                "start": row["start"],
                "shift_length": row["shift_length"] or "1",
                "shift_unit": row["shift_unit"] or "weeks",
                "restrictions": restrictions,
            }
        )
    return {"description": draft["description"], "timezone": draft["timezone"], "layers": layers}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_input(moment: datetime, zone: ZoneInfo) -> str:
    """A datetime-local input's value: wall time in the schedule's zone, to the minute."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _moment(text: str, zone: ZoneInfo, what: str) -> datetime:
    """A form's time: with an offset as given, without one in the schedule's zone."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise pages.field_invalid(what, f"{what}: give a date and time") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def schedule_context(
    runtime: Runtime,
    name: str | None,
    draft: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The schedule page: now on call, next shifts, overrides, the feed, and the edit form."""
    oncall = _oncall(runtime)
    now = runtime.clock.now()
    schedule = oncall.show("schedule", name) if name else None
    if draft is None:
        draft = schedule_draft(schedule)
    draft = {**draft, "layers": _pad(list(draft["layers"]), BLANK_LAYER, 1)}
    context: dict[str, Any] = {
        "draft": draft,
        "schedule": schedule,
        "units": UNITS,
        "people": _people(runtime),
        "restrictions_text": format_restrictions,
    }
    if schedule is None:
        return context
    zone = _zone(schedule["timezone"])
    shifts = oncall.shifts(schedule["name"], now, now + UPCOMING)[:30]
    start = calendar.first_day(now, zone)
    drawn = [
        calendar.Shift(s.user, s.start, s.end)
        for s in oncall.shifts(schedule["name"], start, start + timedelta(days=CALENDAR_DAYS))
    ]
    context.update(
        {
            "calendar": calendar.shift_calendar(drawn, now, zone, days=CALENDAR_DAYS),
            "calendar_compact": calendar.shift_calendar(
                drawn, now, zone, days=CALENDAR_DAYS, layout=calendar.COMPACT
            ),
            "calendar_legend": calendar.legend(drawn),
            "now_on_call": oncall.who_is_on_call(schedule=schedule["name"])[0],
            "next_shift": next((s for s in shifts if s.start > now), None),
            "gaps": calendar.gaps(
                [calendar.Shift(s.user, s.start, s.end) for s in shifts], now, now + UPCOMING
            )
            if len(shifts) < 30
            else [],
            "shifts": [
                {
                    "person": s.user,
                    "start": s.start,
                    "end": s.end,
                    "key": f"{s.start.isoformat()}|{s.end.isoformat()}|{s.user}",
                }
                for s in shifts
            ],
            "overrides": [o for o in schedule["overrides"] if _ended(o) > now],
            "past_overrides": sum(1 for o in schedule["overrides"] if _ended(o) <= now),
            "override": {
                "user": "",
                "replaces": "",
                "start": _local_input(now, zone),
                "end": _local_input(now + timedelta(hours=1), zone),
            },
            "feed_url": _feed_url(runtime, schedule["name"]),
            "policies": [
                p["name"]
                for p in oncall.list_policies()
                if any(f"schedule:{name}" in level["targets"] for level in p["levels"])
            ],
        }
    )
    return context


def coverage(runtime: Runtime, now: datetime) -> list[dict[str, Any]]:
    """Each schedule's now, next and gaps over the next two weeks (read through the service):
    who is on call now and until when, who takes over and when, and the stretches with
    nobody on call (nobody would be paged then)."""
    oncall = _oncall(runtime)
    now_rows = {row["schedule"]: row for row in oncall.who_is_on_call(at=now)}
    rows = []
    for schedule in oncall.list_items("schedule"):
        name = schedule["name"]
        shifts = oncall.shifts(name, now, now + UPCOMING)
        current = now_rows.get(name) or {}
        upcoming = [s for s in shifts if s.start > now]
        holes = calendar.gaps(
            [calendar.Shift(s.user, s.start, s.end) for s in shifts], now, now + UPCOMING
        )
        rows.append(
            {
                "schedule": name,
                "description": schedule.get("description", ""),
                "timezone": schedule["timezone"],
                "layers": schedule.get("layers", []),
                "person": current.get("person"),
                "until": current.get("until"),
                "next": upcoming[0].user if upcoming else None,
                "next_at": upcoming[0].start if upcoming else None,
                "gaps": holes,
                "gap_hours": round(sum((g.end - g.start).total_seconds() for g in holes) / 3600),
            }
        )
    return rows


def my_shifts(runtime: Runtime, me: str, now: datetime) -> list[dict[str, Any]] | None:
    """The signed-in person's shifts of the next two weeks; None when they are no on-call
    person (then nobody can schedule them yet)."""
    try:
        found = _oncall(runtime).person_shifts(me, now, now + UPCOMING)
    except NotFound:
        return None
    return sorted(found, key=lambda f: (f["shift"].start, f["schedule"]))


def _ended(override: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(override["end"]).astimezone(UTC)


def _feed_url(runtime: Runtime, name: str) -> str:
    from warroom.oncall.api import feed_url

    return feed_url(runtime, f"/api/v1/oncall/schedules/{name}/calendar.ics")


def schedules_context(runtime: Runtime) -> dict[str, Any]:
    return {"coverage": coverage(runtime, runtime.clock.now())}


@router.get("/oncall/schedules")
def schedules_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    context = schedules_context(runtime)
    return render(request, "oncall_schedules.html", context, session=session)


MAX_ICAL_BYTES = 2_000_000


def ical_upload(form: Any) -> bytes:
    """The calendar from the form: an uploaded .ics file or pasted text, exactly one."""
    upload = form.get("file")
    data = b""
    if upload is not None and not isinstance(upload, str):
        data = upload.file.read(MAX_ICAL_BYTES + 1)
    pasted = str(form.get("ical_text") or "").strip()
    if bool(data) == bool(pasted):
        raise pages.field_invalid("file", "choose an .ics file or paste the calendar (one of them)")
    if len(data) > MAX_ICAL_BYTES:
        raise pages.field_invalid("file", "the calendar file is too large (2 MB at most)")
    return data or pasted.encode()


# Declared before /oncall/schedules/{name}: "import" is not a schedule here.
@router.post("/oncall/schedules/import")
async def schedule_import(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    from urllib.parse import urlencode

    from warroom.oncall.models import ScheduleIn
    from warroom.oncall.service import import_ical

    def action(principal: Principal, form: Any) -> str:
        name = _text(form, "name", 80)
        timezone = _text(form, "timezone", 64) or "UTC"
        ScheduleIn(name=name, timezone=timezone)  # validates both before anything is read
        result = import_ical(
            _oncall(runtime), principal, name, ical_upload(form), timezone=timezone
        )
        skipped = sorted({str(s["who"]) for s in result["skipped"]})
        query = urlencode({"imported": result["shifts_added"], "skipped": ", ".join(skipped)})
        return f"/oncall/schedules/{name}?{query[:1500]}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_schedules.html", schedules_context(runtime)

    return await _submit(request, session, action, failed)


@router.get("/oncall/schedules/new")
def schedule_new(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    pages.require_scope(session, "responder")
    draft = schedule_draft(None)
    start = runtime.clock.now().astimezone(UTC).replace(hour=9, minute=0)
    draft["layers"] = [{**BLANK_LAYER, "start": start.strftime("%Y-%m-%dT%H:%M")}]
    context = schedule_context(runtime, None, draft)
    return render(request, "oncall_schedule.html", context, session=session)


@router.post("/oncall/schedules")
async def schedule_create(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    from warroom.oncall.models import ScheduleIn

    def action(principal: Principal, form: Any) -> str:
        draft = schedule_draft_from(form)
        body = ScheduleIn.model_validate({"name": draft["name"], **schedule_body(draft)})
        _oncall(runtime).create_schedule(principal, body)
        return f"/oncall/schedules/{body.name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_schedule.html", schedule_context(runtime, None, schedule_draft_from(form))

    return await _submit(request, session, action, failed)


@router.get("/oncall/schedules/{name}")
def schedule_page(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> HTMLResponse:
    context = schedule_context(runtime, name)
    imported = request.query_params.get("imported")
    if imported is not None:  # back from an iCal import
        context["imported"] = {
            "shifts": imported[:10],
            "skipped": request.query_params.get("skipped", "")[:1000],
        }
    return render(request, "oncall_schedule.html", context, session=session)


@router.post("/oncall/schedules/{name}")
async def schedule_update(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    from warroom.oncall.models import SchedulePatch

    def action(principal: Principal, form: Any) -> str:
        body = SchedulePatch.model_validate(schedule_body(schedule_draft_from(form)))
        _oncall(runtime).update_schedule(principal, name, body)
        return f"/oncall/schedules/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        draft = {**schedule_draft_from(form), "name": name}
        return "oncall_schedule.html", schedule_context(runtime, name, draft)

    return await _submit(request, session, action, failed)


def _schedule_zone(runtime: Runtime, name: str) -> ZoneInfo:
    return _zone(_oncall(runtime).show("schedule", name)["timezone"])


@router.post("/oncall/schedules/{name}/overrides")
async def override_add(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    """Add an override: someone covers the whole schedule, or only one person's shifts."""
    from warroom.oncall.models import OverrideIn

    def action(principal: Principal, form: Any) -> str:
        zone = _schedule_zone(runtime, name)
        user = _text(form, "user", 80)
        replaces = _text(form, "replaces", 80) or None
        if not user:
            raise pages.field_invalid("user", "choose who takes the shift")
        if replaces == user:
            raise pages.field_invalid("user", f"{user} cannot take over their own shift")
        body = OverrideIn(
            start=_moment(_text(form, "start", 64), zone, "start"),
            end=_moment(_text(form, "end", 64), zone, "end"),
            user=user,
            replaces=replaces,
        )
        _oncall(runtime).add_override(principal, name, body)
        return f"/oncall/schedules/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_schedule.html", schedule_context(runtime, name)

    return await _submit(request, session, action, failed, field="start")


def _shift_of(text: str, what: str) -> tuple[datetime, datetime, str]:
    try:
        start, end, user = text.split("|", 2)
        return (
            datetime.fromisoformat(start).astimezone(UTC),
            datetime.fromisoformat(end).astimezone(UTC),
            user,
        )
    except ValueError:
        raise pages.field_invalid(what, f"choose the {what} shift from the list") from None


@router.post("/oncall/schedules/{name}/swap")
async def shift_swap(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    """Two people trade shifts: two overrides written together."""
    from warroom.oncall.models import OverrideIn

    def action(principal: Principal, form: Any) -> str:
        a_start, a_end, a_user = _shift_of(_text(form, "first", 200), "first")
        b_start, b_end, b_user = _shift_of(_text(form, "second", 200), "second")
        now = runtime.clock.now()
        first = OverrideIn(start=max(a_start, now), end=a_end, user=b_user, replaces=a_user)
        second = OverrideIn(start=max(b_start, now), end=b_end, user=a_user, replaces=b_user)
        _oncall(runtime).swap_shifts(principal, name, first, second)
        return f"/oncall/schedules/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_schedule.html", schedule_context(runtime, name)

    return await _submit(request, session, action, failed)


@router.post("/oncall/schedules/{name}/overrides/{override_id}/delete")
async def override_delete(
    request: Request, runtime: PageRuntime, session: PageSession, name: str, override_id: int
) -> Response:
    def action(principal: Principal, form: Any) -> str:
        _oncall(runtime).delete_override(principal, name, override_id)
        return f"/oncall/schedules/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_schedule.html", schedule_context(runtime, name)

    return await _submit(request, session, action, failed)


@router.post("/oncall/schedules/{name}/delete")
async def schedule_delete(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    def action(principal: Principal, form: Any) -> str:
        _confirmed(form)
        _oncall(runtime).delete(principal, "schedule", name)
        return "/oncall/schedules"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_schedule.html", schedule_context(runtime, name)

    return await _submit(request, session, action, failed)


# ---- people ----------------------------------------------------------------------------------

BLANK_METHOD = {"orig": "", "name": "", "channel": "", "url": "", "delay": "0", "order": ""}


def _severities(runtime: Runtime) -> list[str]:
    return [level.id for level in runtime.policy.severities]


def person_draft(person: dict[str, Any] | None, severities: list[str]) -> dict[str, Any]:
    if person is None:
        return {
            "name": "",
            "display_name": "",
            "email": "",
            "timezone": "UTC",
            "methods": [],
            "preferences": dict.fromkeys(severities, ""),
        }
    methods = [
        {
            "orig": m["name"],
            "name": m["name"],
            "channel": m["channel"],
            "url": "",
            "delay": str(m["delay_minutes"]),
            "order": str(n + 1),
        }
        for n, m in enumerate(person.get("contact_methods", []))
    ]
    chosen = person.get("preferences") or {}
    return {
        "name": person["name"],
        "display_name": person.get("display_name", ""),
        "email": person.get("email", ""),
        "timezone": person.get("timezone", "UTC"),
        "methods": methods,
        "preferences": {
            sev: ", ".join(chosen.get(normalise_severity(sev), [])) for sev in severities
        },
    }


def person_draft_from(form: Any, severities: list[str]) -> dict[str, Any]:
    methods = []
    removed = []
    for n in _rows(form, "cm"):
        row = {key: _text(form, f"cm-{n}-{key}", 2000) for key in BLANK_METHOD}
        if form.get(f"cm-{n}-remove"):
            removed.append(row["orig"])
            continue
        methods.append(row)
    return {
        "name": _text(form, "name", 80),
        "display_name": _text(form, "display_name", 200),
        "email": _text(form, "email", 320),
        "timezone": _text(form, "timezone", 64) or "UTC",
        "methods": methods,
        "removed": removed,
        "preferences": {sev: _text(form, f"pref-{sev}", 400) for sev in severities},
    }


def person_body(draft: dict[str, Any], kept: dict[str, str]) -> dict[str, Any]:
    """Contact methods in their order; a known method left without a URL keeps its URL. The
    per-severity choices follow a method renamed on the same form and drop a removed one."""
    chosen = []
    for n, row in enumerate(draft["methods"]):
        url = row["url"] or kept.get(row["orig"], "")
        if not url and not row["name"]:
            continue
        if not url:
            raise pages.field_invalid(
                f"cm-{n}", f"contact method {row['name'] or n + 1}: give its Apprise URL"
            )
        try:
            order = float(row["order"]) if row["order"] else float(n + 1)
        except ValueError:
            what = row["name"] or n + 1
            raise pages.field_invalid(
                f"cm-{n}", f"contact method {what}: order is a number"
            ) from None
        method = {"name": row["name"], "url": url, "delay_minutes": row["delay"] or "0"}
        chosen.append((order, n, method))
    chosen.sort(key=lambda item: (item[0], item[1]))
    renamed = {row["orig"]: row["name"] for row in draft["methods"] if row["orig"] and row["name"]}
    removed = set(draft.get("removed", ()))
    preferences = {
        sev: [renamed.get(m, m) for m in _split(text) if m not in removed]
        for sev, text in draft.get("preferences", {}).items()
    }
    return {
        "display_name": draft["display_name"],
        "email": draft["email"],
        "timezone": draft["timezone"],
        "contact_methods": [method for _, _, method in chosen],
        "preferences": {sev: methods for sev, methods in preferences.items() if methods},
    }


def people_context(runtime: Runtime, draft: dict[str, Any] | None = None) -> dict[str, Any]:
    draft = draft or person_draft(None, _severities(runtime))
    draft = {**draft, "methods": _pad(list(draft["methods"]), BLANK_METHOD, 2)}
    oncall = _oncall(runtime)
    on_call_now: dict[str, list[str]] = {}
    for row in oncall.who_is_on_call():
        if row["person"]:
            on_call_now.setdefault(row["person"], []).append(row["schedule"])
    return {"people": oncall.list_items("person"), "draft": draft, "on_call_now": on_call_now}


def person_context(
    runtime: Runtime, name: str, draft: dict[str, Any] | None = None
) -> dict[str, Any]:
    oncall = _oncall(runtime)
    person = oncall.show("person", name)
    draft = draft or person_draft(person, _severities(runtime))
    draft = {**draft, "methods": _pad(list(draft["methods"]), BLANK_METHOD, 2)}
    now = runtime.clock.now()
    found = oncall.person_shifts(name, now, now + UPCOMING)
    shifts = sorted(found, key=lambda f: (f["shift"].start, f["schedule"]))[:10]
    teams = [t["name"] for t in oncall.list_items("team") if name in t["members"]]
    direct = f"person:{name}"
    policies = [
        p["name"]
        for p in oncall.list_policies()
        if any(direct in level["targets"] for level in p["levels"])
    ]
    return {
        "person": person,
        "draft": draft,
        "shifts": shifts,
        "teams": teams,
        "policies": policies,
    }


@router.get("/oncall/people")
def people_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "oncall_people.html", people_context(runtime), session=session)


@router.post("/oncall/people")
async def person_create(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    from warroom.oncall.models import PersonIn

    def action(principal: Principal, form: Any) -> str:
        draft = person_draft_from(form, _severities(runtime))
        body = PersonIn.model_validate({"name": draft["name"], **person_body(draft, {})})
        _oncall(runtime).create_person(principal, body)
        return f"/oncall/people/{body.name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        draft = person_draft_from(form, _severities(runtime))
        return "oncall_people.html", people_context(runtime, draft)

    return await _submit(request, session, action, failed)


@router.get("/oncall/people/{name}")
def person_page(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> HTMLResponse:
    return render(request, "oncall_person.html", person_context(runtime, name), session=session)


@router.post("/oncall/people/{name}")
async def person_update(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    from warroom.oncall.models import PersonPatch

    def action(principal: Principal, form: Any) -> str:
        oncall = _oncall(runtime)
        draft = person_draft_from(form, _severities(runtime))
        body = person_body(draft, oncall.contact_urls(name))
        oncall.update_person(principal, name, PersonPatch.model_validate(body))
        return f"/oncall/people/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        draft = {**person_draft_from(form, _severities(runtime)), "name": name}
        for row in draft["methods"]:
            row["url"] = ""  # never echo a contact URL back into the page
        return "oncall_person.html", person_context(runtime, name, draft)

    return await _submit(request, session, action, failed)


@router.post("/oncall/people/{name}/delete")
async def person_delete(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    def action(principal: Principal, form: Any) -> str:
        _confirmed(form)
        _oncall(runtime).delete(principal, "person", name)
        return "/oncall/people"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_person.html", person_context(runtime, name)

    return await _submit(request, session, action, failed)


# ---- teams -------------------------------------------------------------------------------------


def team_draft_from(form: Any) -> dict[str, Any]:
    members = [str(m).strip() for m in form.getlist("members") if str(m).strip()][:200]
    return {
        "name": _text(form, "name", 80),
        "members": members,
        "manager": _text(form, "manager", 80),
    }


def team_body(draft: dict[str, Any]) -> dict[str, Any]:
    return {"members": draft["members"], "manager": draft["manager"] or None}


def teams_context(runtime: Runtime, draft: dict[str, Any] | None = None) -> dict[str, Any]:
    owns: dict[str, list[str]] = {}
    for service in runtime.config.services:
        if service.owner_team:
            owns.setdefault(service.owner_team, []).append(service.name)
    on_call = {row["person"] for row in _oncall(runtime).who_is_on_call() if row["person"]}
    return {
        "teams": _oncall(runtime).list_items("team"),
        "people": _people(runtime),
        "draft": draft or {"name": "", "members": [], "manager": ""},
        "owns": owns,
        "on_call": on_call,
    }


def team_context(
    runtime: Runtime, name: str, draft: dict[str, Any] | None = None
) -> dict[str, Any]:
    team = _oncall(runtime).show("team", name)
    owns = [s.name for s in runtime.config.services if s.owner_team == name]
    draft = draft or {"name": name, "members": team["members"], "manager": team["manager"] or ""}
    return {"team": team, "people": _people(runtime), "draft": draft, "services": owns}


@router.get("/oncall/teams")
def teams_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "oncall_teams.html", teams_context(runtime), session=session)


@router.post("/oncall/teams")
async def team_create(request: Request, runtime: PageRuntime, session: PageSession) -> Response:
    from warroom.oncall.models import TeamIn

    def action(principal: Principal, form: Any) -> str:
        draft = team_draft_from(form)
        body = TeamIn.model_validate({"name": draft["name"], **team_body(draft)})
        _oncall(runtime).create_team(principal, body)
        return f"/oncall/teams/{body.name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_teams.html", teams_context(runtime, team_draft_from(form))

    return await _submit(request, session, action, failed, field="members")


@router.get("/oncall/teams/{name}")
def team_page(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> HTMLResponse:
    return render(request, "oncall_team.html", team_context(runtime, name), session=session)


@router.post("/oncall/teams/{name}")
async def team_update(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    from warroom.oncall.models import TeamPatch

    def action(principal: Principal, form: Any) -> str:
        body = TeamPatch.model_validate(team_body(team_draft_from(form)))
        _oncall(runtime).update_team(principal, name, body)
        return f"/oncall/teams/{name}"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        draft = {**team_draft_from(form), "name": name}
        return "oncall_team.html", team_context(runtime, name, draft)

    return await _submit(request, session, action, failed, field="members")


@router.post("/oncall/teams/{name}/delete")
async def team_delete(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    def action(principal: Principal, form: Any) -> str:
        owns = [s.name for s in runtime.config.services if s.owner_team == name]
        if owns:
            raise InvalidInput(f"the catalog names this team as owner of {', '.join(owns)}")
        _confirmed(form)
        _oncall(runtime).delete(principal, "team", name)
        return "/oncall/teams"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        return "oncall_team.html", team_context(runtime, name)

    return await _submit(request, session, action, failed)


# ---- policy contacts (who `contact:<name>` in the escalation rules reaches) ------------------


def contacts_context(
    runtime: Runtime, drafts: dict[str, str] | None = None, editing: str | None = None
) -> dict[str, Any]:
    items = _oncall(runtime).contacts()
    drafts = drafts or {}
    for item in items:
        item["draft"] = drafts.get(item["name"], ", ".join(item["targets"]))
    return {"contacts": items, "editing": editing, "targets": _targets(runtime)}


@router.get("/oncall/contacts")
def contacts_page(request: Request, runtime: PageRuntime, session: PageSession) -> HTMLResponse:
    return render(request, "oncall_contacts.html", contacts_context(runtime), session=session)


@router.post("/oncall/contacts/{name}")
async def contact_update(
    request: Request, runtime: PageRuntime, session: PageSession, name: str
) -> Response:
    def action(principal: Principal, form: Any) -> str:
        _oncall(runtime).set_contact(principal, name, _split(_text(form, "targets", 2000)))
        return "/oncall/contacts"

    def failed(form: Any) -> tuple[str, dict[str, Any]]:
        drafts = {name: _text(form, "targets", 2000)}
        return "oncall_contacts.html", contacts_context(runtime, drafts, editing=name)

    return await _submit(request, session, action, failed, field="targets")
