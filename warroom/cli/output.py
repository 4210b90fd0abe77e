"""Human and JSON output for the CLI: tables, colours, relative times."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from warroom.core.durations import format_duration

console = Console()
err_console = Console(stderr=True)

SEVERITY_STYLES = ("bold white on red", "bold red", "yellow", "cyan", "dim")
STATUS_STYLES = {
    "triggered": "bold red",
    "acknowledged": "yellow",
    "investigating": "yellow",
    "identified": "magenta",
    "mitigating": "magenta",
    "monitoring": "cyan",
    "resolved": "green",
    "closed": "dim",
    "reopened": "bold red",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def relative(value: Any, now: datetime | None = None) -> str:
    moment = parse_time(value)
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    delta = now - moment
    if delta.total_seconds() >= 0:
        return f"{format_duration(delta)} ago"
    return f"in {format_duration(-delta)}"


def local_time(value: Any) -> str:
    moment = parse_time(value)
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def severity_text(severity: str, rank: int | None = None) -> str:
    style = SEVERITY_STYLES[min((rank or _guess_rank(severity)) - 1, len(SEVERITY_STYLES) - 1)]
    return f"[{style}]{severity}[/]"


def _guess_rank(severity: str) -> int:
    digits = "".join(ch for ch in severity if ch.isdigit())
    if not digits:
        return 3
    number = int(digits)
    return number + 1 if severity.upper().startswith("P") else max(number, 1)


def status_text(status: str) -> str:
    return f"[{STATUS_STYLES.get(status, 'white')}]{status}[/]"


def incidents_table(items: list[dict[str, Any]]) -> Table:
    """Incidents as a table that reads at 80 columns: ids, severities, statuses, owners and
    ages never wrap; the title and services take what is left."""
    from rich import box

    table = Table(
        show_header=True, header_style="bold", expand=False, box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0), pad_edge=False,
    )  # fmt: skip
    table.add_column("ID", no_wrap=True)
    table.add_column("Sev", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Owner", no_wrap=True, max_width=10, overflow="ellipsis")
    table.add_column("Age", no_wrap=True)
    table.add_column("Title (services)", overflow="fold", min_width=16)
    now = datetime.now(UTC)
    for item in items:
        services = ", ".join(item.get("services") or [])
        declared = parse_time(item.get("declared_at"))
        table.add_row(
            item["id"],
            severity_text(item["severity"]),
            status_text(item["status"]),
            escape(item.get("commander") or "-"),
            _age(now - declared) if declared else "-",
            escape(item["title"]) + (f" [dim]({escape(services)})[/]" if services else ""),
        )
    return table


def _age(delta: timedelta) -> str:
    """A compact age: 45s, 12m, 3h05, 2d4h."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def escape(text: str) -> str:
    """Keep user text from being read as Rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A titled table of plain values (escaped; None shows as a dash)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[escape(str(c)) if c is not None else "—" for c in row])
    console.print(table)
