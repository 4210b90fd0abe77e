"""Commands: `warroom postmortem`, `warroom actions`, `warroom similar`, `warroom patterns`."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markdown import Markdown
from rich.table import Table

from warroom.cli.common import JsonOpt, call, call_all, fail, future_time, past_time
from warroom.cli.output import console, escape, local_time, print_json
from warroom.core.durations import parse_duration

actions_app = typer.Typer(help="Post-mortem action items.", no_args_is_help=True)


def _due(value: str | None) -> str | None:
    """ISO date/time, or a duration from now like 7d."""
    return None if value is None else future_time(value, "--due")


def _pm_header(data: dict[str, Any]) -> None:
    overdue = " [red]OVERDUE[/]" if data.get("overdue") else ""
    console.print(
        f"[bold]{data['incident']}[/] post-mortem: [bold]{data['status']}[/] "
        f"({data['requirement']}) owner={escape(str(data.get('owner') or '-'))} "
        f"due={local_time(data.get('due_at'))}{overdue} version={data['version']}"
    )
    for warning in data.get("warnings") or []:
        console.print(f"[yellow]blameless hint:[/] {escape(warning)}")


def _done(as_json: bool, data: Any, message: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(f"[green]✓[/] {message}")


def _path(incident: str) -> str:
    return f"/api/v1/incidents/{incident}/postmortem"


def register_postmortem(pm: typer.Typer) -> None:
    @pm.command("meeting")
    def meeting(
        ctx: typer.Context,
        incident: str,
        at: Annotated[
            str | None,
            typer.Option("--at", help="When: ISO time, or a duration from now like 1d."),
        ] = None,
        duration: Annotated[str, typer.Option(help="How long, e.g. 45m or 1h.")] = "1h",
        facilitator: Annotated[str | None, typer.Option(help="Who facilitates.")] = None,
        attendee: Annotated[
            list[str], typer.Option("--attendee", help="A name or email (repeat).")
        ] = [],
        location: Annotated[str | None, typer.Option(help="Room or call link.")] = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write the .ics invite here.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Schedule the review meeting and write its .ics invite (without --at: show it)."""
        if at is None:
            data = call(ctx, "GET", f"{_path(incident)}/meeting")
        else:
            if not facilitator or not attendee:
                fail("give --facilitator and at least one --attendee")
            body: dict[str, Any] = {
                "starts_at": future_time(at, "--at"),
                "duration": duration,
                "facilitator": facilitator,
                "attendees": attendee,
            }
            if location:
                body["location"] = location
            data = call(ctx, "POST", f"{_path(incident)}/meeting", json=body)
        if output is not None:
            output.write_text(data["ics"], encoding="utf-8")
        if as_json:
            print_json(data)
            return
        console.print(
            f"[bold]{data['incident']}[/] review meeting {local_time(data['starts_at'])} "
            f"facilitator={escape(data['facilitator'])} "
            f"attendees={escape(', '.join(data['attendees']))}"
        )
        if output is not None:
            console.print(f"[green]✓[/] invite written to {escape(str(output))}")
        else:
            typer.echo(data["ics"])

    @pm.command("schedule")
    def schedule(
        ctx: typer.Context,
        incident: str,
        owner: Annotated[str, typer.Option(help="Who writes it.")],
        due: Annotated[str, typer.Option(help="ISO date/time or a duration from now like 48h.")],
        reason: Annotated[
            str | None,
            typer.Option(help="Why the due date moves (needed to move one already set)."),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Schedule the post-mortem (owner and due date)."""
        try:
            due_at = (datetime.now(UTC) + parse_duration(due)).isoformat()
        except ValueError:
            due_at = past_time(due, "--due") or ""
        data = call(
            ctx,
            "POST",
            f"/api/v1/incidents/{incident}/postmortem/schedule",
            json={"owner": owner, "due_at": due_at, **({"reason": reason} if reason else {})},
        )
        _done(
            as_json,
            data,
            f"post-mortem for {data['id']} scheduled: {owner}, due {local_time(due_at)}",
        )

    @pm.command("show")
    def show(
        ctx: typer.Context,
        incident: str,
        raw: Annotated[bool, typer.Option("--raw", help="Print the Markdown source.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Show the post-mortem (status, owner, due date and the document)."""
        data = call(ctx, "GET", _path(incident))
        if as_json:
            print_json(data)
            return
        if raw:
            typer.echo(data["body"], nl=False)
            return
        _pm_header(data)
        console.print(Markdown(data["body"]))

    @pm.command("create")
    def create(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
        """Create the post-mortem now (optional ones are not created at resolve)."""
        data = call(ctx, "POST", _path(incident))
        _done(as_json, data, f"post-mortem for {data['incident']} drafted from the timeline")

    @pm.command("edit")
    def edit(
        ctx: typer.Context,
        incident: str,
        file: Annotated[
            Path | None, typer.Option("--file", "-f", help="Take the new text from a file.")
        ] = None,
        category: Annotated[
            str | None, typer.Option("--category", help="Root-cause category.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Edit the Markdown source in $EDITOR (or from --file)."""
        current = call(ctx, "GET", _path(incident))
        body: str | None
        if file is not None:
            try:
                body = file.read_text("utf-8")
            except OSError as exc:
                fail(f"cannot read {file}: {exc.strerror or exc}")
        elif category is not None:
            body = None
        else:
            body = _edit_in_editor(current["body"], incident)
            if body == current["body"]:
                console.print("no changes")
                return
        data = call(
            ctx,
            "PUT",
            _path(incident),
            json={
                "body": body,
                "version": current["version"],
                "root_cause_category": category,
            },
        )
        _done(
            as_json, data, f"post-mortem for {data['incident']} saved (version {data['version']})"
        )

    @pm.command("regenerate")
    def regenerate(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
        """Store the document as it reads now (the recorded facts are rendered on every read
        anyway); your sections are kept."""
        data = call(ctx, "POST", f"{_path(incident)}/regenerate")
        _done(as_json, data, f"stored as it reads now: {data['incident']}")

    @pm.command("submit")
    def submit(
        ctx: typer.Context,
        incident: str,
        reviewer: Annotated[list[str], typer.Option("--reviewer", help="Reviewer (repeat).")] = [],
        as_json: JsonOpt = False,
    ) -> None:
        """Submit the draft for review."""
        data = call(ctx, "POST", f"{_path(incident)}/submit", json={"reviewers": reviewer})
        _done(as_json, data, f"post-mortem for {data['incident']} is in review")

    @pm.command("return")
    def return_(
        ctx: typer.Context,
        incident: str,
        reason: Annotated[str, typer.Option("--reason", "-r", help="What needs changing.")],
        as_json: JsonOpt = False,
    ) -> None:
        """Send a post-mortem in review back to draft."""
        data = call(ctx, "POST", f"{_path(incident)}/return", json={"reason": reason})
        _done(as_json, data, f"post-mortem for {data['incident']} is a draft again")

    @pm.command("publish")
    def publish(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
        """Publish a reviewed post-mortem (lets a required one's incident close)."""
        data = call(ctx, "POST", f"{_path(incident)}/publish")
        _done(as_json, data, f"post-mortem for {data['incident']} published")

    @pm.command("list")
    def list_(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option(help="draft, in_review or published.")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Post-mortems and where they stand."""
        params = {"status": status} if status else None
        data = call_all(ctx, "/api/v1/postmortems", params=params)
        if as_json:
            print_json(data)
            return
        table = Table(show_header=True, header_style="bold")
        for column in ("Incident", "Status", "Requirement", "Owner", "Due", "Title"):
            table.add_column(column, overflow="fold")
        for item in data["items"]:
            due = local_time(item.get("due_at"))
            if item.get("overdue"):
                due = f"[red]{due}[/]"
            table.add_row(
                item["incident"],
                item["status"],
                item["requirement"],
                escape(item.get("owner") or "-"),
                due,
                escape(item["title"]),
            )
        console.print(table)

    @pm.command("export")
    def export(
        ctx: typer.Context,
        directory: Annotated[Path, typer.Argument(help="Folder to write into.")],
        html: Annotated[bool, typer.Option("--html", help="Also write HTML pages.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Write every published post-mortem as Markdown (and HTML) files with an index."""
        data = call(ctx, "GET", "/api/v1/postmortems/export")
        directory.mkdir(parents=True, exist_ok=True)
        written: list[str] = []
        entries = [*data["files"], data["index"]]
        for entry in entries:
            (directory / entry["markdown_name"]).write_text(entry["markdown"], "utf-8")
            written.append(entry["markdown_name"])
            if html:
                (directory / entry["html_name"]).write_text(entry["html"], "utf-8")
                written.append(entry["html_name"])
        _done(
            as_json,
            {"directory": str(directory), "files": written},
            f"{len(data['files'])} post-mortem(s) written to {directory}",
        )

    @pm.command("runbook")
    def runbook(
        ctx: typer.Context,
        incident: str,
        extend: Annotated[
            Path | None, typer.Option("--extend", help="A runbook YAML file to extend.")
        ] = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write the YAML here.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Turn the steps taken into a runbook draft (or extend the runbook used)."""
        body: dict[str, Any] = {}
        if extend is not None:
            try:
                loaded = yaml.safe_load(extend.read_text("utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                fail(f"cannot read the runbook {extend}: {exc}")
            if not isinstance(loaded, dict):
                fail(f"{extend} is not a runbook (a YAML mapping)")
            body["extend"] = loaded
        data = call(ctx, "POST", f"/api/v1/incidents/{incident}/runbook-draft", json=body)
        if output is not None:
            output.write_text(data["yaml"], "utf-8")
        if as_json:
            print_json(data)
        elif output is not None:
            console.print(f"[green]✓[/] runbook draft written to {output}")
        else:
            typer.echo(data["yaml"], nl=False)


def _edit_in_editor(text: str, incident: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile(
        "w", suffix=f"-{incident}.md", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
        name = handle.name
    try:
        result = subprocess.run([*shlex.split(editor), name], check=False)
        if result.returncode != 0:
            fail(f"the editor exited with {result.returncode}; nothing saved")
        return Path(name).read_text("utf-8")
    finally:
        Path(name).unlink(missing_ok=True)


# ---- actions ---------------------------------------------------------------------------


def _items_table(items: list[dict[str, Any]]) -> Table:
    table = Table(show_header=True, header_style="bold")
    for column in ("#", "Incident", "Action", "Type", "Owner", "Due", "Pri", "Status", "Synced"):
        table.add_column(column, overflow="fold")
    for item in items:
        due = local_time(item.get("due_at")) if item.get("due_at") else "-"
        if item.get("overdue"):
            due = f"[red]{due} (overdue)[/]"
        synced = ", ".join(
            f"{name}:{(v or {}).get('ref') or 'error'}" for name, v in item["external"].items()
        )
        table.add_row(
            str(item["id"]),
            item["incident"],
            escape(item["title"]),
            item["type"],
            escape(item.get("owner") or "-"),
            due,
            f"P{item['priority']}",
            item["status"],
            escape(synced) or "-",
        )
    return table


@actions_app.command("list")
def actions_list(
    ctx: typer.Context,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue open items.")] = False,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's.")] = None,
    status: Annotated[list[str], typer.Option("--status", help="Status (repeat).")] = [],
    incident: Annotated[str | None, typer.Option("--incident", help="One incident's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Action items across incidents."""
    params: dict[str, Any] = {"overdue": overdue}
    if owner:
        params["owner"] = owner
    if status:
        params["status"] = status
    if incident:
        params["incident"] = incident
    data = call_all(ctx, "/api/v1/actions", params=params)
    if as_json:
        print_json(data)
    elif not data["items"]:
        console.print("no action items")
    else:
        console.print(_items_table(data["items"]))


@actions_app.command("add")
def actions_add(
    ctx: typer.Context,
    incident: str,
    title: Annotated[str, typer.Option("--title", "-t", help="What to do.")],
    owner: Annotated[str | None, typer.Option(help="Who does it.")] = None,
    due: Annotated[str | None, typer.Option(help="Date, ISO time or e.g. 14d.")] = None,
    priority: Annotated[int, typer.Option("--priority", "-p", min=1, max=4)] = 2,
    type_: Annotated[
        str, typer.Option("--type", help="prevent, mitigate, detect or process.")
    ] = "prevent",
    description: Annotated[str, typer.Option(help="Details.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Add an action item to an incident."""
    body = {
        "title": title,
        "owner": owner,
        "due_at": _due(due),
        "priority": priority,
        "type": type_,
        "description": description,
    }
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/actions", json=body)
    _done(as_json, data, f"action item {data['id']} added to {data['incident']}")


@actions_app.command("update")
def actions_update(
    ctx: typer.Context,
    item_id: int,
    status: Annotated[str | None, typer.Option(help="open, in_progress, done or wont_do.")] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    due: Annotated[str | None, typer.Option()] = None,
    title: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[int | None, typer.Option(min=1, max=4)] = None,
    type_: Annotated[str | None, typer.Option("--type")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an action item."""
    body: dict[str, Any] = {
        k: v
        for k, v in {
            "status": status,
            "owner": owner,
            "due_at": _due(due),
            "title": title,
            "priority": priority,
            "type": type_,
        }.items()
        if v is not None
    }
    data = call(ctx, "PATCH", f"/api/v1/actions/{item_id}", json=body)
    _done(as_json, data, f"action item {item_id} updated ({data['status']})")


@actions_app.command("done")
def actions_done(ctx: typer.Context, item_id: int, as_json: JsonOpt = False) -> None:
    """Mark an action item done."""
    data = call(ctx, "PATCH", f"/api/v1/actions/{item_id}", json={"status": "done"})
    _done(as_json, data, f"action item {item_id} done")


@actions_app.command("delete")
def actions_delete(ctx: typer.Context, item_id: int) -> None:
    """Delete an action item."""
    call(ctx, "DELETE", f"/api/v1/actions/{item_id}")
    console.print(f"[green]✓[/] action item {item_id} deleted")


@actions_app.command("sync")
def actions_sync(ctx: typer.Context, item_id: int, as_json: JsonOpt = False) -> None:
    """Sync an action item to GitHub/Jira now (otherwise the worker does it)."""
    data = call(ctx, "POST", f"/api/v1/actions/{item_id}/sync")
    if as_json:
        print_json(data)
    else:
        for tracker, result in data["results"].items():
            mark = "[green]✓[/]" if result["ok"] else "[red]✗[/]"
            console.print(f"{mark} {tracker}: {escape(result['message'])}")
    if not all(r["ok"] for r in data["results"].values()):
        raise typer.Exit(1)


@actions_app.command("export-beads")
def actions_export_beads(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option(help="The beads issue file.")] = Path(".beads/issues.jsonl"),
    incident: Annotated[list[str], typer.Option("--incident", help="Only these (repeat).")] = [],
    init: Annotated[
        bool, typer.Option("--init", help="Create the folder if it does not exist.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write incidents (bugs) and action items (tasks) to a beads issues.jsonl file."""
    from warroom.postmortems.beads import merge

    if not path.parent.exists():
        if not init:
            console.print(f"no {path.parent}/ folder here; nothing written (use --init)")
            return
        path.parent.mkdir(parents=True)
    params = {"incident": incident} if incident else None
    data = call(ctx, "GET", "/api/v1/exports/beads", params=params)
    existing = path.read_text("utf-8").splitlines() if path.exists() else []
    lines = merge(existing, data["issues"])
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("\n".join(lines) + ("\n" if lines else ""), "utf-8")
    tmp.replace(path)
    _done(
        as_json,
        {"path": str(path), "issues": len(data["issues"]), "lines": len(lines)},
        f"{len(data['issues'])} issue(s) written to {path}",
    )


# ---- learning --------------------------------------------------------------------------


def similar(
    ctx: typer.Context,
    incident: str,
    limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Similar past incidents, why each matched, and their action items."""
    data = call(ctx, "GET", f"/api/v1/incidents/{incident}/similar", params={"limit": limit})
    if as_json:
        print_json(data)
        return
    if not data["matches"]:
        console.print("no similar past incidents")
        return
    for match in data["matches"]:
        console.print(
            f"[bold]{match['incident']}[/] {match['severity']} {match['status']} "
            f"score {match['score']}: {escape(match['title'])}"
        )
        for reason in match["reasons"]:
            console.print(f"    • {escape(reason)}")
        items = match["action_items"]
        if items:
            console.print(f"    action items: {match['action_items_done']}/{len(items)} done")
            for item in items:
                mark = "✓" if item["done"] else "·"
                console.print(f"      {mark} {escape(item['title'])} ({item['status']})")


def patterns_cmd(
    ctx: typer.Context,
    write: Annotated[
        Path | None, typer.Option("--write", help="Write the critical-patterns document here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recurring patterns (same service and root cause) and the critical-patterns document."""
    data = call(ctx, "GET", "/api/v1/patterns")
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(data["document"], "utf-8")
    if as_json:
        print_json(data)
    elif write is not None:
        console.print(
            f"[green]✓[/] {len(data['patterns'])} pattern(s); document written to {write}"
        )
    else:
        console.print(Markdown(data["document"]))


def register(app: typer.Typer) -> None:
    group = next((g.typer_instance for g in app.registered_groups if g.name == "postmortem"), None)
    if group is None:
        group = typer.Typer(help="Post-mortems.", no_args_is_help=True)
        app.add_typer(group, name="postmortem")
    register_postmortem(group)
    app.add_typer(actions_app, name="actions")
    app.command("similar")(similar)
    app.command("patterns")(patterns_cmd)
