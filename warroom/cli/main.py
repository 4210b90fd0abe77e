"""The `warroom` command line."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli import common
from warroom.cli.common import JsonOpt, call, emit, fail
from warroom.cli.output import (
    console,
    escape,
    incidents_table,
    local_time,
    print_json,
    relative,
    severity_text,
    status_text,
)
from warroom.core.durations import parse_duration

app = typer.Typer(
    name="warroom",
    help="Self-hosted incident response, on the local database or a server (--server).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="API tokens (admin).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
policy_app = typer.Typer(help="The incident policy.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)
postmortem_app = typer.Typer(help="Post-mortems.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
app.add_typer(config_app, name="config")
app.add_typer(postmortem_app, name="postmortem")


@app.callback()
def main(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(envvar="WARROOM_SERVER", help="Talk to this server instead of the local DB."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="WARROOM_TOKEN", help="Bearer token for --server.")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--as", envvar="WARROOM_ACTOR", help="Your name on the timeline (local DB)."),
    ] = None,
) -> None:
    """warroom: alerts in, people paged, the incident worked, the lessons kept."""
    obj = common.state(ctx)
    obj.server, obj.token, obj.actor = server, token, actor
    ctx.call_on_close(obj.close)


def _time_option(value: str | None, name: str) -> str | None:
    """Accept ISO 8601 or a relative '15m ago' / '15m'."""
    if value is None:
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment.astimezone(UTC).isoformat()
    except ValueError:
        pass
    try:
        delta = parse_duration(text.removesuffix("ago").strip())
    except ValueError:
        fail(f"{name}: give an ISO time (2026-11-23T10:00:00Z) or an age like '20m ago'")
    return (datetime.now(UTC) - delta).isoformat()


def _labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"label {pair!r} must look like key=value")
        labels[key.strip()] = value.strip()
    return labels


def _show_incident(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{data['id']}[/]  {severity_text(data['severity'])} "
        f"({escape(data.get('severity_name', ''))})  {status_text(data['status'])}  "
        f"[bold]{escape(data['title'])}[/]"
    )
    if data.get("summary"):
        console.print(escape(data["summary"]))
    if (data.get("flags") or {}).get("recurred"):
        console.print(
            "[bold white on red] RECURRED [/] [bold red]this incident came back after being "
            "resolved (see recurrence_detected on the timeline)[/]"
        )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("type", data["type"])
    grid.add_row("services", ", ".join(data.get("services") or []) or "-")
    if data.get("labels"):
        grid.add_row("labels", escape(", ".join(f"{k}={v}" for k, v in data["labels"].items())))
    for milestone in (
        "started_at",
        "detected_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    ):
        if data.get(milestone):
            grid.add_row(
                milestone.removesuffix("_at"),
                f"{local_time(data[milestone])} ({relative(data[milestone])})",
            )
    roles = data.get("roles") or {}
    grid.add_row("roles", escape(", ".join(f"{r}: {p}" for r, p in roles.items())) or "-")
    if data.get("roles_missing"):
        grid.add_row("roles missing", "[yellow]" + ", ".join(data["roles_missing"]) + "[/]")
    impact = {k: v for k, v in (data.get("impact") or {}).items() if v is not None}
    if impact:
        grid.add_row("impact", ", ".join(f"{k}={v}" for k, v in impact.items()))
    for name, target in (data.get("targets") or {}).items():
        text = target.get("label", "")
        if target.get("due_at"):
            state = (
                "met"
                if target.get("met")
                else "MISSED"
                if target.get("met") is False
                else (
                    "[red]overdue[/]"
                    if target.get("overdue")
                    else f"due {relative(target['due_at'])}"
                )
            )
            text = f"{text} ({state})"
        grid.add_row(f"{name} target", text)
    if data.get("next_update_due_at"):
        grid.add_row("next update", relative(data["next_update_due_at"]))
    if data.get("postmortem"):
        pm = data["postmortem"]
        grid.add_row(
            "post-mortem", f"{pm.get('status')} owner={pm.get('owner')} due={pm.get('due_at')}"
        )
    if data.get("resolution_summary"):
        grid.add_row("resolution", escape(data["resolution_summary"]))
    grid.add_row("next moves", ", ".join(data.get("allowed_moves") or []) or "-")
    console.print(grid)


def _done(as_json: bool, data: dict[str, Any], message: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(f"[green]✓[/] {message}")


# ---- serving --------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (WARROOM_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WARROOM_PORT).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data dir (WARROOM_DATA_DIR).")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve only; run workers apart.")
    ] = False,
    worker_process: Annotated[
        bool,
        typer.Option(
            "--worker-process",
            help="Run the worker in a child process (a second CPU core for alert storms).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the API, web pages and (unless --no-worker) the worker, in this process or, with
    --worker-process, in a child process it starts and stops."""
    import logging

    import uvicorn

    from warroom.api.app import create_app
    from warroom.core.auth import ensure_admin_token
    from warroom.core.runtime import Runtime, settle_heap
    from warroom.core.settings import Settings
    from warroom.worker import Worker, WorkerLocked

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings(**overrides)
    runtime = _build_runtime(Runtime, settings)
    with runtime.db.write() as conn:
        secret = settings.admin_token.get_secret_value() if settings.admin_token else None
        new_token = ensure_admin_token(conn, secret, runtime.clock.now())
    app_ = create_app(runtime)
    worker = None
    child = None
    if worker_process and not no_worker:
        child = _start_worker_process(runtime, settings)
    elif not no_worker:
        worker = Worker(runtime)
        try:
            worker.acquire_single_writer_lock()
        except WorkerLocked as exc:
            fail(f"{exc}; start this server with --no-worker")
        worker.start_thread()
    settle_heap()

    def say(text: str) -> None:
        console.print(text, soft_wrap=True, highlight=False)

    url = settings.public_url()
    say(f"[bold green]warroom[/] is running at [bold]{url}[/]  (API docs: {url}/api/docs)")
    where = "embedded" if worker else f"process {child.pid}" if child else "off"
    say(f"database: {_redact_url(runtime.db.url)}   worker: {where}")
    if new_token:
        say(
            "[bold yellow]Admin token (shown once, only its hash is stored):[/] "
            f"[bold]{new_token}[/]\n"
            "Use it as 'Authorization: Bearer <token>', or: "
            f"warroom --server {url} --token <token> list"
        )
    elif secret:
        say("Log in with the admin token from WARROOM_ADMIN_TOKEN.")
    else:
        say(
            "Log in with the admin token printed on the first start, or make a new one: "
            "warroom token create NAME --scope admin"
        )
    from warroom.core.plugins import load_plugins

    for plugin in load_plugins():
        for line in getattr(plugin, "first_start", lambda _runtime: [])(runtime):
            say(line)
    try:
        # Live pages hold server-sent event streams open; do not wait for them on shutdown.
        uvicorn.run(
            app_,
            host=settings.host,
            port=settings.port,
            log_level=log_level.lower(),
            timeout_graceful_shutdown=3,
        )
    finally:
        if worker:
            worker.stop()
        if child is not None:
            child.stop()
        runtime.close()


