"""`warroom oncall ...` and `warroom page`: all through the REST API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from warroom.cli.common import JsonOpt, call, call_all, emit, fail
from warroom.cli.output import console, escape, local_time, print_json, print_table

oncall_app = typer.Typer(
    help="On-call: people, teams, schedules, escalation.", no_args_is_help=True
)
person_app = typer.Typer(help="People and their contact methods.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
schedule_app = typer.Typer(help="Schedules (rotations, restrictions).", no_args_is_help=True)
override_app = typer.Typer(help="Schedule overrides (take a shift, swap).", no_args_is_help=True)
escalation_app = typer.Typer(help="Escalation policies.", no_args_is_help=True)
contact_app = typer.Typer(help="Policy contacts → people/teams/schedules.", no_args_is_help=True)
service_app = typer.Typer(
    help="Which escalation policy pages for each service.", no_args_is_help=True
)
oncall_app.add_typer(person_app, name="person")
oncall_app.add_typer(team_app, name="team")
oncall_app.add_typer(schedule_app, name="schedule")
oncall_app.add_typer(override_app, name="override")
oncall_app.add_typer(escalation_app, name="escalation")
oncall_app.add_typer(contact_app, name="contact")
oncall_app.add_typer(service_app, name="service")

BASE = "/api/v1/oncall"
_SHIFT = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _done(as_json: bool, data: Any, message: str) -> None:
    emit(as_json, data, lambda _d: console.print(f"[green]✓[/] {escape(message)}"))


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        fail(f"cannot read {path}: {exc}")
    if not isinstance(data, dict):
        fail(f"{path} must hold a mapping")
    return data


def _contacts(values: list[str]) -> list[dict[str, Any]]:
    """`URL` or `URL@DELAY` (minutes), e.g. `ntfy://topic` `mailto://...@5`."""
    methods = []
    for n, value in enumerate(values):
        url, delay = value, 0
        head, sep, tail = value.rpartition("@")
        if sep and tail.isdigit():
            url, delay = head, int(tail)
        methods.append({"name": f"m{n + 1}", "url": url, "delay_minutes": delay})
    return methods


_table = print_table


# ---- who ------------------------------------------------------------------------------------


@oncall_app.command("who")
def who(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option(help="ISO time (default now).")] = None,
    schedule: Annotated[str | None, typer.Option(help="Only this schedule.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is on call now (or --at a time)."""
    params = {k: v for k, v in {"at": at, "schedule": schedule}.items() if v}
    data = call_all(ctx, f"{BASE}/who", params=params)
    emit(
        as_json,
        data,
        lambda d: _table(
            "On call",
            ["schedule", "person", "since", "until"],
            [
                [i["schedule"], i["person"], local_time(i["since"]), local_time(i["until"])]
                for i in d["items"]
            ],
        ),
    )


# ---- people -------------------------------------------------------------------------------


