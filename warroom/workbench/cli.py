"""`warroom runbook|change|mitigation|hotfix|verify` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, call_all, emit, fail
from warroom.cli.output import console, escape, print_json, relative

runbook_app = typer.Typer(help="Runbooks: list, show, check, run, approve.", no_args_is_help=True)
change_app = typer.Typer(help="Changes (deploys, config, flags, infra).", no_args_is_help=True)
mitigation_app = typer.Typer(help="Mitigation suggestions and outcomes.", no_args_is_help=True)
hotfix_app = typer.Typer(help="Hotfixes and their quality gates.", no_args_is_help=True)
verify_app = typer.Typer(help="Verification after mitigation.", no_args_is_help=True)

STATUS_STYLE = {
    "passed": "green",
    "done": "green",
    "approved": "green",
    "recorded": "cyan",
    "failed": "red",
    "error": "red",
    "skipped": "dim",
    "awaiting_approval": "yellow",
}


def register(app: typer.Typer) -> None:
    app.add_typer(runbook_app, name="runbook")
    app.add_typer(change_app, name="change")
    app.add_typer(mitigation_app, name="mitigation")
    app.add_typer(hotfix_app, name="hotfix")
    app.add_typer(verify_app, name="verify")


# ---- runbooks ---------------------------------------------------------------------------


@runbook_app.command("list")
def runbook_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every runbook: built-in and from the config directory."""

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("ID", "Title", "Steps", "Automatic", "Match", "Source"):
            table.add_column(column, overflow="fold")
        for item in payload["items"]:
            match = item["match"]
            parts = [*match.get("types", []), *match.get("services", [])]
            parts += [f"{k}={v}" for k, v in match.get("labels", {}).items()]
            table.add_row(
                escape(item["id"]),
                escape(item["title"]),
                str(item["steps"]),
                str(len(item["automatic_steps"])),
                escape(", ".join(parts) or "(on request)"),
                escape(item["source"]),
            )
        console.print(table)

    emit(as_json, call_all(ctx, "/api/v1/runbooks"), human)


def _show_runbook(data: dict[str, Any]) -> None:
    console.print(f"[bold]{escape(data['id'])}[/]  {escape(data['title'])}  ({data['source']})")
    if data.get("description"):
        console.print(escape(data["description"]))
    for step in data["steps"]:
        flags = []
        if step.get("automatic"):
            flags.append("[cyan]automatic[/]")
        if step.get("needs_approval"):
            flags.append("[yellow]needs approval[/]")
        detail = step.get("command") or step.get("url") or step.get("query") or step.get("action")
        console.print(
            f"  {step['number']:>2}. {escape('[' + step['kind'] + ']')} {escape(step['title'])} "
            + " ".join(flags)
            + (f"\n      {escape(str(detail))}" if detail else "")
        )


@runbook_app.command("show")
def runbook_show(ctx: typer.Context, runbook: str, as_json: JsonOpt = False) -> None:
    """One runbook with its steps."""
    emit(as_json, call(ctx, "GET", f"/api/v1/runbooks/{runbook}"), _show_runbook)


