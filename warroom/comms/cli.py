"""Commands: `warroom update`, `warroom report`, and `warroom statuspage ...`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, emit, fail, future_time
from warroom.cli.output import console, escape, local_time, print_json

statuspage_app = typer.Typer(help="The public status page.", no_args_is_help=True)


def update(
    ctx: typer.Context,
    incident: str,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="investigating, identified, mitigating, monitoring or resolved"
        ),
    ] = None,
    impact: Annotated[str | None, typer.Option("--impact", help="Impact on users.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="What is being done now.")] = None,
    next_: Annotated[
        str | None,
        typer.Option("--next", help="Next update in (30m) or at (ISO); default: policy cadence."),
    ] = None,
    note: Annotated[str, typer.Option(help="Internal note (never public).")] = "",
    cause: Annotated[str | None, typer.Option(help="The cause, when known.")] = None,
    eta: Annotated[str | None, typer.Option(help="Estimated time to fix.")] = None,
    business_impact: Annotated[str | None, typer.Option(help="For the executive brief.")] = None,
    public_impact: Annotated[str | None, typer.Option(help="Public wording of the impact.")] = None,
    public_action: Annotated[str | None, typer.Option(help="Public wording of the action.")] = None,
    public_title: Annotated[str | None, typer.Option(help="Public incident name.")] = None,
    public: Annotated[
        bool | None, typer.Option("--public/--no-public", help="Post to the status page.")
    ] = None,
    brief: Annotated[
        bool | None, typer.Option("--brief/--no-brief", help="Write an executive brief.")
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify/--no-notify", help="Send to stakeholder groups.")
    ] = True,
    component: Annotated[
        list[str], typer.Option("--component", help="Status page component (repeat).")
    ] = [],
    component_status: Annotated[
        str | None, typer.Option(help="degraded_performance, partial_outage, major_outage...")
    ] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Render only; send nothing.")] = False,
    initial: Annotated[
        bool,
        typer.Option("--initial", help="Publish the drafted initial 'Investigating' update."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish a structured status update (internal, public and executive renderings)."""
    if initial:
        base = f"/api/v1/incidents/{incident}/updates/initial"
        data = call(ctx, "GET", base) if preview else call(ctx, "POST", base)
        _show_update(data, preview=preview, as_json=as_json)
        return
    missing = [
        f"--{name}"
        for name, value in (("status", status), ("impact", impact), ("action", action))
        if value is None
    ]
    if missing:
        fail(f"give {', '.join(missing)} (or --initial for the drafted initial update)")
    body: dict[str, Any] = {
        "status": status,
        "impact": impact,
        "action": action,
        "next": next_,
        "note": note,
        "cause": cause,
        "eta": eta,
        "business_impact": business_impact,
        "public_impact": public_impact,
        "public_action": public_action,
        "public_title": public_title,
        "public": public,
        "brief": brief,
        "notify": notify,
        "components": component or None,
        "component_status": component_status,
    }
    body = {k: v for k, v in body.items() if v is not None}
    path = f"/api/v1/incidents/{incident}/updates" + ("/preview" if preview else "")
    data = call(ctx, "POST", path, json=body)
    _show_update(data, preview=preview, as_json=as_json)