@person_app.command("add")
def person_add(
    ctx: typer.Context,
    name: str,
    email: Annotated[str, typer.Option()] = "",
    tz: Annotated[str, typer.Option("--tz", help="IANA timezone.")] = "UTC",
    contact: Annotated[
        list[str], typer.Option(help="Apprise URL, optionally URL@DELAY_MINUTES; repeat.")
    ] = [],
    display_name: Annotated[str, typer.Option()] = "",
    file: Annotated[Path | None, typer.Option(help="YAML/JSON with all fields.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a person."""
    body = _load(file) if file else {}
    body.setdefault("name", name)
    if email:
        body["email"] = email
    if display_name:
        body["display_name"] = display_name
    body.setdefault("timezone", tz)
    if contact:
        body["contact_methods"] = _contacts(contact)
    _done(as_json, call(ctx, "POST", f"{BASE}/people", json=body), f"person {name} added")


@person_app.command("update")
def person_update(
    ctx: typer.Context,
    name: str,
    email: Annotated[str | None, typer.Option()] = None,
    tz: Annotated[str | None, typer.Option("--tz")] = None,
    contact: Annotated[list[str], typer.Option(help="Replaces every contact method.")] = [],
    as_json: JsonOpt = False,
) -> None:
    """Change a person's email, timezone or contact methods."""
    body: dict[str, Any] = {"email": email, "timezone": tz}
    if contact:
        body["contact_methods"] = _contacts(contact)
    body = {k: v for k, v in body.items() if v is not None}
    _done(as_json, call(ctx, "PATCH", f"{BASE}/people/{name}", json=body), f"{name} updated")


@team_app.command("add")
def team_add(
    ctx: typer.Context,
    name: str,
    member: Annotated[list[str], typer.Option(help="A person; repeat.")] = [],
    manager: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a team."""
    body = {"name": name, "members": member, "manager": manager}
    _done(as_json, call(ctx, "POST", f"{BASE}/teams", json=body), f"team {name} added")


@team_app.command("update")
def team_update(
    ctx: typer.Context,
    name: str,
    member: Annotated[list[str], typer.Option(help="Replaces the members.")] = [],
    manager: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a team's members or manager."""
    body: dict[str, Any] = {}
    if member:
        body["members"] = member
    if manager:
        body["manager"] = manager
    _done(as_json, call(ctx, "PATCH", f"{BASE}/teams/{name}", json=body), f"{name} updated")


# ---- schedules ------------------------------------------------------------------------------


def _layer(users: str, start: str, shift: str, days: str | None, hours: str | None) -> Any:
    found = _SHIFT.match(shift.strip())
    if not found:
        fail("--shift looks like 12h, 1d or 1w")
    layer: dict[str, Any] = {
        "users": [u.strip() for u in users.split(",") if u.strip()],
        "start": start,
        "shift_length": int(found.group(1)),
        "shift_unit": _UNITS[found.group(2)],
    }
    if days or hours:
        restriction: dict[str, Any] = {}
        if days:
            restriction["days"] = [d.strip().lower()[:3] for d in days.split(",")]
        if hours:
            begin, _, end = hours.partition("-")
            restriction.update(start=begin, end=end)
        layer["restrictions"] = [restriction]
    return layer


@schedule_app.command("add")
def schedule_add(
    ctx: typer.Context,
    name: str,
    tz: Annotated[str, typer.Option("--tz")] = "UTC",
    users: Annotated[str | None, typer.Option(help="Rotation order: ann,bob,cat.")] = None,
    start: Annotated[
        str | None, typer.Option(help="First handoff, local: 2026-01-05T09:00")
    ] = None,
    shift: Annotated[str, typer.Option(help="Shift length: 12h, 1d, 1w.")] = "1w",
    days: Annotated[str | None, typer.Option(help="Restrict to days: mon,tue,wed,thu,fri")] = None,
    hours: Annotated[str | None, typer.Option(help="Restrict to hours: 09:00-17:00")] = None,
    file: Annotated[Path | None, typer.Option(help="YAML/JSON with layers.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a schedule: one rotation from flags, or any layers from --file."""
    body = _load(file) if file else {}
    body.setdefault("name", name)
    body.setdefault("timezone", tz)
    if users:
        if not start:
            fail("--users needs --start")
        body["layers"] = [*body.get("layers", []), _layer(users, str(start), shift, days, hours)]
    _done(as_json, call(ctx, "POST", f"{BASE}/schedules", json=body), f"schedule {name} added")


@schedule_app.command("update")
def schedule_update(
    ctx: typer.Context,
    name: str,
    file: Annotated[Path, typer.Option(help="YAML/JSON: timezone, layers, description.")],
    as_json: JsonOpt = False,
) -> None:
    """Replace a schedule's layers (or timezone, description) from a file."""
    data = call(ctx, "PATCH", f"{BASE}/schedules/{name}", json=_load(file))
    _done(as_json, data, f"{name} updated")


@schedule_app.command("shifts")
def schedule_shifts(
    ctx: typer.Context,
    name: str,
    start: Annotated[str | None, typer.Option()] = None,
    end: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """The shifts of a schedule (default: the next 14 days)."""
    params = {k: v for k, v in {"start": start, "end": end}.items() if v}
    data = call_all(ctx, f"{BASE}/schedules/{name}/shifts", params=params)
    emit(
        as_json,
        data,
        lambda d: _table(
            f"Shifts of {name}",
            ["person", "start", "end"],
            [[i["person"], local_time(i["start"]), local_time(i["end"])] for i in d["items"]],
        ),
    )


@schedule_app.command("import")
def schedule_import(
    ctx: typer.Context,
    name: str,
    file: Annotated[Path | None, typer.Option(help="An .ics file.")] = None,
    url: Annotated[str | None, typer.Option(help="An iCal URL (the server fetches it).")] = None,
    tz: Annotated[
        str, typer.Option("--tz", help="The zone of the calendar's floating times.")
    ] = "UTC",
    days: Annotated[int, typer.Option(help="How far ahead to import.")] = 90,
    as_json: JsonOpt = False,
) -> None:
    """Import shifts from iCal: each event (recurrences expanded) becomes an override."""
    body: dict[str, Any] = {"name": name, "timezone": tz, "days": days}
    if file is not None:
        try:
            body["ical_text"] = file.read_text("utf-8")
        except OSError as exc:
            fail(f"cannot read {file}: {exc}")
    elif url is not None:
        body["url"] = url
    else:
        fail("give --file or --url")
    data = call(ctx, "POST", f"{BASE}/schedules/import", json=body)
    message = f"{data['shifts_added']} shift(s) imported into {name}"
    if data.get("shifts_unchanged") or data.get("shifts_removed"):
        message += (
            f" ({data['shifts_unchanged']} already there, "
            f"{data['shifts_removed']} replaced or removed)"
        )
    if data["skipped"]:
        message += f"; {len(data['skipped'])} skipped (no matching person)"
    _done(as_json, data, message)


@schedule_app.command("feed")
def schedule_feed(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """The iCal feed URL of a schedule (subscribe in any calendar)."""
    data = call(ctx, "GET", f"{BASE}/schedules/{name}/feed-url")
    emit(as_json, data, lambda d: console.print(d["url"], highlight=False, soft_wrap=True))


@person_app.command("feed")
def person_feed(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """The iCal feed URL of one person's shifts across every schedule."""
    data = call(ctx, "GET", f"{BASE}/people/{name}/feed-url")
    emit(as_json, data, lambda d: console.print(d["url"], highlight=False, soft_wrap=True))


@override_app.command("add")
def override_add(
    ctx: typer.Context,
    schedule: str,
    user: Annotated[str, typer.Option(help="Who takes the shift.")],
    start: Annotated[str, typer.Option(help="ISO time with offset.")],
    end: Annotated[str, typer.Option(help="ISO time with offset.")],
    replaces: Annotated[str | None, typer.Option(help="Only replace this person (a swap).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an override to a schedule."""
    body = {"user": user, "start": start, "end": end, "replaces": replaces}
    data = call(ctx, "POST", f"{BASE}/schedules/{schedule}/overrides", json=body)
    _done(as_json, data, f"override {data['id']} added: {user} on {schedule}")


@override_app.command("list")
def override_list(ctx: typer.Context, schedule: str, as_json: JsonOpt = False) -> None:
    """A schedule's overrides."""
    data = call(ctx, "GET", f"{BASE}/schedules/{schedule}")["overrides"]
    emit(
        as_json,
        data,
        lambda d: _table(
            f"Overrides of {schedule}",
            ["id", "user", "replaces", "start", "end"],
            [
                [o["id"], o["user"], o["replaces"], local_time(o["start"]), local_time(o["end"])]
                for o in d
            ],
        ),
    )


@override_app.command("delete")
def override_delete(ctx: typer.Context, schedule: str, override_id: int) -> None:
    """Remove an override."""
    call(ctx, "DELETE", f"{BASE}/schedules/{schedule}/overrides/{override_id}")
    console.print(f"[green]✓[/] override {override_id} removed")


# ---- escalation policies, contacts ----------------------------------------------------------


def _level(text: str, mode: str) -> dict[str, Any]:
    """`DELAY:TARGET,TARGET` e.g. `5:schedule:primary,person:bob`."""
    delay, sep, targets = text.partition(":")
    if not sep or not delay.isdigit():
        fail("--level looks like MINUTES:TARGET[,TARGET], e.g. 5:schedule:primary,team:db")
    return {"delay_minutes": int(delay), "targets": targets.split(","), "mode": mode}


@escalation_app.command("add")
def escalation_add(
    ctx: typer.Context,
    name: str,
    level: Annotated[
        list[str], typer.Option(help="MINUTES:TARGET[,TARGET] in order; repeat per level.")
    ] = [],
    repeat: Annotated[int, typer.Option(help="Loop the levels this many more times.")] = 0,
    round_robin: Annotated[bool, typer.Option(help="One person per level, in turn.")] = False,
    file: Annotated[Path | None, typer.Option(help="YAML/JSON with levels.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an escalation policy."""
    body = _load(file) if file else {}
    body.setdefault("name", name)
    body.setdefault("repeat", repeat)
    if level:
        mode = "round_robin" if round_robin else "all"
        body["levels"] = [_level(text, mode) for text in level]
    data = call(ctx, "POST", f"{BASE}/escalation-policies", json=body)
    _done(as_json, data, f"escalation policy {name} added")


@escalation_app.command("update")
def escalation_update(
    ctx: typer.Context,
    name: str,
    level: Annotated[list[str], typer.Option(help="Replaces every level.")] = [],
    repeat: Annotated[int | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an escalation policy's levels or repeat count."""
    body: dict[str, Any] = {}
    if level:
        body["levels"] = [_level(text, "all") for text in level]
    if repeat is not None:
        body["repeat"] = repeat
    data = call(ctx, "PATCH", f"{BASE}/escalation-policies/{name}", json=body)
    _done(as_json, data, f"{name} updated")


@contact_app.command("set")
def contact_set(
    ctx: typer.Context, name: str, targets: list[str], as_json: JsonOpt = False
) -> None:
    """Map a policy contact (legal, security...) to person:/team:/schedule:/manager: targets."""
    data = call(ctx, "PUT", f"{BASE}/contacts/{name}", json={"targets": targets})
    _done(as_json, data, f"contact {name} → {', '.join(targets)}")


@contact_app.command("list")
def contact_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The policy's contacts and whom they reach."""
    data = call_all(ctx, f"{BASE}/contacts")
    emit(
        as_json,
        data,
        lambda d: _table(
            "Contacts",
            ["contact", "targets", "from"],
            [[c["name"], ", ".join(c["targets"]) or "(unmapped)", c["source"]] for c in d["items"]],
        ),
    )


@service_app.command("list")
def service_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Each service and the escalation policy that pages for it."""
    data = call_all(ctx, f"{BASE}/services")
    emit(
        as_json,
        data,
        lambda d: _table(
            "Services",
            ["service", "escalation policy", "from"],
            [
                [i["service"], i["escalation_policy"] or "NOBODY IS PAGED", i["source"]]
                for i in d["items"]
            ],
        ),
    )


@service_app.command("set")
def service_set(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="The service, as incidents and alerts name it.")],
    policy: Annotated[str, typer.Argument(help="An escalation policy.")],
    as_json: JsonOpt = False,
) -> None:
    """Page through POLICY for SERVICE's incidents from now on (no restart)."""
    data = call(ctx, "PUT", f"{BASE}/services/{service}", json={"escalation_policy": policy})
    _done(as_json, data, f"{service} pages through {policy}")


@service_app.command("unset")
def service_unset(ctx: typer.Context, service: str, as_json: JsonOpt = False) -> None:
    """Forget the policy set here for SERVICE (the config file's or the default applies)."""
    data = call(ctx, "DELETE", f"{BASE}/services/{service}")
    now = data["escalation_policy"] or "nobody is paged"
    _done(as_json, data, f"{service}: mapping removed ({now}, from {data['source']})")


@oncall_app.command("activation")
def activation(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """The response team the policy requires for INCIDENT, and the roles still missing."""
    data = call(ctx, "GET", f"{BASE}/activation/{incident}")

    def human(d: dict[str, Any]) -> None:
        console.print(f"{escape(d['incident'])} ({escape(d['severity'])}, paging {d['paging']})")
        for role in d["roles_required"]:
            holder = d["roles"].get(role)
            mark = "[green]✓[/]" if holder else "[red]✗[/]"
            console.print(f"  {mark} {escape(role)}: {escape(holder or 'missing')}")
        if d["roles_missing"] and d["remind_at"]:
            console.print(f"  the commander is reminded at {local_time(d['remind_at'])}")
        if d["paging_problem"]:
            console.print(f"  [red]nobody was paged:[/] {escape(d['paging_problem'])}")

    emit(as_json, data, human)


@oncall_app.command("problems")
def paging_problems(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Open incidents that must page but whose page reached nobody."""
    data = call_all(ctx, f"{BASE}/paging-problems")
    emit(
        as_json,
        data,
        lambda d: _table(
            "Incidents that paged nobody",
            ["incident", "severity", "problem", "fallback notified"],
            [
                [
                    i["incident"],
                    i["severity"],
                    i["problem"],
                    ", ".join(i["fallback_notified"]) or "nobody",
                ]
                for i in d["items"]
            ],
        ),
    )


def _crud(group: typer.Typer, path: str, columns: list[str], noun: str) -> None:
    @group.command("list")
    def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
        data = call_all(ctx, f"{BASE}/{path}")
        emit(
            as_json,
            data,
            lambda d: _table(
                noun.title(),
                columns,
                [[_cell(item.get(c)) for c in columns] for item in d["items"]],
            ),
        )

    list_.__doc__ = f"List {noun}."

    @group.command("show")
    def show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
        print_json(call(ctx, "GET", f"{BASE}/{path}/{name}"))

    show.__doc__ = f"Show one of the {noun}."

    @group.command("delete")
    def remove(ctx: typer.Context, name: str) -> None:
        call(ctx, "DELETE", f"{BASE}/{path}/{name}")
        console.print(f"[green]✓[/] {escape(name)} deleted")

    remove.__doc__ = f"Delete one of the {noun}."


def _cell(value: Any) -> str:
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(str(item.get("channel") or item.get("name") or "level"))
            else:
                parts.append(str(item))
        return ", ".join(parts)
    return "" if value is None else str(value)


_crud(person_app, "people", ["name", "email", "timezone", "contact_methods"], "people")
_crud(team_app, "teams", ["name", "members", "manager"], "teams")
_crud(schedule_app, "schedules", ["name", "timezone", "layers"], "schedules")
_crud(escalation_app, "escalation-policies", ["name", "levels", "repeat", "source"], "policies")


# ---- pages, acknowledgement ---------------------------------------------------------------


def page(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A person, schedule or team (or kind:name).")],
    message: Annotated[str, typer.Option("--message", "-m")],
    severity: Annotated[
        str | None, typer.Option(help="Use the person's preferences for it.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Page a person, whoever is on call on a schedule, or a team."""
    body = {"target": target, "message": message, "severity": severity}
    data = call(ctx, "POST", f"{BASE}/pages", json=body)
    # The page is queued: the worker delivers it (`warroom oncall pages` shows acknowledgement).
    _done(as_json, data, f"page {data['id']} queued for {', '.join(data['people']) or 'nobody'}")


@oncall_app.command("ack")
def ack(ctx: typer.Context, page_id: int, as_json: JsonOpt = False) -> None:
    """Acknowledge a page (incidents: `warroom ack INCIDENT`)."""
    _done(as_json, call(ctx, "POST", f"{BASE}/pages/{page_id}/ack"), f"page {page_id} acknowledged")


@oncall_app.command("pages")
def pages(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Recent pages."""
    data = call_all(ctx, f"{BASE}/pages")
    emit(
        as_json,
        data,
        lambda d: _table(
            "Pages",
            ["id", "target", "message", "created_at", "acknowledged_by"],
            [
                [
                    p["id"],
                    p["target"],
                    p["message"][:60],
                    local_time(p["created_at"]),
                    p["acknowledged_by"],
                ]
                for p in d["items"]
            ],
        ),
    )


def register(app: typer.Typer) -> None:
    app.add_typer(oncall_app, name="oncall")
    app.command("page")(page)
