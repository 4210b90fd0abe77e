"""The incident commands (`warroom declare`, `list`, `show`, `ack`, `status`, `severity`,
`assign`, `note`, `timeline`, `flag`, `resolve`, `close`, `reopen`, `triage`, `stop`), all through
the REST API."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from warroom.cli.common import JsonOpt, call, call_all, done, emit, fail, past_time
from warroom.cli.output import (
    console,
    escape,
    incidents_table,
    local_time,
    print_json,
    relative,
    severity_text,
    status_text,
)
from warroom.core.vocab import TRIAGE_QUESTIONS


def _labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"label {pair!r} must look like key=value")
        labels[key.strip()] = value.strip()
    return labels


def _show_incident(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{data['id']}[/]  {severity_text(data['severity'])} "
        f"({escape(data.get('severity_name', ''))})  {status_text(data['status'])}  "
        f"[bold]{escape(data['title'])}[/]"
    )
    if data.get("summary"):
        console.print(escape(data["summary"]))
    if (data.get("flags") or {}).get("recurred"):
        console.print(
            "[bold white on red] RECURRED [/] [bold red]this incident came back after being "
            "resolved (see recurrence_detected on the timeline)[/]"
        )
    for rule, stop in (data.get("stops") or {}).items():
        console.print(
            f"[bold white on red] MUST STOP [/] [bold red]{escape(rule)}: "
            f"{escape(str(stop.get('text', '')))} ({escape(str(stop.get('reason', '')))})[/] "
            f"— decide, then: warroom stop ack {data['id']} {escape(rule)} --decision ..."
        )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("type", data["type"])
    grid.add_row("services", ", ".join(data.get("services") or []) or "-")
    if data.get("labels"):
        grid.add_row("labels", escape(", ".join(f"{k}={v}" for k, v in data["labels"].items())))
    for milestone in (
        "started_at",
        "detected_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    ):
        if data.get(milestone):
            grid.add_row(
                milestone.removesuffix("_at"),
                f"{local_time(data[milestone])} ({relative(data[milestone])})",
            )
    roles = data.get("roles") or {}
    grid.add_row("roles", escape(", ".join(f"{r}: {p}" for r, p in roles.items())) or "-")
    if data.get("roles_missing"):
        grid.add_row("roles missing", "[yellow]" + ", ".join(data["roles_missing"]) + "[/]")
    impact = {k: v for k, v in (data.get("impact") or {}).items() if v is not None}
    if impact:
        grid.add_row("impact", ", ".join(f"{k}={v}" for k, v in impact.items()))
    for name, target in (data.get("targets") or {}).items():
        text = target.get("label", "")
        if target.get("due_at"):
            state = (
                "met"
                if target.get("met")
                else "MISSED"
                if target.get("met") is False
                else (
                    "[red]overdue[/]"
                    if target.get("overdue")
                    else f"due {relative(target['due_at'])}"
                )
            )
            text = f"{text} ({state})"
        grid.add_row(f"{name} target", text)
    if data.get("next_update_due_at"):
        grid.add_row("next update", relative(data["next_update_due_at"]))
    monitoring = data.get("monitoring")
    if monitoring and data.get("status") not in ("resolved", "closed"):
        minutes = int(monitoring["window_seconds"] // 60)
        if monitoring.get("resolve_allowed"):
            text = "[green]done: resolving is allowed[/]"
        elif monitoring.get("ends_at"):
            text = f"{minutes} min after mitigation, ends {relative(monitoring['ends_at'])}"
            text += "" if monitoring.get("passed") else "; verification not passed yet"
        else:
            text = f"{minutes} min after mitigation (no mitigation recorded yet)"
        grid.add_row("monitoring", text)
    if data.get("postmortem"):
        pm = data["postmortem"]
        grid.add_row(
            "post-mortem", f"{pm.get('status')} owner={pm.get('owner')} due={pm.get('due_at')}"
        )
    if data.get("resolution_summary"):
        grid.add_row("resolution", escape(data["resolution_summary"]))
    if data.get("root_cause"):
        grid.add_row("root cause", escape(data["root_cause"]))
    if data.get("permanent_fix"):
        grid.add_row("permanent fix", escape(data["permanent_fix"]))
    grid.add_row("next moves", ", ".join(data.get("allowed_moves") or []) or "-")
    console.print(grid)


# ---- commands ------------------------------------------------------------------------


def declare(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What is broken, in a few words.")],
    severity: Annotated[
        str | None, typer.Option("--severity", "-s", help="e.g. SEV2 or P1.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="Incident type.")] = None,
    service: Annotated[
        list[str], typer.Option("--service", help="Affected service (repeat).")
    ] = [],
    label: Annotated[list[str], typer.Option("--label", help="key=value (repeat).")] = [],
    summary: Annotated[str, typer.Option(help="What is known so far.")] = "",
    started_at: Annotated[
        str | None, typer.Option(help="When impact began (ISO or '20m ago').")
    ] = None,
    detected_at: Annotated[str | None, typer.Option(help="When it was detected.")] = None,
    users_affected: Annotated[int | None, typer.Option(help="Estimated users affected.")] = None,
    customer_facing: Annotated[bool | None, typer.Option("--customer-facing/--internal")] = None,
    data_at_risk: Annotated[bool | None, typer.Option("--data-at-risk/--no-data-at-risk")] = None,
    revenue_per_hour: Annotated[
        float | None, typer.Option(help="Revenue at risk per hour.")
    ] = None,
    commander: Annotated[str | None, typer.Option(help="Incident commander.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an incident."""
    impact = {
        "users_affected": users_affected,
        "customer_facing": customer_facing,
        "data_at_risk": data_at_risk,
        "revenue_per_hour": revenue_per_hour,
    }
    body: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "severity": severity,
        "type": type_,
        "services": service,
        "labels": _labels(label),
        "impact": {k: v for k, v in impact.items() if v is not None},
        "started_at": past_time(started_at, "--started-at"),
        "detected_at": past_time(detected_at, "--detected-at"),
    }
    if commander:
        body["roles"] = {"commander": commander}
    if severity is None and _interactive() and not as_json:
        answers = _ask_triage()
        body["triage"] = answers
        if not any(v is not None for v in answers.values()):
            console.print(UNKNOWN_ANSWERS)
            body["severity"] = _ask_severity()
    data = call(
        ctx, "POST", "/api/v1/incidents", json={k: v for k, v in body.items() if v is not None}
    )
    if as_json:
        print_json(data)
        return
    console.print(
        f"[green]✓[/] declared [bold]{data['id']}[/] {severity_text(data['severity'])} "
        f"{escape(data['title'])}"
    )
    if data.get("roles_missing"):
        console.print(f"  roles to fill for {data['severity']}: {', '.join(data['roles_missing'])}")


