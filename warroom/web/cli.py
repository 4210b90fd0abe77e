"""`warroom user ...` (web logins) and `warroom demo` (a living dataset for newcomers)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, call_all, emit, fail
from warroom.cli.output import console, escape, print_json, relative

user_app = typer.Typer(
    help="Web users (admin): who can log in to the web UI.", no_args_is_help=True
)


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name (lowercase slug).")],
    role: Annotated[
        str, typer.Option("--role", "-r", help="admin, responder or viewer.")
    ] = "responder",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a web user; the password is asked for (never an argument) and stored as argon2."""
    if role not in ("admin", "responder", "viewer"):
        fail(f"unknown role {role!r}; choose admin, responder or viewer")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    data = call(
        ctx, "POST", "/api/v1/users", json={"name": name, "password": password, "role": role}
    )
    if as_json:
        print_json(data)
    else:
        console.print(f"[green]✓[/] user {escape(data['name'])} ({data['role']}) created")


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List web users."""
    data = call_all(ctx, "/api/v1/users")

    def human(payload: dict[str, Any]) -> None:
        table = Table("Name", "Role", "Created", "Last login", "Disabled")
        for u in payload["items"]:
            table.add_row(
                escape(u["name"]),
                u["role"],
                relative(u["created_at"]),
                relative(u["last_login_at"]) if u["last_login_at"] else "-",
                "yes" if u["disabled_at"] else "",
            )
        console.print(table)

    emit(as_json, data, human)


def _new_password(password_stdin: bool, prompt: str = "New password") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


NameArg = Annotated[str, typer.Argument(help="The user's login name.")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
]


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context, name: NameArg, password_stdin: StdinOpt = False, as_json: JsonOpt = False
) -> None:
    """Set a new password for a user (admin); their web sessions end.

    Locked out (the last admin's password lost)? Run this on the server's machine, without
    --server: it acts on the local database as an administrator.
    """
    password = _new_password(password_stdin)
    data = call(ctx, "POST", f"/api/v1/users/{name}/password", json={"password": password})
    _done(
        as_json,
        data,
        f"password of {data['name']} reset; {data['sessions_ended']} session(s) ended",
    )


@user_app.command("change-password")
def user_change_password(
    ctx: typer.Context, name: NameArg, password_stdin: StdinOpt = False, as_json: JsonOpt = False
) -> None:
    """Change your own password, giving the current one (stdin: current, then new, one a line)."""
    if password_stdin:
        current = sys.stdin.readline().rstrip("\n")
        password = sys.stdin.readline().rstrip("\n")
    else:
        current = str(typer.prompt("Current password", hide_input=True))
        password = _new_password(False)
    body = {"password": password, "current_password": current}
    data = call(ctx, "POST", f"/api/v1/users/{name}/password", json=body)
    _done(as_json, data, f"password of {data['name']} changed")


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Disable a user (admin): no login, sessions end and their API tokens are revoked at once."""
    data = call(ctx, "POST", f"/api/v1/users/{name}/disable")
    _done(
        as_json, data,
        f"{data['name']} disabled: {data['sessions_ended']} session(s) ended, "
        f"{data['tokens_revoked']} token(s) revoked",
    )  # fmt: skip


@user_app.command("enable")
def user_enable(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Let a disabled user log in again (admin)."""
    data = call(ctx, "POST", f"/api/v1/users/{name}/enable")
    _done(as_json, data, f"{data['name']} enabled")


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    name: NameArg,
    role: Annotated[str, typer.Argument(help="admin, responder or viewer.")],
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role (admin); it applies to their next request."""
    data = call(ctx, "PATCH", f"/api/v1/users/{name}", json={"role": role})
    _done(as_json, data, f"{data['name']} is now {data['role']}")


@user_app.command("delete")
def user_delete(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the deletion.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a user (admin): sessions end, tokens revoked; timelines keep their name."""
    if not yes:
        fail(f"deleting {name} cannot be undone: add --yes (or disable the user instead)")
    data = call(ctx, "DELETE", f"/api/v1/users/{name}")
    _done(as_json, data, f"{data['name']} deleted")


def _done(as_json: bool, data: dict[str, Any], message: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(f"[green]✓[/] {escape(message)}")


def demo(
    password: Annotated[
        str | None,
        typer.Option(help="Password for the demo users (default: a random one, printed)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a demo dataset into the local database: users, a resolved SEV2, an active SEV1."""
    from warroom.core.errors import WarroomError
    from warroom.core.settings import Settings
    from warroom.web.demo import load_demo

    try:
        result = load_demo(Settings(), password=password)
    except WarroomError as exc:
        fail(exc.message)
    if as_json:
        print_json(result)
        return
    console.print("[green]✓[/] demo data loaded:")
    for incident in result["incidents"]:
        console.print(f"  {incident['id']}  {incident['severity']}  {escape(incident['title'])}")
    console.print(f"Web users (password for all: [bold]{escape(result['password'])}[/]):")
    for user in result["users"]:
        console.print(f"  {user['name']} ({user['role']})")
    if result.get("oncall"):
        schedules = ", ".join(result["oncall"]["schedules"])
        console.print(f"On call: people, teams, escalation policies and schedules ({schedules}).")
    if result.get("catalog"):
        console.print(
            f"Service catalog: {escape(result['catalog_path'])} (a running warroom serve takes "
            "it up at its next request; no restart)."
        )
    else:
        console.print(
            "For the demo's service catalog (owner teams, escalation policies), start with "
            f"[bold]WARROOM_CONFIG={escape(result['catalog_path'])}[/]"
        )
    console.print("Start the server with [bold]warroom serve[/] (or keep yours) and log in.")


def register_cli(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.command("demo")(demo)
