"""`warroom metrics`: the report in the terminal, as JSON or CSV, and charts to files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, fail
from warroom.cli.output import console, escape, print_json
from warroom.core.durations import format_duration
from warroom.metrics import charts, compute

metrics_app = typer.Typer(help="Incident metrics: MTTx, SLA, update cadence, trends, charts.")

SinceOpt = Annotated[
    str | None,
    typer.Option(
        help="Start: ISO date/datetime or a duration ago (30d). Default: 90d before until."
    ),
]
UntilOpt = Annotated[str | None, typer.Option(help="End (exclusive). Default: now.")]
ByOpt = Annotated[str, typer.Option(help="Group by " + "|".join(compute.GROUPINGS) + ".")]
TzOpt = Annotated[
    str | None, typer.Option("--tz", help="Time zone for weeks and naive dates (default UTC).")
]


def _params(since: str | None, until: str | None, by: str, tz: str | None) -> dict[str, Any]:
    if by not in compute.GROUPINGS:
        fail(f"--by must be one of {', '.join(compute.GROUPINGS)}")
    params: dict[str, Any] = {"by": by}
    for key, value in (("since", since), ("until", until), ("tz", tz)):
        if value:
            params[key] = value
    return params


def _secs(value: Any) -> str:
    if value is None:
        return "-"
    from datetime import timedelta

    return format_duration(timedelta(seconds=float(value)))


def _pct(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.0f}%"


@metrics_app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: ByOpt = "severity",
    tz: TzOpt = None,
    incidents: Annotated[
        bool, typer.Option("--incidents", help="One row per incident (with 'SLA met').")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The metrics report for incidents declared in [since, until)."""
    if ctx.invoked_subcommand is not None:
        return
    params = _params(since, until, by, tz)
    if incidents:
        params["incidents"] = "true"
    data = call(ctx, "GET", "/api/v1/metrics", params=params)
    if as_json:
        print_json(data)
    elif as_csv:
        sys.stdout.write(compute.to_csv(data, incidents=incidents))
    else:
        _human(data, incidents)


def _human(data: dict[str, Any], incidents: bool) -> None:
    overall = data["overall"]
    console.print(
        f"[bold]Incidents declared {data['since'][:16]} → {data['until'][:16]}[/] "
        f"({data['timezone']}; MTTR from {data['mttr_from']}): "
        f"{overall['incidents']} ({overall['open']} open), "
        f"{data['incidents_per_week']:.1f}/week"
    )
    table = Table(title=f"by {data['by']}")
    for column in (
        data["by"],
        "n",
        "MTTD",
        "MTTA",
        "MTTM",
        "MTTR med",
        "MTTR p90",
        "SLA met",
        "updates on time",
        "PM done",
        "cost",
        "flagged",
    ):
        table.add_column(column, justify="left" if column == data["by"] else "right")
    for key, group in [(g["key"], g) for g in data["groups"]] + [("(all)", overall)]:
        f = group["figures"]
        table.add_row(
            escape(str(key)),
            str(group["incidents"]),
            _secs(f["time_to_detect"]["median"]),
            _secs(f["time_to_acknowledge"]["median"]),
            _secs(f["time_to_mitigate"]["median"]),
            _secs(f["mttr"]["median"]),
            _secs(f["mttr"]["p90"]),
            _sla_text(group["sla"], group["incidents"]),
            _pct(group["update_cadence"]["compliance"]),
            _pct(group["postmortems"]["completion"]),
            f"{group['cost']['estimate']:,.0f}" if group["cost"]["incidents_with_revenue"] else "-",
            str(group["flagged"]),
        )
    console.print(table)
    console.print("MTTD/MTTA/MTTM are medians; figures exclude open and flagged-missing phases.")
    items = data.get("action_items", {})
    if items.get("available"):
        details = ", ".join(f"{k} {v}" for k, v in items.items() if k != "available")
        console.print(f"action items: {escape(details)}")
    else:
        console.print("action items: unavailable (post-mortem package not installed)")
    flagged = data["flagged"]
    if flagged["total"]:
        console.print(f"[yellow]{flagged['total']} flagged incident(s):[/]")
        for item in flagged["items"][:10]:
            console.print(
                f"  {item['id']} {escape(item['title'])}: {escape('; '.join(item['flags']))}"
            )
        if flagged["total"] > 10:
            console.print("  … (use --json for all)")
    if incidents:
        rows = Table(title="incidents")
        for column in ("id", "severity", "status", "MTTR", "response", "resolution", "SLA met"):
            rows.add_column(column)
        for row in data.get("incidents", []):
            met = row["sla_met"]
            rows.add_row(
                row["id"],
                escape(row["severity"]),
                row["status"],
                _secs(row["mttr"]),
                _verdict_text(row["sla_response"]),
                _verdict_text(row["sla_resolution"]),
                "yes" if met is True else "no" if met is False else "-",
            )
        console.print(rows)


def _sla_text(sla: dict[str, Any], incidents: int) -> str:
    """The compliance, or "not set" when the process sets no measurable target for the group."""
    unset = min(sla["response"].get("not_set", 0), sla["resolution"].get("not_set", 0))
    if sla["compliance"] is None and incidents and unset == incidents:
        return "not set"
    return _pct(sla["compliance"])


def _verdict_text(verdict: str | None) -> str:
    if verdict in (None, "not_set"):
        return "not set by this process"
    return str(verdict)


@metrics_app.command("rebuild")
def rebuild(
    ctx: typer.Context,
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Recompute every incident's row, not only missing or stale ones."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fill or refresh the per-incident metrics rows (admin; after an upgrade or a policy
    change, so reports read them instead of computing those incidents from their events)."""
    params = {"all": "true"} if everything else {}
    result = call(ctx, "POST", "/api/v1/metrics/rebuild", params=params)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"[green]✓[/] wrote {result['written']:,} metrics row(s) "
            f"for {result['incidents']:,} incident(s)"
        )


@metrics_app.command("chart")
def chart(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="One of: " + ", ".join(charts.CHARTS))],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.svg or .png).")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: ByOpt = "severity",
    tz: TzOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a chart (mttr-trend, incidents-by-severity, sla-compliance) as SVG or PNG."""
    if name not in charts.CHARTS:
        fail(f"unknown chart {name!r}; charts: {', '.join(charts.CHARTS)}")
    suffix = out.suffix.lower()
    if suffix not in (".svg", ".png"):
        fail("--out must end in .svg or .png")
    data = call(ctx, "GET", "/api/v1/metrics", params=_params(since, until, by, tz))
    if suffix == ".png":
        out.write_bytes(charts.png(name, data))
    else:
        out.write_text(charts.svg(name, data), encoding="utf-8")
    result = {"chart": name, "file": str(out), "bytes": out.stat().st_size}
    if as_json:
        print_json(result)
    else:
        console.print(f"[green]✓[/] wrote {escape(str(out))} ({result['bytes']:,} bytes)")
