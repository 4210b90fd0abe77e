"""`warroom import pagerduty ...`: read the vendor here (its token never reaches warroom's
server), send the plan to warroom, print what was (or, with --dry-run, would be) done."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from warroom.cli.common import JsonOpt, call, emit, fail
from warroom.cli.output import console, escape, print_table
from warroom.core.errors import WarroomError
from warroom.importers import grafana_oncall, opsgenie, pagerduty
from warroom.importers.common import ContactTemplates
from warroom.importers.plan import ImportedPerson, ImportPlan
from warroom.importers.source import ApiSource, DirectorySource, Source

import_app = typer.Typer(
    help="Import on-call set-up from PagerDuty, Opsgenie or Grafana OnCall.",
    no_args_is_help=True,
)

ApiUrl = Annotated[str | None, typer.Option("--api-url", help="The vendor's API base URL.")]
Token = Annotated[
    str | None, typer.Option("--token", help="The vendor's API token (or its env variable).")
]
FromDir = Annotated[
    Path | None, typer.Option("--from", help="A directory of saved API responses instead.")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
EmailUrl = Annotated[
    str | None,
    typer.Option(
        "--email-url",
        help="Apprise URL for email contact methods, {address} replaced, e.g. "
        "'mailto://user:pass@smtp.example.com?to={address}'.",
    ),
]
SmsUrl = Annotated[str | None, typer.Option("--sms-url", help="Apprise URL for SMS, {address}.")]
PhoneUrl = Annotated[
    str | None, typer.Option("--phone-url", help="Apprise URL for phone calls, {address}.")
]
VerifyAt = Annotated[
    list[str],
    typer.Option(
        "--verify-at",
        help="An instant (ISO 8601) to compare on-call answers at (repeatable; default: now, "
        "in 1, 2 and 7 days).",
    ),
]
Verify = Annotated[
    bool,
    typer.Option(
        "--verify/--no-verify",
        help="After importing, compare who is on call now and over the next week with the "
        "vendor's own answer (API only).",
    ),
]


def _source(api_url: str, token: str | None, directory: Path | None, headers: Any) -> Source:
    if directory is not None:
        try:
            return DirectorySource(directory)
        except WarroomError as exc:
            fail(exc.message)
    if not token:
        fail("give the vendor's API token (--token or its environment variable) or --from DIR")
    return ApiSource(api_url, headers(token))


def _report(ctx: typer.Context, plan: ImportPlan, dry_run: bool, as_json: bool) -> dict[str, Any]:
    report: dict[str, Any] = call(
        ctx,
        "POST",
        "/api/v1/import",
        params={"dry_run": str(dry_run).lower()},
        json=plan.model_dump(mode="json"),
    )

    def human(data: dict[str, Any]) -> None:
        verb = "would" if dry_run else "did"
        rows = [
            [a["action"], a["kind"].replace("_", " "), a["name"], a["why"]]
            for a in data["actions"]
            if a["action"] != "unchanged"
        ]
        if rows:
            print_table("Changes", ["action", "kind", "name", "why"], rows)
        counts = {
            k: sum(1 for a in data["actions"] if a["action"] == k)
            for k in ("create", "update", "unchanged", "skip")
        }
        console.print(
            f"{'Plan' if dry_run else 'Imported'} from {data['vendor']}: {verb} create "
            f"{counts['create']}, update {counts['update']}, skip {counts['skip']}; "
            f"{counts['unchanged']} unchanged."
        )
        for item in data["skipped"]:
            console.print(
                f"  not imported: {escape(item['kind'])} {escape(item['name'])}: "
                f"{escape(item['why'])}"
            )

    emit(as_json, report, human)
    return report


@dataclass(frozen=True)
class _Vendor:
    title: str
    api_url: str
    token_env: str
    headers: Callable[[str], dict[str, str]]
    read: Callable[[Source, ContactTemplates, datetime], ImportPlan]
    who: Callable[[Source, str, datetime], str | None]
    # How the vendor's who-is-on-call answer names a person of the plan.
    key: Callable[[ImportedPerson], str]


PAGERDUTY = _Vendor(
    "PagerDuty",
    pagerduty.API_URL,
    "PAGERDUTY_TOKEN",
    pagerduty.headers,
    pagerduty.read,
    pagerduty.who_is_on_call,
    lambda person: person.vendor_id,
)
GRAFANA_ONCALL = _Vendor(
    "Grafana OnCall",
    grafana_oncall.API_URL,
    "GRAFANA_ONCALL_TOKEN",
    grafana_oncall.headers,
    grafana_oncall.read,
    grafana_oncall.who_is_on_call,
    lambda person: person.person.email,
)
OPSGENIE = _Vendor(
    "Opsgenie",
    opsgenie.API_URL,
    "OPSGENIE_API_KEY",
    opsgenie.headers,
    opsgenie.read,
    opsgenie.who_is_on_call,
    lambda person: person.person.email,
)


def _run(
    ctx: typer.Context,
    vendor: _Vendor,
    *,
    api_url: str | None,
    token: str | None,
    directory: Path | None,
    dry_run: bool,
    templates: ContactTemplates,
    verify: bool,
    verify_at: list[str],
    as_json: bool,
) -> None:
    token = token or os.environ.get(vendor.token_env)
    if directory is None and not (api_url or vendor.api_url):
        fail(f"give {vendor.title}'s API URL (--api-url) or --from DIR")
    source = _source(api_url or vendor.api_url, token, directory, vendor.headers)
    now = datetime.now(UTC)
    try:
        instants = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in verify_at] or [
            now + timedelta(days=days, minutes=1) for days in (0, 1, 2, 7)
        ]
    except ValueError:
        fail("--verify-at takes ISO 8601 instants, e.g. 2027-03-28T07:30:00Z")
    if any(at.tzinfo is None for at in instants):
        fail("--verify-at instants need an offset (or Z)")
    try:
        plan = vendor.read(source, templates, now)
    except WarroomError as exc:
        fail(exc.message)
    _report(ctx, plan, dry_run, as_json)
    if dry_run or not verify or directory is not None:
        return
    people = {vendor.key(p): p.person.name for p in plan.people}
    mismatches = 0
    for schedule in plan.schedules:
        for at in instants:
            try:
                theirs = vendor.who(source, schedule.vendor_id, at)
            except WarroomError as exc:
                fail(f"cannot compare with {vendor.title}: {exc.message}", code=1)
            expected = people.get(theirs) if theirs else None
            ours = call(
                ctx,
                "GET",
                "/api/v1/oncall/who",
                params={"schedule": schedule.schedule.name, "at": at.isoformat()},
            )
            got = ours["items"][0]["person"] if ours["items"] else None
            if got != expected:
                mismatches += 1
                console.print(
                    f"[yellow]differs:[/] {escape(schedule.schedule.name)} at "
                    f"{at:%Y-%m-%d %H:%M} UTC: {vendor.title} {expected or 'nobody'}, "
                    f"warroom {got or 'nobody'}"
                )
    if mismatches:
        fail(f"{mismatches} on-call answers differ from {vendor.title}'s (see above)", code=1)
    if not as_json:
        when = "at the given instants" if verify_at else "now and over the next week"
        console.print(f"[green]✓[/] who is on call agrees with {vendor.title} {when}")


def _command(vendor: _Vendor, help_text: str) -> Callable[..., None]:
    """The `warroom import VENDOR` command: the same options for every vendor."""

    def command(
        ctx: typer.Context,
        api_url: ApiUrl = None,
        token: Token = None,
        directory: FromDir = None,
        dry_run: DryRun = False,
        email_url: EmailUrl = None,
        sms_url: SmsUrl = None,
        phone_url: PhoneUrl = None,
        verify: Verify = True,
        verify_at: VerifyAt = [],
        as_json: JsonOpt = False,
    ) -> None:
        _run(
            ctx,
            vendor,
            api_url=api_url,
            token=token,
            directory=directory,
            dry_run=dry_run,
            templates=ContactTemplates(email_url, sms_url, phone_url),
            verify=verify,
            verify_at=verify_at,
            as_json=as_json,
        )

    command.__doc__ = help_text
    return command


import_app.command("pagerduty")(
    _command(
        PAGERDUTY,
        "People (contact methods), teams, schedules (layers, restrictions, overrides), "
        "escalation policies and services (with their Events API routing keys) from "
        "PagerDuty's REST API v2 (token: --token or PAGERDUTY_TOKEN).",
    )
)
import_app.command("opsgenie")(
    _command(
        OPSGENIE,
        "People (contacts), teams, schedules (rotations, time restrictions, overrides) and "
        "escalations from Opsgenie's API v2 (key: --token or OPSGENIE_API_KEY; EU accounts: "
        "--api-url https://api.eu.opsgenie.com).",
    )
)
import_app.command("grafana-oncall")(
    _command(
        GRAFANA_ONCALL,
        "Users, teams, web schedules (rotations, overrides) and escalation chains from "
        "Grafana OnCall's public API (--api-url: its OnCall API URL; token: --token or "
        "GRAFANA_ONCALL_TOKEN); it has no phone numbers, so --sms-url/--phone-url go unused.",
    )
)
