"""`warroom chat ...`: status, linked users, an incident's channels, and the listener."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, call_all, emit, fail
from warroom.cli.output import console, escape

chat_app = typer.Typer(
    help="Incident channels in Matrix, Slack and Mattermost.", no_args_is_help=True
)


@chat_app.command("status")
def status(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Also try each platform's credentials now (admin).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Each platform: whether its last delivery worked, open channels, the last error."""
    data = call(ctx, "GET", "/api/v1/chat/status")
    if check:
        data["check"] = call(ctx, "POST", "/api/v1/chat/check")["platforms"]

    def human(data: Any) -> None:
        if not data["platforms"]:
            console.print("No chat platform configured (see docs/chat.md).")
            return
        table = Table("platform", "state", "open channels", "last attempt", "last error")
        for p in data["platforms"]:
            error = p["last_error"] or ""
            if p["last_error_at"]:
                error = f"{p['last_error_at']}: {error}"
            table.add_row(
                p["platform"],
                p["state"],
                str(p["open_channels"]),
                p["last_attempt_at"] or "-",
                escape(error) or "-",
            )
        console.print(table)
        for result in data.get("check", []):
            mark = "[green]✓[/]" if result["ok"] else "[red]✗[/]"
            detail = f"as {result['as']}" if result["ok"] else escape(result["error"])
            console.print(f"{mark} {result['platform']}: {detail}")

    emit(as_json, data, human)


@chat_app.command("link")
def link(
    ctx: typer.Context,
    platform: Annotated[str, typer.Argument(help="matrix, slack or mattermost")],
    chat_user: Annotated[str, typer.Argument(help="@alice:example.org, U012AB3CD, or a user id")],
    person: Annotated[str, typer.Argument(help="The warroom person (warroom oncall person list)")],
    as_json: JsonOpt = False,
) -> None:
    """Link a chat user to a warroom person once (admin): they then act as that person."""
    body = {"platform": platform, "chat_user": chat_user, "person": person}
    data = call(ctx, "PUT", "/api/v1/chat/links", json=body)
    emit(
        as_json,
        data,
        lambda d: console.print(
            f"[green]✓[/] {escape(d['chat_user'])} on {d['platform']} acts as {escape(d['person'])}"
        ),
    )


@chat_app.command("unlink")
def unlink(ctx: typer.Context, platform: str, chat_user: str) -> None:
    """Remove a chat user's link (they can read but no longer act)."""
    call(ctx, "DELETE", f"/api/v1/chat/links/{platform}/{chat_user}")
    console.print(f"[green]✓[/] {escape(chat_user)} unlinked")


@chat_app.command("links")
def links(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Chat users linked to warroom people."""
    data = call_all(ctx, "/api/v1/chat/links")

    def human(rows: Any) -> None:
        table = Table("platform", "chat user", "person", "linked by", "at")
        for r in rows:
            table.add_row(
                r["platform"],
                escape(r["chat_user"]),
                escape(r["person"]),
                r["linked_by"],
                r["linked_at"],
            )
        console.print(table)

    emit(as_json, data, human)


@chat_app.command("channels")
def channels(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """An incident's channels and their links."""
    data = call_all(ctx, f"/api/v1/incidents/{incident}/chat")

    def human(rows: Any) -> None:
        if not rows:
            console.print(f"{escape(incident)} has no chat channel.")
        for r in rows:
            state = f" (archived {r['archived_at']})" if r["archived_at"] else ""
            console.print(f"{r['platform']}: {escape(r['name'])} {r['url']}{state}")

    emit(as_json, data, human)


@chat_app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    incident: Annotated[str | None, typer.Option(help="Only this incident's.")] = None,
    limit: int = 50,
    as_json: JsonOpt = False,
) -> None:
    """The chat delivery log: every call to a chat platform and its outcome."""
    params: dict[str, Any] = {"limit": limit}
    if incident:
        params["incident"] = incident
    data = call_all(ctx, "/api/v1/chat/deliveries", params=params, most=limit)

    def human(rows: Any) -> None:
        table = Table("at", "platform", "incident", "action", "attempt", "outcome")
        for r in rows:
            outcome = "ok" if r["ok"] else f"[red]{escape(r['error'] or 'failed')}[/]"
            table.add_row(
                r["attempted_at"],
                r["platform"],
                r["incident"] or "-",
                r["action"],
                str(r["attempt"]),
                outcome,
            )
        console.print(table)

    emit(as_json, data, human)


@chat_app.command("listen")
def listen() -> None:
    """Receive chat without a public URL: Matrix /sync and Slack Socket Mode (until stopped)."""
    import logging
    import threading

    from warroom.chat.listener import MatrixListener
    from warroom.chat.platform import ChatError
    from warroom.chat.service import ChatService
    from warroom.core.runtime import Runtime
    from warroom.core.settings import Settings

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long poll otherwise
    runtime = Runtime.build(Settings())
    service = runtime.chat
    config = service.config if isinstance(service, ChatService) else None
    socket = config is not None and config.slack is not None and config.slack.socket_mode
    if config is None or (config.matrix is None and not socket):
        fail("nothing to listen to: configure chat.matrix or chat.slack.socket_mode")
    assert isinstance(service, ChatService)
    stop = threading.Event()
    slack: Any = None
    try:
        if socket:
            from warroom.chat.slack_socket import SlackSocketListener

            slack = SlackSocketListener(service)
            slack.connect()
            console.print("connected to Slack (Socket Mode)")
        if config.matrix is not None:
            matrix = MatrixListener(service)
            console.print(f"listening to Matrix as {config.matrix.user_id}")
            matrix.run()
        else:
            stop.wait()
    except ChatError as exc:
        fail(exc.message)
    except KeyboardInterrupt:
        pass
    finally:
        if slack is not None:
            slack.close()
        runtime.close()


def register(app: typer.Typer) -> None:
    app.add_typer(chat_app, name="chat")
