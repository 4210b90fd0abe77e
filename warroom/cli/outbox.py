"""`warroom outbox`: effects not yet done, and `retry ID`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from warroom.cli.common import JsonOpt, call, call_all, emit
from warroom.cli.output import console, local_time, print_table

outbox_app = typer.Typer(help="Pending and failed effects.", invoke_without_command=True)


@outbox_app.callback()
def outbox_list(
    ctx: typer.Context,
    status: Annotated[
        list[str], typer.Option(help="pending, running, failed, dead, done; repeat.")
    ] = [],
    as_json: JsonOpt = False,
) -> None:
    """Effects not yet done (pending, running, failed, dead); `retry ID` re-queues one."""
    if ctx.invoked_subcommand is not None:
        return
    params: dict[str, Any] = {"status": status} if status else {}
    data = call_all(ctx, "/api/v1/outbox", params=params)

    def human(d: Any) -> None:
        print_table(
            "Outbox",
            ["id", "kind", "status", "due", "attempts", "last error"],
            [
                [
                    e["id"],
                    e["kind"],
                    e["status"],
                    local_time(e["due_at"]),
                    e["attempts"],
                    (e["last_error"] or "")[:80],
                ]
                for e in d["items"]
            ],
        )
        console.print("depth: " + ", ".join(f"{k} {v}" for k, v in sorted(d["depth"].items())))

    emit(as_json, data, human)


@outbox_app.command("retry")
def outbox_retry(ctx: typer.Context, effect_id: int, as_json: JsonOpt = False) -> None:
    """Queue a failed or dead effect again, due now."""
    data = call(ctx, "POST", f"/api/v1/outbox/{effect_id}/retry")
    emit(as_json, data, lambda _d: console.print(f"[green]✓[/] effect {effect_id} queued again"))
