"""`warroom flag` and `warroom stop` commands (condition flags and MUST STOP decisions)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from warroom.cli.common import JsonOpt, call, emit, fail
from warroom.cli.output import console, escape, print_json

stop_app = typer.Typer(
    help="MUST STOP rules raised on an incident: list them, acknowledge with a decision.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("flag")(flag)
    app.add_typer(stop_app, name="stop")


def flag(
    ctx: typer.Context,
    incident: str,
    name: Annotated[
        str,
        typer.Argument(help="The flag, e.g. data_loss, data_breach_suspected, customer_facing."),
    ],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (on the timeline).")],
    off: Annotated[bool, typer.Option("--off", help="Turn the flag off.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set (or with --off clear) a condition flag; escalation rules on it fire at once."""
    if not reason.strip():
        fail("--reason must not be blank: say why the flag changes")
    body = {"flag": name, "value": not off, "reason": reason}
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/flags", json=body)
    if as_json:
        print_json(data)
    else:
        state = "off" if off else "on"
        console.print(f"[green]✓[/] {escape(data['id'])}: {escape(name)} is {state}")
        if data.get("stopped"):
            _print_stops(data)


def _print_stops(data: dict[str, Any]) -> None:
    stops = data.get("stops") or {}
    if not stops:
        console.print(f"{escape(data['id'])}: no MUST STOP raised")
        return
    for rule, stop in stops.items():
        console.print(
            f"[bold white on red] MUST STOP [/] [bold]{escape(rule)}[/]: "
            f"{escape(str(stop.get('text', '')))} — {escape(str(stop.get('reason', '')))}"
        )
    console.print(
        f'Decide, then: warroom stop ack {escape(data["id"])} RULE --decision "what you decided"'
    )


@stop_app.command("list")
def stop_list(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """The MUST STOP rules raised and not yet acknowledged."""
    data = call(ctx, "GET", f"/api/v1/incidents/{incident}")
    emit(as_json, {"id": data["id"], "stops": data.get("stops") or {}}, _print_stops)


@stop_app.command("ack")
def stop_ack(
    ctx: typer.Context,
    incident: str,
    rule: Annotated[str, typer.Argument(help="The stop rule id (warroom stop list INCIDENT).")],
    decision: Annotated[
        str, typer.Option("--decision", "-d", help="What was decided (on the timeline).")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge a raised MUST STOP with the decision taken."""
    if not decision.strip():
        fail("--decision must not be blank: record what was decided")
    data = call(
        ctx,
        "POST",
        f"/api/v1/incidents/{incident}/stops/{rule}/acknowledge",
        json={"decision": decision},
    )
    if as_json:
        print_json(data)
    else:
        console.print(f"[green]✓[/] {escape(data['id'])}: stop {escape(rule)} acknowledged")
        if data.get("stopped"):
            _print_stops(data)
