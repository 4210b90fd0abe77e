"""Shared CLI plumbing: the client from global options, error handling, `--json`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer

from warroom.cli.client import ApiError, Client
from warroom.cli.output import console, err_console, print_json
from warroom.core.durations import parse_duration

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@dataclass
class CliState:
    server: str | None = None
    token: str | None = None
    actor: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            if self.server:
                self._client = Client.remote(self.server, self.token)
            else:
                self._client = Client.local(self.actor)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = CliState(
            server=os.environ.get("WARROOM_SERVER"),
            token=os.environ.get("WARROOM_TOKEN"),
        )
    obj: CliState = root.obj
    return obj


def fail(message: str, *, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def handled() -> Iterator[None]:
    """Turn API errors into one clear line and an exit code (2 for bad input, 1 otherwise)."""
    try:
        yield
    except ApiError as exc:
        message = exc.message.replace("[", r"\[")
        fail(message, code=2 if 400 <= exc.status < 500 else 1)


def call(ctx: typer.Context, method: str, path: str, **kwargs: Any) -> Any:
    with handled():
        return state(ctx).client().call(method, path, **kwargs)


def call_all(
    ctx: typer.Context, path: str, *, params: dict[str, Any] | None = None, most: int | None = None
) -> Any:
    """GET a whole list, following its pages (`most`: stop after that many items)."""
    with handled():
        return state(ctx).client().call_all(path, params=params, most=most)


def emit(as_json: bool, data: Any, human: Callable[[Any], None]) -> None:
    if as_json:
        print_json(data)
    else:
        human(data)


def past_time(value: str | None, name: str) -> str | None:
    """Accept ISO 8601 or a relative '15m ago' / '15m'."""
    if value is None:
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment.astimezone(UTC).isoformat()
    except ValueError:
        pass
    try:
        delta = parse_duration(text.removesuffix("ago").strip())
    except ValueError:
        fail(f"{name}: give an ISO time (2026-11-23T10:00:00Z) or an age like '20m ago'")
    return (datetime.now(UTC) - delta).isoformat()


def done(as_json: bool, data: dict[str, Any], message: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(f"[green]✓[/] {message}")


def future_time(value: str, name: str) -> str:
    """An ISO time (naive = local time), or a duration from now like `2h` / `7d`, as UTC ISO."""
    text = value.strip()
    try:
        return (datetime.now(UTC) + parse_duration(text)).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name}: give an ISO time (2026-12-01T09:00:00Z) or a duration from now like 2h")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat()