def _show_update(data: dict[str, Any], *, preview: bool, as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    if not preview:
        console.print(f"[green]✓[/] update published on [bold]{data['incident']}[/]")
    for title, key in (
        ("Internal", "internal"),
        ("Public", "public"),
        ("Executive brief", "brief"),
    ):
        if data.get(key):
            console.print(f"\n[bold]{title}[/]")
            console.print(escape(data[key]))
    audience = data.get("audience") or {}
    if audience.get("stakeholders"):
        console.print(f"\nstakeholders: {', '.join(audience['stakeholders'])}")
    if data.get("next_update_at"):
        console.print(f"next update promised by {local_time(data['next_update_at'])}")


def report(
    ctx: typer.Context,
    incident: str,
    format_: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
    stdout: Annotated[bool, typer.Option("--stdout", help="Also print the report.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the incident report under the data dir's reports folder."""
    if format_ not in ("md", "html"):
        fail("--format must be md or html")
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/report", params={"format": format_})
    if as_json:
        print_json(data)
        return
    if stdout:
        typer.echo(data["content"])
    console.print(f"[green]✓[/] report written to {escape(data['path'])}")


# ---- status page ----------------------------------------------------------------------


def _components_table(items: list[dict[str, Any]]) -> None:
    table = Table("ID", "Name", "Group", "Service", "Status", "Public", "Pos")
    for c in items:
        table.add_row(
            c["id"],
            escape(c["name"]),
            escape(c.get("group") or "-"),
            c.get("service") or "-",
            c["status"],
            "yes" if c.get("published", True) else "[yellow]draft[/]",
            str(c["position"]),
        )
    console.print(table)
    if any(not c.get("published", True) for c in items):
        console.print("Drafts are not public: [bold]warroom statuspage publish ID[/]")


@statuspage_app.command("components")
def components(
    ctx: typer.Context,
    sync: Annotated[bool, typer.Option("--sync", help="Add components for new services.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List components (optionally adding one per catalog service first)."""
    if sync:
        call(ctx, "POST", "/api/v1/statuspage/components/sync")
    data = call(ctx, "GET", "/api/v1/statuspage/components")
    emit(as_json, data, lambda d: _components_table(d["items"]))


@statuspage_app.command("component-add")
def component_add(
    ctx: typer.Context,
    slug: str,
    name: str,
    group: Annotated[str | None, typer.Option(help="Group name.")] = None,
    service: Annotated[str | None, typer.Option(help="The catalog service it shows.")] = None,
    description: Annotated[str, typer.Option(help="Shown under the name.")] = "",
    position: Annotated[int, typer.Option(help="Sort order.")] = 0,
    draft: Annotated[
        bool, typer.Option("--draft", help="Keep it off the public page until published.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a component (public at once, or a draft with --draft)."""
    body = {
        "slug": slug,
        "name": name,
        "group": group,
        "service": service,
        "description": description,
        "position": position,
        "published": not draft,
    }
    data = call(ctx, "POST", "/api/v1/statuspage/components", json=body)
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] component {d['id']} added"))


@statuspage_app.command("component-set")
def component_set(
    ctx: typer.Context,
    slug: str,
    status: Annotated[str | None, typer.Option(help="operational, degraded_performance...")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option()] = None,
    archived: Annotated[bool | None, typer.Option("--archive/--unarchive")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a component (its status by hand, name, group, or archive it)."""
    body = {"status": status, "name": name, "group": group, "archived": archived}
    body = {k: v for k, v in body.items() if v is not None}
    data = call(ctx, "PATCH", f"/api/v1/statuspage/components/{slug}", json=body)
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] {d['id']}: {d['status']}"))


@statuspage_app.command("publish")
def publish(ctx: typer.Context, slug: str, as_json: JsonOpt = False) -> None:
    """Publish a draft component: it appears on the public page, feeds and JSON."""
    data = call(ctx, "POST", f"/api/v1/statuspage/components/{slug}/publish")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] {d['id']} is public"))


@statuspage_app.command("unpublish")
def unpublish(ctx: typer.Context, slug: str, as_json: JsonOpt = False) -> None:
    """Take a component back to draft: off the public page, feeds and JSON."""
    data = call(ctx, "POST", f"/api/v1/statuspage/components/{slug}/unpublish")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] {d['id']} is a draft"))


@statuspage_app.command("incidents")
def incidents(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List public incidents (last 90 days and all unresolved)."""
    data = call(ctx, "GET", "/api/v1/statuspage/incidents")

    def human(d: dict[str, Any]) -> None:
        table = Table("ID", "Name", "Status", "Impact", "Created")
        for i in d["items"]:
            table.add_row(
                i["id"], escape(i["name"]), i["status"], i["impact"], local_time(i["created_at"])
            )
        console.print(table)

    emit(as_json, data, human)


@statuspage_app.command("incident-create")
def incident_create(
    ctx: typer.Context,
    name: str,
    body: Annotated[str, typer.Option("--body", "-m", help="The first public update.")],
    status: Annotated[str, typer.Option()] = "investigating",
    impact: Annotated[str, typer.Option(help="none, minor, major, critical")] = "minor",
    component: Annotated[list[str], typer.Option("--component")] = [],
    as_json: JsonOpt = False,
) -> None:
    """Open a public incident by hand (e.g. a third-party outage)."""
    payload = {
        "name": name,
        "body": body,
        "status": status,
        "impact": impact,
        "components": component,
    }
    data = call(ctx, "POST", "/api/v1/statuspage/incidents", json=payload)
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] public incident {d['id']} opened"))


@statuspage_app.command("incident-update")
def incident_update(
    ctx: typer.Context,
    code: str,
    status: Annotated[str, typer.Option()],
    body: Annotated[str, typer.Option("--body", "-m")],
    as_json: JsonOpt = False,
) -> None:
    """Post an update on a public incident."""
    data = call(
        ctx,
        "POST",
        f"/api/v1/statuspage/incidents/{code}/updates",
        json={"status": status, "body": body},
    )
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] {d['id']} is {d['status']}"))


@statuspage_app.command("maintenance-add")
def maintenance_add(
    ctx: typer.Context,
    name: str,
    start: Annotated[str, typer.Option("--from", help="ISO time or in (2h).")],
    end: Annotated[str, typer.Option("--until", help="ISO time or in (4h).")],
    body: Annotated[str, typer.Option("--body", "-m")] = "",
    component: Annotated[list[str], typer.Option("--component")] = [],
    as_json: JsonOpt = False,
) -> None:
    """Schedule maintenance."""
    payload = {
        "name": name,
        "body": body,
        "components": component,
        "scheduled_for": future_time(start, "--from"),
        "scheduled_until": future_time(end, "--until"),
    }
    data = call(ctx, "POST", "/api/v1/statuspage/maintenances", json=payload)
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] maintenance {d['id']} scheduled"))


@statuspage_app.command("maintenances")
def maintenances(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List scheduled maintenance."""
    data = call(ctx, "GET", "/api/v1/statuspage/maintenances")

    def human(d: dict[str, Any]) -> None:
        table = Table("ID", "Name", "Status", "From", "Until")
        for m in d["items"]:
            table.add_row(
                m["id"],
                escape(m["name"]),
                m["status"],
                local_time(m["scheduled_for"]),
                local_time(m["scheduled_until"]),
            )
        console.print(table)

    emit(as_json, data, human)


@statuspage_app.command("maintenance-cancel")
def maintenance_cancel(ctx: typer.Context, code: str, as_json: JsonOpt = False) -> None:
    """Cancel scheduled maintenance."""
    data = call(ctx, "DELETE", f"/api/v1/statuspage/maintenances/{code}")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] maintenance {code} cancelled"))


@statuspage_app.command("subscribers")
def subscribers(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List subscribers (admin)."""
    data = call(ctx, "GET", "/api/v1/statuspage/subscribers")

    def human(d: dict[str, Any]) -> None:
        table = Table("ID", "Kind", "Target", "Status", "Components")
        for s in d["items"]:
            table.add_row(
                str(s["id"]),
                s["kind"],
                escape(s["target"]),
                s["status"],
                ", ".join(s["components"]) or "all",
            )
        console.print(table)

    emit(as_json, data, human)


@statuspage_app.command("subscriber-add")
def subscriber_add(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option()] = None,
    webhook: Annotated[str | None, typer.Option()] = None,
    component: Annotated[list[str], typer.Option("--component")] = [],
    as_json: JsonOpt = False,
) -> None:
    """Add a subscriber; they receive a confirmation link first."""
    payload = {"email": email, "webhook": webhook, "components": component}
    data = call(ctx, "POST", "/api/v1/statuspage/subscribers", json=payload)
    emit(as_json, data, lambda d: console.print("[green]✓[/] confirmation link sent"))


@statuspage_app.command("subscriber-remove")
def subscriber_remove(ctx: typer.Context, subscriber_id: int, as_json: JsonOpt = False) -> None:
    """Unsubscribe someone."""
    data = call(ctx, "DELETE", f"/api/v1/statuspage/subscribers/{subscriber_id}")
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] subscriber {subscriber_id} removed"))


def register(app: typer.Typer) -> None:
    app.command("update")(update)
    app.command("report")(report)
    app.add_typer(statuspage_app, name="statuspage")