@runbook_app.command("check")
def runbook_check(
    path: Annotated[
        Path | None,
        typer.Argument(help="A runbook file or directory (default: the config's runbooks.dir)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate runbooks offline; exit 0 if valid, 1 with every problem listed."""
    from warroom.core.config import load_config
    from warroom.core.errors import ConfigError
    from warroom.core.settings import Settings
    from warroom.workbench.config import RunbooksConfig
    from warroom.workbench.runbooks import Problem, load_directory, parse_text
    from warroom.workbench.service import load_catalog

    problems: list[Problem] = []
    count = 0
    if path is None:
        try:
            config = load_config(Settings().config)
        except ConfigError as exc:
            fail(exc.message)
        section = config.section("runbooks") or RunbooksConfig()
        catalog, problems = load_catalog(section, [s.name for s in config.services])
        count = len(catalog)
    elif path.is_dir():
        loaded, problems = load_directory(path)
        count = len(loaded)
    elif path.is_file():
        runbooks, problems = parse_text(path.read_text("utf-8"), str(path))
        count = len(runbooks)
    else:
        fail(f"{path} does not exist")
    if as_json:
        print_json(
            {"valid": not problems, "runbooks": count, "problems": [p.to_dict() for p in problems]}
        )
    elif problems:
        console.print(f"[red]{len(problems)} problem(s)[/]")
        for problem in problems:
            console.print(
                f"  {escape(problem.source)}: {escape(problem.path)}: {escape(problem.message)}"
            )
    else:
        console.print(f"[green]✓[/] {count} runbook(s) valid")
    if problems:
        raise typer.Exit(1)


def _show_results(payload: dict[str, Any]) -> None:
    for result in payload["results"]:
        style = STATUS_STYLE.get(result["status"], "white")
        console.print(
            f"{result['step_number']:>2}. {escape(result['title'])}: "
            f"[{style}]{result['status']}[/]"
            + (
                f" (approved by {escape(result['approved_by'])})"
                if result.get("approved_by")
                else ""
            )
        )
        if result.get("output"):
            console.print(escape(str(result["output"])), highlight=False)


@runbook_app.command("run")
def runbook_run(
    ctx: typer.Context,
    incident: str,
    runbook: str,
    step: Annotated[
        str | None, typer.Option("--step", help="Step number (1-based) or id; default: automatic")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", "-m", help="Notes (manual steps).")] = None,
    hypothesis: Annotated[
        str | None, typer.Option(help="Diagnosis step: the root-cause hypothesis.")
    ] = None,
    evidence: Annotated[str | None, typer.Option(help="Diagnosis step: the evidence.")] = None,
    confidence: Annotated[
        str | None, typer.Option(help="Diagnosis step: low, medium or high.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one step of a runbook for an incident, or all its automatic steps."""
    body: dict[str, Any] = {"step": step, "note": note}
    if hypothesis is not None or evidence is not None or confidence is not None:
        if not (hypothesis and evidence and confidence):
            fail("a diagnosis needs --hypothesis, --evidence and --confidence together")
        body["diagnosis"] = {
            "hypothesis": hypothesis,
            "evidence": evidence,
            "confidence": confidence,
        }
    path = f"/api/v1/incidents/{incident}/runbooks/{runbook}/run"
    emit(as_json, call(ctx, "POST", path, json=body), _show_results)


@runbook_app.command("approve")
def runbook_approve(
    ctx: typer.Context,
    incident: str,
    runbook: str,
    step: Annotated[str, typer.Option("--step", help="Step number or id.")],
    note: Annotated[str | None, typer.Option("--note", "-m")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a dangerous or approval step (you must not be the one who asked)."""
    path = f"/api/v1/incidents/{incident}/runbooks/{runbook}/approve"
    data = call(ctx, "POST", path, json={"step": step, "note": note})
    emit(as_json, data, lambda d: console.print(f"[green]✓[/] approved {runbook} step {step}"))


@runbook_app.command("matching")
def runbook_matching(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Runbooks that match an incident."""

    def human(payload: dict[str, Any]) -> None:
        if not payload["items"]:
            console.print("no runbook matches")
        for item in payload["items"]:
            console.print(f"[bold]{escape(item['id'])}[/]  {escape(item['title'])}")

    emit(as_json, call_all(ctx, f"/api/v1/incidents/{incident}/runbooks"), human)


# ---- changes ----------------------------------------------------------------------------


@change_app.command("record")
def change_record(
    ctx: typer.Context,
    service: Annotated[str, typer.Option("--service", "-s")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="deploy|config|flag|infra")],
    version: Annotated[str, typer.Option("--version", "-v")] = "",
    by: Annotated[str, typer.Option("--by")] = "",
    link: Annotated[str, typer.Option("--link")] = "",
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    at: Annotated[
        str | None, typer.Option("--at", help="When (ISO 8601 or '5m ago'); default now.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a change (one line to add to a CI/CD pipeline)."""
    from warroom.cli.common import past_time as _time_option

    if kind not in ("deploy", "config", "flag", "infra"):
        fail("--kind must be one of deploy, config, flag, infra")
    body = {
        "service": service,
        "kind": kind,
        "version": version,
        "by": by,
        "link": link,
        "description": description,
        "at": _time_option(at, "--at"),
    }
    data = call(ctx, "POST", "/api/v1/changes", json=body)
    emit(
        as_json,
        data,
        lambda d: console.print(
            f"[green]✓[/] recorded {d['kind']} of {escape(d['service'])} "
            f"{escape(d['version'])} (#{d['id']})"
        ),
    )


@change_app.command("list")
def change_list(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option("--service", "-s")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Recorded changes, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if service:
        params["service"] = service

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("#", "Service", "Kind", "Version", "By", "When"):
            table.add_column(column, overflow="fold")
        for item in payload["items"]:
            table.add_row(
                str(item["id"]),
                escape(item["service"]),
                item["kind"],
                escape(item["version"]),
                escape(item["by"]),
                relative(item["at"]),
            )
        console.print(table)

    emit(as_json, call_all(ctx, "/api/v1/changes", params=params, most=limit), human)


@change_app.command("correlate")
def change_correlate(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Changes that may have caused an incident, scored, with the reason."""

    def human(payload: dict[str, Any]) -> None:
        if not payload["changes"]:
            console.print("no changes to the affected services or their dependencies in the window")
        for item in payload["changes"]:
            console.print(f"{item['score']:.2f}  {escape(item['reason'])}")

    emit(as_json, call(ctx, "GET", f"/api/v1/incidents/{incident}/changes"), human)


# ---- mitigations --------------------------------------------------------------------------


@mitigation_app.command("suggest")
def mitigation_suggest(
    ctx: typer.Context,
    incident: str,
    signal: Annotated[
        list[str] | None,
        typer.Option(
            "--signal",
            help="recent_deploy, stuck, zone_failure, capacity, attack, feature_broken",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What to try, in order, and why."""

    def human(payload: dict[str, Any]) -> None:
        for n, item in enumerate(payload["suggestions"], start=1):
            outcome = f" [{item['outcome']}]" if item.get("outcome") else ""
            console.print(f"{n}. [bold]{item['action']}[/]{outcome}: {escape(item['why'])}")
            if item.get("command"):
                console.print(f"   $ {escape(item['command'])}", highlight=False)
        if payload["exhausted"]:
            console.print("[bold red]mitigation exhausted[/]: every option was tried and failed")

    params = {"signal": signal or []}
    path = f"/api/v1/incidents/{incident}/mitigations/suggestions"
    emit(as_json, call(ctx, "GET", path, params=params), human)


@mitigation_app.command("record")
def mitigation_record(
    ctx: typer.Context,
    incident: str,
    action: Annotated[str, typer.Argument(help="rollback, restart, failover, scale, ...")],
    outcome: Annotated[str, typer.Option("--outcome", help="succeeded|failed|pending")] = "pending",
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record a mitigation tried and its outcome."""
    body = {"action": action, "outcome": outcome, "description": description}
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/mitigations", json=body)

    def human(d: dict[str, Any]) -> None:
        console.print(f"[green]✓[/] recorded {action} ({outcome})")
        if d["mitigation_exhausted"]:
            console.print("[bold red]mitigation exhausted[/]: escalating per policy")
        elif d.get("next_option"):
            nxt = d["next_option"]
            console.print(f"next option: [bold]{nxt['action']}[/] ({escape(nxt['why'])})")

    emit(as_json, data, human)


# ---- hotfixes ---------------------------------------------------------------------------


def _gates(values: list[str] | None) -> dict[str, dict[str, str]]:
    """`review=passed:carol`, `tests=skipped:no time`, `staging=passed`."""
    gates: dict[str, dict[str, str]] = {}
    for value in values or []:
        gate, sep, rest = value.partition("=")
        status, _, extra = rest.partition(":")
        if not sep or status not in ("passed", "skipped"):
            fail(f"--gate {value!r}: use GATE=passed[:BY] or GATE=skipped:REASON")
        if gate.strip() == "review" and status == "passed":
            fail("a review is recorded by the reviewer: warroom hotfix review INCIDENT NAME")
        answer = {"status": status}
        answer["by" if status == "passed" else "reason"] = extra.strip()
        gates[gate.strip()] = answer
    return gates


def _show_hotfix(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(data['hotfix'])}[/] by {escape(data['author'])} ({data['severity']})"
    )
    for gate in data["gates"]:
        style = STATUS_STYLE.get(gate["status"], "yellow")
        extra = gate.get("by") or gate.get("reason") or ""
        console.print(
            f"  {gate['gate']:<14} {gate['rule']:<9} [{style}]{gate['status']}[/] {escape(extra)}"
        )
    pr = data.get("emergency_pr") or {}
    if pr.get("state") and pr["state"] != "draft":
        where = pr.get("url") or f"{pr.get('head')} → {pr.get('base')}"
        console.print(f"  pull request: {pr['state']} {escape(str(where))}")
        if pr.get("error"):
            console.print(f"  [red]GitHub:[/] {escape(str(pr['error']))}")
    rollout = data.get("rollout") or {}
    if rollout:
        console.print(
            f"  rollout: {rollout['stage']} ({rollout.get('percent')}%)"
            + (
                f", monitored until {rollout['monitor_ends_at'][:16]}"
                if rollout["stage"] == "canary"
                else ""
            )
        )
    if data["deployed"]:
        console.print("[green]deployed[/]")
    elif data["deploy_blockers"]:
        console.print(
            "[yellow]not deployable yet:[/] " + escape("; ".join(data["deploy_blockers"]))
        )


GateOpt = Annotated[
    list[str] | None,
    typer.Option("--gate", "-g", help="GATE=passed or GATE=skipped:REASON (repeatable)"),
]


@hotfix_app.command("record")
def hotfix_record(
    ctx: typer.Context,
    incident: str,
    name: str,
    author: Annotated[str, typer.Option("--author", help="Who wrote it (default: you).")] = "",
    gate: GateOpt = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    link: Annotated[str, typer.Option("--link")] = "",
    why_not_rollback: Annotated[
        str, typer.Option(help="Why rollback and feature flag are not possible.")
    ] = "",
    risk: Annotated[str | None, typer.Option(help="low or significant.")] = None,
    root_cause: Annotated[str, typer.Option(help="For the emergency PR.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record a hotfix and run the severity's quality gates."""
    body = {
        "name": name,
        "author": author,
        "description": description,
        "link": link,
        "gates": _gates(gate),
        "why_not_rollback": why_not_rollback,
        "root_cause": root_cause,
        **({"risk": risk} if risk else {}),
    }
    emit(
        as_json,
        call(ctx, "POST", f"/api/v1/incidents/{incident}/hotfixes", json=body),
        _show_hotfix,
    )


@hotfix_app.command("gate")
def hotfix_gate(
    ctx: typer.Context, incident: str, name: str, gate: GateOpt = None, as_json: JsonOpt = False
) -> None:
    """Answer more gates of a recorded hotfix."""
    path = f"/api/v1/incidents/{incident}/hotfixes/{name}/gates"
    emit(as_json, call(ctx, "POST", path, json={"gates": _gates(gate)}), _show_hotfix)


@hotfix_app.command("review")
def hotfix_review(
    ctx: typer.Context,
    incident: str,
    name: str,
    note: Annotated[str, typer.Option("--note", "-n", help="What you checked.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Review a hotfix as yourself (your token or session); its author cannot."""
    path = f"/api/v1/incidents/{incident}/hotfixes/{name}/review"
    emit(as_json, call(ctx, "POST", path, json={"note": note}), _show_hotfix)


@hotfix_app.command("deploy")
def hotfix_deploy(ctx: typer.Context, incident: str, name: str, as_json: JsonOpt = False) -> None:
    """Deploy a hotfix (refused without a review by someone other than its author)."""
    path = f"/api/v1/incidents/{incident}/hotfixes/{name}/deploy"
    emit(as_json, call(ctx, "POST", path), _show_hotfix)


@hotfix_app.command("pr")
def hotfix_pr(
    ctx: typer.Context,
    incident: str,
    name: str,
    head: Annotated[str, typer.Option("--head", help="The pushed branch holding the fix.")],
    base: Annotated[
        str | None, typer.Option("--base", help="Merge into (default: emergency_pr.base).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Open the hotfix's emergency pull request on GitHub (template and labels from the
    policy); the worker opens it and retries; `warroom hotfix list` shows its state."""
    path = f"/api/v1/incidents/{incident}/hotfixes/{name}/pr"
    body = {"head": head, **({"base": base} if base else {})}
    emit(as_json, call(ctx, "POST", path, json=body), _show_hotfix)


@hotfix_app.command("rollout")
def hotfix_rollout(
    ctx: typer.Context,
    incident: str,
    name: str,
    stage: Annotated[str, typer.Option("--stage", help="full (after the canary) or halted.")],
    note: Annotated[str, typer.Option("--note", "-n", help="What you saw (halted: why).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Promote a hotfix from its canary to the full rollout (after the monitor window), or
    halt it; the incident is not resolved while a canary is running."""
    if stage not in ("full", "halted"):
        fail(f"--stage {stage!r}: use full or halted")
    path = f"/api/v1/incidents/{incident}/hotfixes/{name}/rollout"
    emit(as_json, call(ctx, "POST", path, json={"stage": stage, "note": note}), _show_hotfix)


@hotfix_app.command("list")
def hotfix_list(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Hotfixes of an incident with their gates."""

    def human(payload: dict[str, Any]) -> None:
        for item in payload["items"]:
            _show_hotfix(item)

    emit(as_json, call_all(ctx, f"/api/v1/incidents/{incident}/hotfixes"), human)


# ---- verification -----------------------------------------------------------------------


@verify_app.command("status")
def verify_status(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Verification windows and their outcome."""

    def human(payload: dict[str, Any]) -> None:
        state = "passed" if payload["passed"] else "regressed" if payload["regressed"] else "open"
        console.print(f"verification: {state}")
        for event in payload["events"]:
            console.print(f"  {relative(event['occurred_at'])}  {event['type']}")

    emit(as_json, call(ctx, "GET", f"/api/v1/incidents/{incident}/verification"), human)


@verify_app.command("confirm")
def verify_confirm(
    ctx: typer.Context,
    incident: str,
    note: Annotated[str, typer.Option("--note", "-m", help="What you checked.")],
    as_json: JsonOpt = False,
) -> None:
    """Confirm stability by hand (when there are no automated checks)."""
    path = f"/api/v1/incidents/{incident}/verification/confirm"
    data = call(ctx, "POST", path, json={"note": note})
    emit(as_json, data, lambda d: console.print("[green]✓[/] verification passed"))
