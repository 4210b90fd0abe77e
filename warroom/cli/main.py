"""The `warroom` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli import common
from warroom.cli.common import JsonOpt, call, call_all, done, emit, fail
from warroom.cli.outbox import outbox_app
from warroom.cli.output import (
    console,
    escape,
    local_time,
    print_json,
    relative,
)
from warroom.cli.plugins import PluginCommands
from warroom.incidents.cli import register as register_incident_commands

app = typer.Typer(
    cls=PluginCommands,
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
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
app.add_typer(config_app, name="config")
app.add_typer(outbox_app, name="outbox")

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_level(value: str) -> str:
    if value.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.lower()


LogLevel = Annotated[
    str, typer.Option(help=f"Log level: {', '.join(LOG_LEVELS)}.", callback=_log_level)
]


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
    log_level: LogLevel = "info",
    proxy_headers: Annotated[
        bool | None,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Trust X-Forwarded-Proto/For from --forwarded-allow-ips (WARROOM_PROXY_HEADERS).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxy addresses to trust, comma-separated or '*' (WARROOM_FORWARDED_ALLOW_IPS)."
        ),
    ] = None,
) -> None:
    """Run the API, web pages and (unless --no-worker) the worker, in this process or, with
    --worker-process, in a child process it starts and stops."""
    import logging

    import uvicorn

    from warroom.api.app import create_app
    from warroom.api.http_protocol import HttpProtocol
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
    if proxy_headers is not None:
        overrides["proxy_headers"] = proxy_headers
    if forwarded_allow_ips is not None:
        overrides["forwarded_allow_ips"] = forwarded_allow_ips
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
        child = _start_worker_process(runtime, settings, log_level)
        # The child acts on the webhooks this process acknowledges, on a core of its own.
        runtime.alerts.intake.process_elsewhere(child.wake_intake)
    else:
        if not no_worker:
            worker = Worker(runtime)
            try:
                worker.acquire_single_writer_lock()
            except WorkerLocked as exc:
                fail(f"{exc}; start this server with --no-worker")
            worker.start_thread()
        # Webhooks acknowledged by a process that died before acting on them, or by another
        # replica, are processed here too.
        runtime.alerts.intake.processor.keep_running()
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
        for line in plugin.first_start(runtime):
            say(line)
    try:
        # Live pages hold server-sent event streams open; do not wait for them on shutdown.
        uvicorn.run(
            app_,
            http=HttpProtocol,
            host=settings.host,
            port=settings.port,
            log_level=log_level.lower(),
            timeout_graceful_shutdown=3,
            proxy_headers=settings.proxy_headers,
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
    finally:
        if worker:
            worker.stop()
        if child is not None:
            child.stop()
        runtime.close()


def _start_worker_process(runtime: Any, settings: Any, log_level: str) -> Any:
    """`warroom worker --wake-on-stdin` as a supervised child process (see WorkerProcess),
    logging at the server's level."""
    from warroom.worker import WorkerProcess

    env = {**os.environ, "WARROOM_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["WARROOM_DATABASE_URL"] = settings.database_url
    args = [sys.executable, "-m", "warroom", "worker", "--wake-on-stdin", "--intake"]
    args += ["--log-level", log_level]
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
    intake: Annotated[
        bool,
        typer.Option(
            "--intake",
            help="Also act on the webhooks servers acknowledge (the intake log), and finish "
            "what is pending before stopping (`serve --worker-process`).",
        ),
    ] = False,
    log_level: LogLevel = "info",
) -> None:
    """Run a worker: fires due effects (notifications, escalations, reminders)."""
    import logging

    from warroom.core.runtime import Runtime, settle_heap
    from warroom.core.settings import Settings
    from warroom.worker import Worker, WorkerLocked

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runtime = _build_runtime(Runtime, Settings())
    from datetime import timedelta

    instance = Worker(runtime, lease=timedelta(seconds=lease), batch=batch, concurrency=concurrency)
    try:
        instance.acquire_single_writer_lock()
    except WorkerLocked as exc:
        fail(str(exc))
    console.print(f"worker {instance.name} on {_redact_url(runtime.db.url)}")

    def wake_intake() -> None:  # the runtime's current services (a config change rewires them)
        runtime.alerts.intake.processor.wake()

    if intake:
        runtime.alerts.intake.processor.keep_running()
    if wake_on_stdin:
        from warroom.worker import wake_on_input

        wake_on_input(instance, sys.stdin.fileno(), wake_intake if intake else None)
    settle_heap()
    try:
        instance.run_forever(poll)
    except KeyboardInterrupt:
        pass
    finally:
        if intake:
            from warroom.alerts.intake import CLOSE_DRAIN_SECONDS

            # A server started again at once starts its own worker meanwhile; acting on the
            # intake log needs no lock of its own (processors take turns on it).
            instance.release_single_writer_lock()
            runtime.alerts.intake.drain(CLOSE_DRAIN_SECONDS)
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


# ---- incidents (warroom.incidents.cli) ---------------------------------------------------

register_incident_commands(app)


# ---- tokens ---------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: str,
    scope: Annotated[
        list[str], typer.Option("--scope", help="admin, responder, viewer, ingest, scim (repeat).")
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
    data = call_all(ctx, "/api/v1/tokens")

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
    done(as_json, data, f"token {token_id} revoked")


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
    done(as_json, data, f"database at revision {after} (was {before or 'empty'})")


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
    done(as_json, data, f"backup of {data['database']} written to {file} ({size:,} bytes)")


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
    done(as_json, data, f"{data['database']} restored from {file}")


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
    data = call_all(ctx, "/api/v1/audit", params=params, most=limit)

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
    from warroom.core.config import check_config_file, config_file_warnings

    problems = check_config_file(file)
    warnings = config_file_warnings(file)
    if as_json:
        print_json({"valid": not problems, "problems": problems, "warnings": warnings})
    elif problems:
        console.print(f"[red]{file}: {len(problems)} problem(s)[/]")
        for problem in problems:
            console.print(
                f"  {escape(str(problem.get('path')))}: {escape(str(problem.get('message')))}"
            )
    else:
        console.print(f"[green]✓[/] {file} is valid")
    if warnings and not as_json:
        for warning in warnings:
            console.print(
                f"  [yellow]warning[/] {escape(str(warning.get('path')))}: "
                f"{escape(str(warning.get('message')))}"
            )
    if problems:
        raise typer.Exit(1)


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