def _start_worker_process(runtime: Any, settings: Any) -> Any:
    """`warroom worker --wake-on-stdin` as a supervised child process (see WorkerProcess)."""
    from warroom.worker import WorkerProcess

    env = {**os.environ, "WARROOM_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["WARROOM_DATABASE_URL"] = settings.database_url
    args = [sys.executable, "-m", "warroom", "worker", "--wake-on-stdin"]
    child = WorkerProcess(runtime, args, env)
    try:
        child.start()
    except RuntimeError as exc:
        fail(f"{exc}; see its messages above")
    return child


@app.command()
def worker(
    poll: Annotated[
        float | None,
        typer.Option(help="Seconds between polls when idle (WARROOM_WORKER_POLL_SECONDS, 0.5)."),
    ] = None,
    lease: Annotated[
        float, typer.Option(help="Seconds a claimed effect stays with this worker.", min=1)
    ] = 60.0,
    batch: Annotated[
        int | None,
        typer.Option(
            help="Effects claimed per round (default 500 on SQLite, 100 on PostgreSQL).", min=1
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Deliveries run at once (WARROOM_WORKER_CONCURRENCY, default 16); a crash "
            "repeats at most this many.",
            min=1,
            max=256,
        ),
    ] = None,
    wake_on_stdin: Annotated[
        bool,
        typer.Option(
            "--wake-on-stdin",
            help="Wake at each line on stdin and stop at its end (`serve --worker-process`).",
        ),
    ] = False,
) -> None:
    """Run a worker: fires due effects (notifications, escalations, reminders)."""
    import logging

    from warroom.core.runtime import Runtime, settle_heap
    from warroom.core.settings import Settings
    from warroom.worker import Worker, WorkerLocked

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = _build_runtime(Runtime, Settings())
    from datetime import timedelta

    instance = Worker(runtime, lease=timedelta(seconds=lease), batch=batch, concurrency=concurrency)
    try:
        instance.acquire_single_writer_lock()
    except WorkerLocked as exc:
        fail(str(exc))
    console.print(f"worker {instance.name} on {_redact_url(runtime.db.url)}")
    if wake_on_stdin:
        from warroom.worker import wake_on_input

        wake_on_input(instance, sys.stdin.fileno())
    settle_heap()
    try:
        instance.run_forever(poll)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()


def _build_runtime(runtime_cls: Any, settings: Any) -> Any:
    from warroom.core.errors import WarroomError

    try:
        return runtime_cls.build(settings)
    except WarroomError as exc:
        for problem in exc.details or []:
            if isinstance(problem, dict):
                console.print(f"  {problem.get('path')}: {problem.get('message')}")
        fail(exc.message)


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ---- incidents ------------------------------------------------------------------------


@app.command()
def declare(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What is broken, in a few words.")],
    severity: Annotated[
        str | None, typer.Option("--severity", "-s", help="e.g. SEV2 or P1.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="Incident type.")] = None,
    service: Annotated[
        list[str], typer.Option("--service", help="Affected service (repeat).")
    ] = [],
    label: Annotated[list[str], typer.Option("--label", help="key=value (repeat).")] = [],
    summary: Annotated[str, typer.Option(help="What is known so far.")] = "",
    started_at: Annotated[
        str | None, typer.Option(help="When impact began (ISO or '20m ago').")
    ] = None,
    detected_at: Annotated[str | None, typer.Option(help="When it was detected.")] = None,
    users_affected: Annotated[int | None, typer.Option(help="Estimated users affected.")] = None,
    customer_facing: Annotated[bool | None, typer.Option("--customer-facing/--internal")] = None,
    data_at_risk: Annotated[bool | None, typer.Option("--data-at-risk/--no-data-at-risk")] = None,
    revenue_per_hour: Annotated[
        float | None, typer.Option(help="Revenue at risk per hour.")
    ] = None,
    commander: Annotated[str | None, typer.Option(help="Incident commander.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an incident."""
    impact = {
        "users_affected": users_affected,
        "customer_facing": customer_facing,
        "data_at_risk": data_at_risk,
        "revenue_per_hour": revenue_per_hour,
    }
    body: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "severity": severity,
        "type": type_,
        "services": service,
        "labels": _labels(label),
        "impact": {k: v for k, v in impact.items() if v is not None},
        "started_at": _time_option(started_at, "--started-at"),
        "detected_at": _time_option(detected_at, "--detected-at"),
    }
    if commander:
        body["roles"] = {"commander": commander}
    if severity is None and sys.stdin.isatty() and not as_json:
        answers = _ask_triage()
        body["triage"] = answers
    data = call(
        ctx, "POST", "/api/v1/incidents", json={k: v for k, v in body.items() if v is not None}
    )
    if as_json:
        print_json(data)
        return
    console.print(
        f"[green]✓[/] declared [bold]{data['id']}[/] {severity_text(data['severity'])} "
        f"{escape(data['title'])}"
    )
    if data.get("roles_missing"):
        console.print(f"  roles to fill for {data['severity']}: {', '.join(data['roles_missing'])}")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[list[str], typer.Option("--status", help="Filter by status (repeat).")] = [],
    severity: Annotated[
        list[str], typer.Option("--severity", "-s", help="Filter by severity (repeat).")
    ] = [],
    service: Annotated[str | None, typer.Option(help="Filter by service.")] = None,
    open_: Annotated[
        bool | None, typer.Option("--open/--closed", help="Only open / only resolved+closed.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", "-q", help="Search title, summary, id.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    params: dict[str, Any] = {"status": status, "severity": severity, "limit": limit}
    if service:
        params["service"] = service
    if open_ is not None:
        params["open"] = str(open_).lower()
    if text:
        params["q"] = text
    data = call(ctx, "GET", "/api/v1/incidents", params=params)

    def human(page: dict[str, Any]) -> None:
        if not page["items"]:
            console.print("no incidents match")
            return
        console.print(incidents_table(page["items"]))

    emit(as_json, data, human)


@app.command()
def show(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Show one incident."""
    emit(as_json, call(ctx, "GET", f"/api/v1/incidents/{incident}"), _show_incident)


@app.command()
def ack(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Acknowledge an incident (stops its escalation)."""
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/acknowledge")
    _done(as_json, data, f"{data['id']} acknowledged")


@app.command()
def status(
    ctx: typer.Context,
    incident: str,
    new_status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS", help="investigating, identified, mitigating, monitoring..."
        ),
    ],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an incident to a working status."""
    body = {"status": new_status, **({"reason": reason} if reason else {})}
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/status", json=body)
    _done(as_json, data, f"{data['id']} is now {data['status']}")


@app.command()
def severity(
    ctx: typer.Context,
    incident: str,
    new_severity: Annotated[str, typer.Argument(metavar="SEVERITY")],
    reason: Annotated[str, typer.Option(help="Why it changed.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Change an incident's severity."""
    data = call(
        ctx,
        "POST",
        f"/api/v1/incidents/{incident}/severity",
        json={"severity": new_severity, "reason": reason},
    )
    _done(as_json, data, f"{data['id']} is now {data['severity']}")


@app.command()
def assign(
    ctx: typer.Context,
    incident: str,
    role: Annotated[
        str,
        typer.Argument(
            help="commander, deployer, investigator, communications_lead, executive_liaison, "
            "verifier, scribe"
        ),
    ],
    person: Annotated[str, typer.Argument(help="Who takes it ('-' to clear).")],
    as_json: JsonOpt = False,
) -> None:
    """Assign a role."""
    body = {"role": role.replace("-", "_"), "person": None if person == "-" else person}
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/roles", json=body)
    _done(as_json, data, f"{data['id']}: {body['role']} → {person}")


@app.command()
def note(
    ctx: typer.Context,
    incident: str,
    text: Annotated[str, typer.Argument(help="The note.")],
    at: Annotated[str | None, typer.Option(help="Backdate: ISO time or '10m ago'.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the timeline."""
    body: dict[str, Any] = {"text": text}
    if at:
        body["occurred_at"] = _time_option(at, "--at")
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/notes", json=body)
    _done(as_json, data, f"note added to {data['id']}")


@app.command()
def timeline(
    ctx: typer.Context,
    incident: str,
    as_json: JsonOpt = False,
) -> None:
    """Show the incident's timeline."""
    data = call(ctx, "GET", f"/api/v1/incidents/{incident}/timeline")

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("When", "Event", "Who", "Details"):
            table.add_column(column, overflow="fold")
        for event in payload["events"]:
            table.add_row(
                local_time(event["occurred_at"]),
                event["type"],
                escape(event["actor"]),
                escape(_describe(event)),
            )
        console.print(table)

    emit(as_json, data, human)


def _describe(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    kind = event["type"]
    if kind == "declared":
        return f"{data.get('severity')} {data.get('title')}"
    if kind == "note_added":
        return str(data.get("text", ""))
    if kind in ("status_changed", "severity_changed", "type_changed"):
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"{data.get('from')} → {data.get('to')}{reason}"
    if kind == "role_assigned":
        return f"{data.get('role')}: {data.get('person') or '(cleared)'}"
    if kind == "resolved":
        return str(data.get("summary", ""))
    if kind == "reopened":
        return str(data.get("reason", ""))
    if kind == "recurrence_detected":
        return (
            f"RECURRENCE of {data.get('previous_incident')} (resolved "
            f"{data.get('previous_resolved_at')}), alert {data.get('fingerprint')}"
        )
    if kind in ("alert_attached", "alert_resolved", "alert_acknowledged"):
        return f"{data.get('integration')}: {data.get('summary') or data.get('alert')}"
    if kind == "triaged":
        text = f"{data.get('severity')}/{data.get('type')} by rule '{data.get('severity_rule')}'"
        if data.get("overridden"):
            text += f"; overrode {data.get('proposed_severity')}: {data.get('override_reason')}"
        return text
    return ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, dict | list))


@app.command()
def resolve(
    ctx: typer.Context,
    incident: str,
    summary: Annotated[str, typer.Option("--summary", "-m", help="What fixed it.")] = "",
    confirm: Annotated[
        list[str], typer.Option("--confirm", help="Checklist item id confirmed (repeat), or 'all'.")
    ] = [],
    waive: Annotated[list[str], typer.Option("--waive", help="item=reason (repeat).")] = [],
    as_json: JsonOpt = False,
) -> None:
    """Resolve: needs a summary and every checklist item confirmed or waived with a reason."""
    checklist: dict[str, dict[str, Any]] = {}
    if "all" in confirm:
        policy = call(ctx, "GET", "/api/v1/policy")
        confirm = [item["id"] for item in policy.get("resolution_checklist", [])]
    for item in confirm:
        checklist[item] = {"confirmed": True}
    for pair in waive:
        item, sep, reason = pair.partition("=")
        if not sep:
            fail(f"--waive {pair!r} must look like item=reason")
        checklist[item] = {"waived": reason}
    data = call(
        ctx,
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": summary, "checklist": checklist},
    )
    _done(as_json, data, f"{data['id']} resolved")


@app.command()
def close(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Close a resolved incident (post-mortem requirement permitting)."""
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/close")
    _done(as_json, data, f"{data['id']} closed")


@app.command()
def reopen(
    ctx: typer.Context,
    incident: str,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it is back.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Reopen a resolved or closed incident."""
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/reopen", json={"reason": reason})
    _done(as_json, data, f"{data['id']} reopened")


@postmortem_app.command("schedule")
def postmortem_schedule(
    ctx: typer.Context,
    incident: str,
    owner: Annotated[str, typer.Option(help="Who writes it.")],
    due: Annotated[str, typer.Option(help="ISO date/time or a duration from now like 48h.")],
    as_json: JsonOpt = False,
) -> None:
    """Schedule the post-mortem (owner and due date)."""
    try:
        due_at = (datetime.now(UTC) + parse_duration(due)).isoformat()
    except ValueError:
        due_at = _time_option(due, "--due") or ""
    data = call(
        ctx,
        "POST",
        f"/api/v1/incidents/{incident}/postmortem/schedule",
        json={"owner": owner, "due_at": due_at},
    )
    _done(
        as_json, data, f"post-mortem for {data['id']} scheduled: {owner}, due {local_time(due_at)}"
    )


# ---- triage ---------------------------------------------------------------------------

_QUESTIONS: list[tuple[str, str]] = [
    ("complete_outage", "Is the service completely down?"),
    ("data_loss", "Has data been lost or corrupted?"),
    ("security_breach", "Is a security breach suspected?"),
    ("customer_facing", "Is it customer-facing?"),
    ("workaround", "Is there a workaround?"),
    ("data_at_risk", "Is data at risk?"),
    ("recent_deploy", "Was there a recent deploy?"),
    ("third_party", "Is a third-party dependency failing?"),
    ("performance_only", "Is it only slow (working, but degraded)?"),
]


def _ask_triage() -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for key, question in _QUESTIONS:
        answers[key] = typer.confirm(question, default=False)
    pct = typer.prompt("Share of users affected (0-100 %)", default=0.0, type=float)
    answers["users_affected_pct"] = pct
    return answers


@app.command()
def triage(
    ctx: typer.Context,
    incident: Annotated[
        str | None, typer.Argument(help="Record the triage on this incident.")
    ] = None,
    complete_outage: Annotated[
        bool | None, typer.Option("--complete-outage/--no-complete-outage")
    ] = None,
    data_loss: Annotated[bool | None, typer.Option("--data-loss/--no-data-loss")] = None,
    security_breach: Annotated[
        bool | None, typer.Option("--security-breach/--no-security-breach")
    ] = None,
    users_pct: Annotated[
        float | None, typer.Option("--users-pct", help="Share of users affected, %.")
    ] = None,
    workaround: Annotated[bool | None, typer.Option("--workaround/--no-workaround")] = None,
    customer_facing: Annotated[bool | None, typer.Option("--customer-facing/--internal")] = None,
    data_at_risk: Annotated[bool | None, typer.Option("--data-at-risk/--no-data-at-risk")] = None,
    recent_deploy: Annotated[
        bool | None, typer.Option("--recent-deploy/--no-recent-deploy")
    ] = None,
    third_party: Annotated[bool | None, typer.Option("--third-party/--no-third-party")] = None,
    performance_only: Annotated[
        bool | None, typer.Option("--performance-only/--not-performance-only")
    ] = None,
    severity_: Annotated[
        str | None, typer.Option("--severity", help="Override the proposed severity.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Override the proposed type.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why you override the proposal.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accept the proposal without asking.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer the assessment questions; get a proposed severity and type with the deciding rule."""
    answers: dict[str, Any] = {
        "complete_outage": complete_outage,
        "data_loss": data_loss,
        "security_breach": security_breach,
        "users_affected_pct": users_pct,
        "workaround": workaround,
        "customer_facing": customer_facing,
        "data_at_risk": data_at_risk,
        "recent_deploy": recent_deploy,
        "third_party": third_party,
        "performance_only": performance_only,
    }
    answers = {k: v for k, v in answers.items() if v is not None}
    interactive = not answers and sys.stdin.isatty() and not as_json
    if interactive:
        answers = _ask_triage()
    if not answers:
        fail("give the assessment answers as flags (see --help), or run in a terminal to be asked")
    proposal = call(ctx, "POST", "/api/v1/triage", json=answers)
    if not as_json:
        console.print(
            f"Proposed: {severity_text(proposal['severity'])} / {proposal['type']}  "
            f"(severity rule: {escape(proposal['severity_rule'])}; "
            f"type rule: {escape(proposal['type_rule'])})"
        )
    if incident is None:
        if as_json:
            print_json(proposal)
        return
    if (
        interactive
        and not yes
        and not severity_
        and not typer.confirm(f"Accept {proposal['severity']}?", default=True)
    ):
        severity_ = typer.prompt("Severity")
        reason = typer.prompt("Reason for overriding")
    body: dict[str, Any] = {"answers": answers}
    if severity_:
        body["severity"] = severity_
    if type_:
        body["type"] = type_
    if reason:
        body["override_reason"] = reason
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/triage", json=body)
    _done(as_json, data, f"triage recorded on {data['id']}: {data['severity']} / {data['type']}")


# ---- tokens ---------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: str,
    scope: Annotated[
        list[str], typer.Option("--scope", help="admin, responder, viewer, ingest (repeat).")
    ] = [],
    agent: Annotated[
        bool,
        typer.Option("--agent", help="For an AI assistant: its actions show as agent:NAME."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a token; its value is shown once."""
    body = {"name": name, "scopes": scope or ["responder"], "kind": "agent" if agent else "token"}
    data = call(ctx, "POST", "/api/v1/tokens", json=body)
    if as_json:
        print_json(data)
    else:
        label = f"agent:{name}" if agent else name
        console.print(
            f"[green]✓[/] token {data['id']} '{escape(label)}' ({', '.join(data['scopes'])}):"
        )
        console.print(data["token"], highlight=False, soft_wrap=True)
        console.print("[dim]Store it now: only its hash is kept.[/]")


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List tokens (never their values)."""
    data = call(ctx, "GET", "/api/v1/tokens")

    def human(payload: dict[str, Any]) -> None:
        table = Table("ID", "Name", "Scopes", "Prefix", "Created", "Last used", "Revoked")
        for t in payload["items"]:
            table.add_row(
                str(t["id"]),
                escape(("agent:" if t.get("kind") == "agent" else "") + t["name"]),
                ", ".join(t["scopes"]),
                t["prefix"] + "…",
                relative(t["created_at"]),
                relative(t["last_used_at"]),
                relative(t["revoked_at"]) if t["revoked_at"] else "-",
            )
        console.print(table)

    emit(as_json, data, human)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int, as_json: JsonOpt = False) -> None:
    """Revoke a token."""
    data = call(ctx, "DELETE", f"/api/v1/tokens/{token_id}")
    _done(as_json, data, f"token {token_id} revoked")


# ---- db, policy, config ---------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Apply database migrations (also done on `serve` start)."""
    from warroom.core import migrate
    from warroom.core.db import Database
    from warroom.core.settings import Settings

    settings = Settings()
    if settings.database_url is None:
        settings.ensure_data_dir()
    db = Database(settings.resolved_database_url())
    try:
        before = migrate.current_revision(db)
        migrate.upgrade(db)
        after = migrate.current_revision(db)
    except Exception as exc:
        fail(f"migration failed: {type(exc).__name__}: {exc}", code=1)
    finally:
        db.dispose()
    data = {"from": before, "to": after, "database": _redact_url(db.url)}
    _done(as_json, data, f"database at revision {after} (was {before or 'empty'})")


def _database_url() -> str:
    from warroom.core.db import normalise_url
    from warroom.core.settings import Settings

    settings = Settings()
    if settings.database_url is None:
        settings.ensure_data_dir()
    return normalise_url(settings.resolved_database_url())


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (a new file).")],
    as_json: JsonOpt = False,
) -> None:
    """Online, consistent backup (SQLite backup API, or pg_dump for PostgreSQL)."""
    from warroom.core import backup
    from warroom.core.errors import WarroomError

    url = _database_url()
    try:
        size = backup.backup(url, file)
    except WarroomError as exc:
        fail(exc.message, code=2 if exc.status_code < 500 else 1)
    data = {"file": str(file), "bytes": size, "database": _redact_url(url)}
    _done(as_json, data, f"backup of {data['database']} written to {file} ({size:,} bytes)")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `warroom db backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the database without asking.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace the database's contents with a backup."""
    from warroom.core import backup
    from warroom.core.errors import WarroomError

    url = _database_url()
    if not yes:
        if not sys.stdin.isatty():
            fail("restoring replaces every incident in the database; add --yes to confirm")
        if not typer.confirm(f"Replace {_redact_url(url)} with {file}?", default=False):
            fail("restore cancelled", code=1)
    try:
        backup.restore(url, file)
    except WarroomError as exc:
        fail(exc.message, code=2 if exc.status_code < 500 else 1)
    data = {"file": str(file), "database": _redact_url(url)}
    _done(as_json, data, f"{data['database']} restored from {file}")


@app.command("audit")
def audit_cmd(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. token.create.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit log of administrative actions (admin)."""
    params: dict[str, Any] = {"limit": limit}
    if action:
        params["action"] = action
    data = call(ctx, "GET", "/api/v1/audit", params=params)

    def human(payload: dict[str, Any]) -> None:
        table = Table("When", "Who", "Action", "Target", "Details")
        for entry in payload["items"]:
            table.add_row(
                local_time(entry["at"]),
                escape(entry["actor"]),
                entry["action"],
                escape(entry["target"]),
                escape(", ".join(f"{k}={v}" for k, v in (entry.get("details") or {}).items())),
            )
        console.print(table)

    emit(as_json, data, human)


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """The configuration in force (settings and config file), secrets redacted."""
    import yaml

    from warroom.core.audit import redact
    from warroom.core.config import load_config
    from warroom.core.errors import WarroomError
    from warroom.core.settings import Settings
    from warroom.policy.loader import policy_to_data

    settings = Settings()
    try:
        config = load_config(settings.config)
    except WarroomError as exc:
        fail(exc.message)
    data = {
        "settings": {
            **settings.model_dump(mode="json", exclude={"admin_token"}),
            "admin_token": "***" if settings.admin_token else None,
            "database_url": _redact_url(settings.resolved_database_url()),
        },
        "policy": policy_to_data(config.policy),
        "services": [s.model_dump(mode="json") for s in config.services],
        **{
            name: section.model_dump(mode="json") if hasattr(section, "model_dump") else section
            for name, section in config.sections.items()
        },
    }
    data = redact(data)
    if as_json:
        print_json(data)
    else:
        console.print(escape(yaml.safe_dump(data, sort_keys=False, allow_unicode=True)))


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    preset: Annotated[str | None, typer.Option(help="Show a built-in preset instead.")] = None,
    list_presets: Annotated[bool, typer.Option("--list", help="List the presets.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the policy in force (or a preset)."""
    from warroom.core.config import load_config
    from warroom.core.errors import WarroomError
    from warroom.core.settings import Settings
    from warroom.policy.loader import PRESET_NAMES, load_preset, policy_to_data

    try:
        if list_presets:
            items = [{"name": n, "description": load_preset(n).description} for n in PRESET_NAMES]

            def human(rows: list[dict[str, str]]) -> None:
                for row in rows:
                    console.print(f"[bold]{row['name']}[/]: {escape(row['description'])}")

            emit(as_json, items, human)
            return
        policy = load_preset(preset) if preset else load_config(Settings().config).policy
    except WarroomError as exc:
        fail(exc.message)
    data = policy_to_data(policy)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{escape(data['name'])}[/]: {escape(data.get('description', ''))}")
    table = Table(
        "Severity", "Aliases", "Definition", "Response", "Resolution", "Updates", "Post-mortem"
    )
    for level in data["severities"]:
        pm = level.get("postmortem") or {}
        table.add_row(
            f"{level['id']} {escape(level.get('name', ''))}",
            ", ".join(level.get("aliases", [])),
            escape(level.get("definition", "")),
            str(level.get("response_target")),
            str(level.get("resolution_target")),
            str(level.get("update_interval") or "-"),
            f"{pm.get('requirement')} {pm.get('due_within') or ''}".strip(),
        )
    console.print(table)
    import yaml

    rest = {k: v for k, v in data.items() if k not in ("name", "description", "severities")}
    console.print(escape(yaml.safe_dump(rest, sort_keys=False, allow_unicode=True)))


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="The YAML config file to validate.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a config file offline; exit 0 if valid, 1 with every problem listed."""
    from warroom.core.config import check_config_file

    problems = check_config_file(file)
    if as_json:
        print_json({"valid": not problems, "problems": problems})
    elif problems:
        console.print(f"[red]{file}: {len(problems)} problem(s)[/]")
        for problem in problems:
            console.print(
                f"  {escape(str(problem.get('path')))}: {escape(str(problem.get('message')))}"
            )
    else:
        console.print(f"[green]✓[/] {file} is valid")
    if problems:
        raise typer.Exit(1)


def _register_plugins() -> None:
    from warroom.core.plugins import load_plugins

    for plugin in load_plugins():
        register = getattr(plugin, "register_cli", None)
        if register is not None:
            register(app)


_register_plugins()


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
