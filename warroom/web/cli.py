"""`warroom user ...` (web logins) and `warroom demo` (a living dataset for newcomers)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, emit, fail
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
    data = call(ctx, "GET", "/api/v1/users")

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
    if not result.get("catalog"):
        console.print(
            "For the demo's service catalog (owner teams, escalation policies), start with "
            f"[bold]WARROOM_CONFIG={escape(result['catalog_path'])}[/]"
        )
    console.print("Start the server with [bold]warroom serve[/] and log in.")


def register_cli(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.command("demo")(demo)