def list_(
    ctx: typer.Context,
    status: Annotated[list[str], typer.Option("--status", help="Filter by status (repeat).")] = [],
    severity: Annotated[
        list[str], typer.Option("--severity", "-s", help="Filter by severity (repeat).")
    ] = [],
    service: Annotated[str | None, typer.Option(help="Filter by service.")] = None,
    open_: Annotated[
        bool | None, typer.Option("--open/--closed", help="Only open / only resolved+closed.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", "-q", help="Search title, summary, id.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    params: dict[str, Any] = {"status": status, "severity": severity, "limit": limit}
    if service:
        params["service"] = service
    if open_ is not None:
        params["open"] = str(open_).lower()
    if text:
        params["q"] = text
    data = call_all(ctx, "/api/v1/incidents", params=params, most=limit)

    def human(page: dict[str, Any]) -> None:
        if not page["items"]:
            console.print("no incidents match")
            return
        console.print(incidents_table(page["items"]))

    emit(as_json, data, human)


def show(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Show one incident."""
    emit(as_json, call(ctx, "GET", f"/api/v1/incidents/{incident}"), _show_incident)


def ack(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Acknowledge an incident (stops its escalation)."""
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/acknowledge")
    done(as_json, data, f"{data['id']} acknowledged")


def status(
    ctx: typer.Context,
    incident: str,
    new_status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS", help="investigating, identified, mitigating, monitoring..."
        ),
    ],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an incident to a working status."""
    body = {"status": new_status, **({"reason": reason} if reason else {})}
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/status", json=body)
    done(as_json, data, f"{data['id']} is now {data['status']}")


def severity(
    ctx: typer.Context,
    incident: str,
    new_severity: Annotated[str, typer.Argument(metavar="SEVERITY")],
    reason: Annotated[str, typer.Option(help="Why it changed.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Change an incident's severity."""
    data = call(
        ctx,
        "POST",
        f"/api/v1/incidents/{incident}/severity",
        json={"severity": new_severity, "reason": reason},
    )
    done(as_json, data, f"{data['id']} is now {data['severity']}")


def assign(
    ctx: typer.Context,
    incident: str,
    role: Annotated[
        str,
        typer.Argument(
            help="commander, deployer, investigator, communications_lead, executive_liaison, "
            "verifier, scribe"
        ),
    ],
    person: Annotated[str, typer.Argument(help="Who takes it ('-' to clear).")],
    as_json: JsonOpt = False,
) -> None:
    """Assign a role."""
    body = {"role": role.replace("-", "_"), "person": None if person == "-" else person}
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/roles", json=body)
    done(as_json, data, f"{data['id']}: {body['role']} → {person}")


def note(
    ctx: typer.Context,
    incident: str,
    text: Annotated[str, typer.Argument(help="The note.")],
    at: Annotated[str | None, typer.Option(help="Backdate: ISO time or '10m ago'.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the timeline."""
    body: dict[str, Any] = {"text": text}
    if at:
        body["occurred_at"] = past_time(at, "--at")
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/notes", json=body)
    done(as_json, data, f"note added to {data['id']}")


def timeline(
    ctx: typer.Context,
    incident: str,
    as_json: JsonOpt = False,
) -> None:
    """Show the incident's timeline."""
    data = call(ctx, "GET", f"/api/v1/incidents/{incident}/timeline")

    def human(payload: dict[str, Any]) -> None:
        table = Table(show_header=True, header_style="bold")
        for column in ("When", "Event", "Who", "Details"):
            table.add_column(column, overflow="fold")
        for event in payload["events"]:
            table.add_row(
                local_time(event["occurred_at"]),
                event["type"],
                escape(event["actor"]),
                escape(_describe(event)),
            )
        console.print(table)

    emit(as_json, data, human)


def _describe(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    kind = event["type"]
    if kind == "declared":
        return f"{data.get('severity')} {data.get('title')}"
    if kind == "note_added":
        return str(data.get("text", ""))
    if kind in ("status_changed", "severity_changed", "type_changed"):
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"{data.get('from')} → {data.get('to')}{reason}"
    if kind == "role_assigned":
        return f"{data.get('role')}: {data.get('person') or '(cleared)'}"
    if kind == "resolved":
        return str(data.get("summary", ""))
    if kind == "reopened":
        return str(data.get("reason", ""))
    if kind == "recurrence_detected":
        return (
            f"RECURRENCE of {data.get('previous_incident')} (resolved "
            f"{data.get('previous_resolved_at')}), alert {data.get('fingerprint')}"
        )
    if kind in ("alert_attached", "alert_resolved", "alert_acknowledged"):
        return f"{data.get('integration')}: {data.get('summary') or data.get('alert')}"
    if kind == "triaged":
        text = f"{data.get('severity')}/{data.get('type')} by rule '{data.get('severity_rule')}'"
        if data.get("overridden"):
            text += f"; overrode {data.get('proposed_severity')}: {data.get('override_reason')}"
        return text
    return ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, dict | list))


def resolve(
    ctx: typer.Context,
    incident: str,
    summary: Annotated[str, typer.Option("--summary", "-m", help="What fixed it.")] = "",
    confirm: Annotated[
        list[str], typer.Option("--confirm", help="Checklist item id confirmed (repeat), or 'all'.")
    ] = [],
    waive: Annotated[list[str], typer.Option("--waive", help="item=reason (repeat).")] = [],
    waive_verification: Annotated[
        str | None,
        typer.Option(help="Resolve before the monitoring window passed, with this reason."),
    ] = None,
    root_cause: Annotated[
        str, typer.Option("--root-cause", help="What caused it (some policies require it).")
    ] = "",
    permanent_fix: Annotated[
        str,
        typer.Option(
            "--permanent-fix", help="The permanent fix deployed (some policies require it)."
        ),
    ] = "",
    as_json: JsonOpt = False,
) -> None:
    """Resolve: needs a summary and every checklist item confirmed or waived with a reason
    (and, where the policy says so, the root cause and the permanent fix)."""
    checklist: dict[str, dict[str, Any]] = {}
    if "all" in confirm:
        policy = call(ctx, "GET", "/api/v1/policy")
        confirm = [item["id"] for item in policy.get("resolution_checklist", [])]
    for item in confirm:
        checklist[item] = {"confirmed": True}
    for pair in waive:
        item, sep, reason = pair.partition("=")
        if not sep:
            fail(f"--waive {pair!r} must look like item=reason")
        checklist[item] = {"waived": reason}
    data = call(
        ctx,
        "POST",
        f"/api/v1/incidents/{incident}/resolve",
        json={"summary": summary, "checklist": checklist}
        | ({"root_cause": root_cause} if root_cause else {})
        | ({"permanent_fix": permanent_fix} if permanent_fix else {})
        | ({"waive_verification": waive_verification} if waive_verification is not None else {}),
    )
    done(as_json, data, f"{data['id']} resolved")


def close(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """Close a resolved incident (post-mortem requirement permitting)."""
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/close")
    done(as_json, data, f"{data['id']} closed")


def reopen(
    ctx: typer.Context,
    incident: str,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it is back.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Reopen a resolved or closed incident."""
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/reopen", json={"reason": reason})
    done(as_json, data, f"{data['id']} reopened")


# ---- triage ---------------------------------------------------------------------------


UNKNOWN_ANSWERS = (
    "No severity proposed: every triage answer is unknown. Answer at least one question "
    "(flags: see --help) or give the severity yourself."
)


def _interactive() -> bool:
    """A person at a terminal (tests replace this to drive the questions)."""
    return sys.stdin.isatty()


def _ask_triage() -> dict[str, Any]:
    """Each question answered y, n or ? (unknown, the default: a guess is worse than none)."""
    answers: dict[str, Any] = {}
    for question in TRIAGE_QUESTIONS:
        reply = typer.prompt(
            f"{question.text} [y/n/?]",
            default="?",
            show_default=False,
            value_proc=_yes_no_unknown,
        )
        if reply is not None:
            answers[question.key] = reply
    pct = typer.prompt(
        "Share of users affected (0-100 %, empty if unknown)", default="", show_default=False
    ).strip()
    if pct:
        try:
            answers["users_affected_pct"] = float(pct.rstrip("%"))
        except ValueError:
            fail(f"share of users affected: {pct!r} is not a percentage")
    return answers


def _yes_no_unknown(text: str) -> bool | None:
    reply = text.strip().lower()
    if reply in ("y", "yes"):
        return True
    if reply in ("n", "no"):
        return False
    if reply in ("?", "", "unknown", "u"):
        return None
    raise typer.BadParameter("answer y, n or ? (unknown)")


def _ask_severity() -> str:
    return str(typer.prompt("Severity")).strip()


def _with_triage_flags(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command` a `--KEY/--no-KEY` option per triage question, after its first two
    parameters; their answers arrive in its `**answers`."""
    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    flags = [
        inspect.Parameter(
            q.key,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=None,
            annotation=Annotated[
                bool | None, typer.Option(f"{q.yes_flag}/{q.no_flag}", help=q.text)
            ],
        )
        for q in TRIAGE_QUESTIONS
    ]
    # Typer reads the parameters from `__signature__` when a function has one.
    flagged = signature.replace(parameters=[*params[:2], *flags, *params[2:]])
    setattr(command, "__signature__", flagged)  # noqa: B010
    return command


@_with_triage_flags
def triage(
    ctx: typer.Context,
    incident: Annotated[
        str | None, typer.Argument(help="Record the triage on this incident.")
    ] = None,
    users_pct: Annotated[
        float | None, typer.Option("--users-pct", help="Share of users affected, %.")
    ] = None,
    severity_: Annotated[
        str | None, typer.Option("--severity", help="Override the proposed severity.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Override the proposed type.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why you override the proposal.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accept the proposal without asking.")
    ] = False,
    as_json: JsonOpt = False,
    **flags: bool | None,
) -> None:
    """Answer the assessment questions; get a proposed severity and type with the deciding rule."""
    given: dict[str, Any] = {**flags, "users_affected_pct": users_pct}
    answers = {k: v for k, v in given.items() if v is not None}
    interactive = not answers and _interactive() and not as_json
    if interactive:
        answers = _ask_triage()
        if not answers:
            console.print(UNKNOWN_ANSWERS)
            if incident is None:
                raise typer.Exit(1)
            severity_ = severity_ or _ask_severity()
    if not answers and not interactive:
        fail("give the assessment answers as flags (see --help), or run in a terminal to be asked")
    proposal = call(ctx, "POST", "/api/v1/triage", json=answers)
    if proposal["severity"] is None and not severity_:
        # Every answer unknown: nothing to accept (the API says why in its reasons).
        if as_json and incident is None:
            print_json(proposal)
            return
        fail(UNKNOWN_ANSWERS)
    if not as_json and proposal["severity"] is not None:
        console.print(
            f"Proposed: {severity_text(proposal['severity'])} / {proposal['type']}  "
            f"(severity rule: {escape(proposal['severity_rule'])}; "
            f"type rule: {escape(proposal['type_rule'])})"
        )
    if incident is None:
        if as_json:
            print_json(proposal)
        return
    if (
        interactive
        and not yes
        and not severity_
        and not typer.confirm(f"Accept {proposal['severity']}?", default=True)
    ):
        severity_ = _ask_severity()
        reason = typer.prompt("Reason for overriding")
    body: dict[str, Any] = {"answers": answers}
    if severity_:
        body["severity"] = severity_
    if type_:
        body["type"] = type_
    if reason:
        body["override_reason"] = reason
    data = call(ctx, "POST", f"/api/v1/incidents/{incident}/triage", json=body)
    done(as_json, data, f"triage recorded on {data['id']}: {data['severity']} / {data['type']}")


# ---- condition flags and MUST STOP ----------------------------------------------------


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


def stop_list(ctx: typer.Context, incident: str, as_json: JsonOpt = False) -> None:
    """The MUST STOP rules raised and not yet acknowledged."""
    data = call(ctx, "GET", f"/api/v1/incidents/{incident}")
    emit(as_json, {"id": data["id"], "stops": data.get("stops") or {}}, _print_stops)


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


def register(app: typer.Typer) -> None:
    """Add the incident commands to `warroom`, in the order its help lists them."""
    app.command("declare")(declare)
    app.command("list")(list_)
    app.command("show")(show)
    app.command("ack")(ack)
    app.command("status")(status)
    app.command("severity")(severity)
    app.command("assign")(assign)
    app.command("note")(note)
    app.command("timeline")(timeline)
    app.command("flag")(flag)
    app.command("resolve")(resolve)
    app.command("close")(close)
    app.command("reopen")(reopen)
    app.command("triage")(triage)
    stop_app = typer.Typer(
        help="MUST STOP rules raised on an incident: list them, acknowledge with a decision.",
        no_args_is_help=True,
    )
    stop_app.command("list")(stop_list)
    stop_app.command("ack")(stop_ack)
    app.add_typer(stop_app, name="stop")
