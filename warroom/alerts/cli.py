"""`warroom integrations`, `warroom alerts`, `warroom routes` and `warroom silence`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, call_all, emit, fail
from warroom.cli.output import console, escape, local_time, relative, severity_text, status_text

integrations_app = typer.Typer(
    help="Alert integrations and their keys (admin).", no_args_is_help=True
)
alerts_app = typer.Typer(help="Alerts received from integrations.", no_args_is_help=True)
routes_app = typer.Typer(help="Alert routing rules.", no_args_is_help=True)
silence_app = typer.Typer(help="Silences / maintenance windows.", no_args_is_help=True)


def register_cli(app: typer.Typer) -> None:
    app.add_typer(integrations_app, name="integrations")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(routes_app, name="routes")
    app.add_typer(silence_app, name="silence")


def _pairs(pairs: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{what} {pair!r} must look like key=value")
        out[key.strip()] = value.strip()
    return out


# ---- integrations ----------------------------------------------------------------------


def _show_key(data: dict[str, Any]) -> None:
    console.print(
        f"[green]✓[/] integration [bold]{escape(data['name'])}[/] ({data['kind']})  "
        f"endpoint: {escape(data.get('endpoint', ''))}"
    )
    console.print(
        f"[bold yellow]Key (shown once, only its hash is stored):[/] [bold]{data['key']}[/]"
    )


@integrations_app.command("create")
def integrations_create(
    ctx: typer.Context,
    name: str,
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="alertmanager|pagerduty|grafana|generic|heartbeat")
    ],
    service: Annotated[str | None, typer.Option(help="Service when labels name none.")] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Requests per second (0 = unlimited).")
    ] = None,
    timeout: Annotated[int | None, typer.Option(help="Heartbeat timeout in seconds.")] = None,
    options_json: Annotated[
        str | None,
        typer.Option("--options", help='More options as JSON, e.g. {"mapping": {...}}.'),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="Keep a key senders already use (e.g. a PagerDuty routing key); "
            "default: a new one.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an integration and print its key once."""
    options: dict[str, Any] = {}
    if options_json:
        try:
            loaded = json.loads(options_json)
        except ValueError:
            fail("--options must be a JSON object")
        if not isinstance(loaded, dict):
            fail("--options must be a JSON object")
        options.update(loaded)
    if service:
        options["service"] = service
    if rate_limit is not None:
        options["rate_limit"] = rate_limit
    if timeout is not None:
        options["timeout_seconds"] = timeout
    data = call(
        ctx,
        "POST",
        "/api/v1/integrations",
        json={"name": name, "kind": kind, "options": options, "key": key},
    )
    emit(as_json, data, _show_key)


@integrations_app.command("list")
def integrations_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List integrations (never their keys)."""
    data = call_all(ctx, "/api/v1/integrations")

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("Name", "Kind", "Source", "Key", "Endpoint", "State"):
            table.add_column(column)
        for item in payload["items"]:
            state = "[red]revoked[/]" if item.get("revoked_at") else "[green]active[/]"
            table.add_row(
                escape(item["name"]),
                item["kind"],
                item["source"],
                (item.get("key_prefix") or "") + "…" if item.get("key_prefix") else "(config)",
                escape(item.get("endpoint", "")),
                state,
            )
        console.print(table)

    emit(as_json, data, human)


@integrations_app.command("rotate")
def integrations_rotate(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Issue a new key; the old key stops working at once."""
    emit(as_json, call(ctx, "POST", f"/api/v1/integrations/{name}/rotate"), _show_key)


@integrations_app.command("revoke")
def integrations_revoke(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Revoke the key: intake from this integration is refused until rotated."""
    data = call(ctx, "POST", f"/api/v1/integrations/{name}/revoke")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] {escape(d['name'])} revoked"))


# ---- alerts ----------------------------------------------------------------------------


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open|firing|acknowledged|resolved")] = None,
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    incident: Annotated[str | None, typer.Option(help="Only alerts of this incident.")] = None,
    silenced: Annotated[
        bool | None, typer.Option("--silenced/--not-silenced", help="Filter on silenced.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Alerts, newest first."""
    params: dict[str, Any] = {"limit": limit}
    for key, value in (
        ("status", status),
        ("integration", integration),
        ("incident", incident),
        ("silenced", silenced),
    ):
        if value is not None:
            params[key] = value
    data = call_all(ctx, "/api/v1/alerts", params=params, most=limit)

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("ID", "Status", "Sev", "Summary", "Service", "Incident", "Count", "Last"):
            table.add_column(column, overflow="fold")
        for item in payload["items"]:
            state = item["status"]
            if item.get("silenced"):
                state += " [dim](silenced)[/]"
            table.add_row(
                str(item["id"]),
                state,
                severity_text(item["severity"]) if item.get("severity") else "-",
                escape(item["summary"]),
                escape(item.get("service") or "-"),
                item.get("incident")
                or {"record": "recorded", "test": "test"}.get(item["action"], "-"),
                str(item["count"]),
                relative(item.get("last_seen")),
            )
        console.print(table)

    emit(as_json, data, human)


@alerts_app.command("show")
def alerts_show(ctx: typer.Context, alert_id: int, as_json: JsonOpt = False) -> None:
    """One alert: labels, annotations, routing, silence and its incident."""
    data = call(ctx, "GET", f"/api/v1/alerts/{alert_id}")

    def human(d: dict[str, Any]) -> None:
        console.print(f"[bold]alert {d['id']}[/]  {d['status']}  [bold]{escape(d['summary'])}[/]")
        if d.get("recurred"):
            console.print(
                "[bold white on red] RECURRENCE [/] its incident fired again within the "
                "recurrence window after being resolved"
            )
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column()
        grid.add_row("integration", f"{escape(d['integration'])} ({d['kind']})")
        grid.add_row("identity", escape(d["identity"]))
        grid.add_row("group", escape(d.get("group_key") or "-"))
        grid.add_row(
            "routing",
            f"route {escape(d['route'])} → {d.get('severity') or '-'}, "
            f"service {escape(d.get('service') or '-')}, {d['action']}",
        )
        incident = d.get("incident")
        if incident:
            grid.add_row("incident", f"{incident} ({status_text(d.get('incident_status') or '')})")
        if d.get("silence"):
            s = d["silence"]
            grid.add_row(
                "silenced by",
                f"#{s['id']} {escape(', '.join(s['matchers']))} — {escape(s['comment'])} "
                f"({escape(s['author'])})",
            )
        grid.add_row("count", str(d["count"]))
        grid.add_row("starts", local_time(d.get("starts_at")))
        grid.add_row("last seen", local_time(d.get("last_seen")))
        if d.get("resolved_at"):
            grid.add_row("resolved", local_time(d["resolved_at"]))
        grid.add_row("labels", escape(", ".join(f"{k}={v}" for k, v in d["labels"].items())))
        for key, value in (d.get("annotations") or {}).items():
            grid.add_row(escape(key), escape(str(value)))
        if d.get("generator_url"):
            grid.add_row("source", escape(d["generator_url"]))
        console.print(grid)

    emit(as_json, data, human)


@alerts_app.command("counts")
def alerts_counts(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Intake counters: received, deduplicated, silenced, ..."""
    data = call(ctx, "GET", "/api/v1/alerts/counts")
    emit(
        as_json,
        data,
        lambda d: console.print("  ".join(f"{k}: [bold]{v}[/]" for k, v in d.items())),
    )


@alerts_app.command("heartbeats")
def alerts_heartbeats(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Heartbeat monitors: state, last ping, timeout."""
    data = call_all(ctx, "/api/v1/heartbeats")

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("Heartbeat", "State", "Last ping", "Timeout"):
            table.add_column(column)
        styles = {"healthy": "green", "unhealthy": "bold red", "inactive": "dim"}
        for item in payload["items"]:
            state = item["state"]
            table.add_row(
                escape(item["integration"]),
                f"[{styles.get(state, 'white')}]{state}[/]",
                relative(item.get("last_seen")),
                f"{item['timeout_seconds']} s",
            )
        console.print(table)

    emit(as_json, data, human)


# ---- routes ----------------------------------------------------------------------------


def _route_line(d: dict[str, Any]) -> str:
    """What a rule does, in one line: when ... then ..."""
    then: list[str] = []
    if d.get("service"):
        then.append(f"service {escape(d['service'])}")
    elif d.get("service_label", "service") != "service":
        then.append(f"service from label {escape(d['service_label'])}")
    if d.get("severity"):
        then.append(f"severity {severity_text(d['severity'])}")
    for source, target in (d.get("severity_map") or {}).items():
        then.append(f"{escape(source)} → {severity_text(target)}")
    if d.get("action"):
        then.append("declare an incident" if d["action"] == "declare" else "record only")
    return f"{escape(', '.join(d['matchers']))} ⇒ {', '.join(then) or 'defaults'}"


@routes_app.command("add")
def routes_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A lowercase name for the rule.")],
    match: Annotated[
        list[str],
        typer.Option("--match", "-m", help="Label matcher, e.g. service=payments (repeatable)."),
    ],
    service: Annotated[str | None, typer.Option(help="Alerts go to this service.")] = None,
    service_label: Annotated[
        str | None, typer.Option(help="Read the service from this label instead of `service`.")
    ] = None,
    severity: Annotated[
        str | None, typer.Option(help="A fixed policy severity, e.g. SEV1.")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Source severity to policy severity: critical=SEV1 (repeat)."),
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="declare (an incident) or record (only store the alert).")
    ] = None,
    position: Annotated[
        int | None, typer.Option(min=1, help="1 = tried first (default: after the others).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a routing rule: alerts matching every matcher get its service, severity, action."""
    body: dict[str, Any] = {"name": name, "matchers": match}
    for key, value in (
        ("service", service),
        ("service_label", service_label),
        ("severity", severity),
        ("action", action),
        ("position", position),
    ):
        if value is not None:
            body[key] = value
    if map_:
        body["severity_map"] = _pairs(map_, "--map")
    data = call(ctx, "POST", "/api/v1/routes", json=body)
    emit(
        as_json,
        data,
        lambda d: console.print(
            f"[green]✓[/] rule [bold]{escape(d['name'])}[/] (tried #{d['position']}): "
            + _route_line(d)
        ),
    )


@routes_app.command("list")
def routes_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Routing rules in the order they are tried (the first that matches decides)."""
    data = call_all(ctx, "/api/v1/routes")

    def human(payload: dict[str, Any]) -> None:
        if not payload["items"]:
            console.print(
                "no routing rules: `service` and `severity` labels decide "
                "(critical → declare, warning/info → record)"
            )
            return
        table = Table(show_header=True, header_style="bold")
        for column in ("#", "Name", "Rule", "From"):
            table.add_column(column, overflow="fold")
        for d in payload["items"]:
            table.add_row(str(d["position"]), escape(d["name"]), _route_line(d), d["source"])
        console.print(table)

    emit(as_json, data, human)


@routes_app.command("remove")
def routes_remove(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Remove a routing rule added with `routes add`."""
    data = call(ctx, "DELETE", f"/api/v1/routes/{name}")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] rule {escape(d['name'])} removed"))


@routes_app.command("test")
def routes_test(
    ctx: typer.Context,
    labels: Annotated[
        list[str] | None, typer.Option("--labels", "-l", help="k=v (repeatable).")
    ] = None,
    more: Annotated[
        list[str] | None, typer.Argument(help="More k=v labels.", show_default=False)
    ] = None,
    integration: Annotated[str | None, typer.Option(help="As if sent by this integration.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show which route, service, severity and action an alert with these labels gets."""
    pairs: list[str] = []
    for item in [*(labels or []), *(more or [])]:
        pairs.extend(p for p in item.replace(",", " ").split() if p)
    body: dict[str, Any] = {"labels": _pairs(pairs, "label")}
    if integration:
        body["integration"] = integration
    data = call(ctx, "POST", "/api/v1/alerts/routes/test", json=body)

    def human(d: dict[str, Any]) -> None:
        action = "[bold red]declare an incident[/]" if d["action"] == "declare" else "record only"
        console.print(
            f"route [bold]{escape(d['route'])}[/] → severity {severity_text(d['severity'])}, "
            f"service [bold]{escape(d.get('service') or '-')}[/], {action}"
        )
        if d.get("silenced_by"):
            console.print(
                "[yellow]silenced now by[/] " + ", ".join(f"#{s}" for s in d["silenced_by"])
            )

    emit(as_json, data, human)


# ---- silences --------------------------------------------------------------------------


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    matchers: Annotated[list[str], typer.Argument(help='Matchers: service=payments env=~"prod.*"')],
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why (required).")],
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="e.g. 2h")] = None,
    starts_at: Annotated[str | None, typer.Option("--start", help="ISO time (default now)")] = None,
    ends_at: Annotated[str | None, typer.Option("--end", help="ISO time")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Silence matching alerts for a while (stored and visible, but nothing is declared)."""
    body: dict[str, Any] = {"matchers": matchers, "comment": comment}
    if duration:
        body["duration"] = duration
    if starts_at:
        body["starts_at"] = starts_at
    if ends_at:
        body["ends_at"] = ends_at
    data = call(ctx, "POST", "/api/v1/silences", json=body)
    emit(
        as_json,
        data,
        lambda d: console.print(
            f"[green]✓[/] silence #{d['id']} {escape(', '.join(d['matchers']))} until "
            f"{local_time(d['ends_at'])}"
        ),
    )


@silence_app.command("list")
def silence_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Active and pending silences."""
    data = call_all(ctx, "/api/v1/silences", params={"all": all_})

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("ID", "State", "Matchers", "Ends", "Author", "Comment"):
            table.add_column(column, overflow="fold")
        for s in payload["items"]:
            table.add_row(
                str(s["id"]),
                s["state"],
                escape(", ".join(s["matchers"])),
                relative(s["ends_at"]),
                escape(s["author"]),
                escape(s["comment"]),
            )
        console.print(table)

    emit(as_json, data, human)


@silence_app.command("expire")
def silence_expire(ctx: typer.Context, silence_id: int, as_json: JsonOpt = False) -> None:
    """End a silence now."""
    data = call(ctx, "POST", f"/api/v1/silences/{silence_id}/expire")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] silence #{d['id']} expired"))
