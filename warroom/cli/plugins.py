"""The plug-ins' commands on the `warroom` command line, imported only when one of them runs.

`warroom --help` lists them from each plug-in's `cli_commands` (name and one line of help), so
starting the CLI imports no plug-in's commands, services or routes; running one of them loads
its plug-in's commands (`Plugin.register_cli`) just then.
"""

from __future__ import annotations

import typer
from typer import _click as click  # typer 0.2x ships its own click
from typer.core import TyperCommand, TyperGroup

from warroom.core.plugins import Plugin, load_plugins


class PluginCommands(TyperGroup):
    """The root `warroom` group: its own commands, then every plug-in's, loaded lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        for plugin in load_plugins():
            names += [name for name in plugin.cli_commands if name not in names]
        return names

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        plugin = _declaring(cmd_name)
        if plugin is None:
            return None
        # Listed in help (or completed) but not run: its declared summary is enough.
        summary = plugin.cli_commands[cmd_name]
        return TyperCommand(cmd_name, help=summary, short_help=summary)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            plugin = _declaring(args[0])
            if plugin is not None:
                self.load(plugin)
            else:  # a typo: suggest from every command
                self.load_all()
        return super().resolve_command(ctx, args)

    def load(self, plugin: Plugin) -> None:
        """Add the plug-in's real commands (all of them, as `register_cli` adds them)."""
        registry = typer.Typer(rich_markup_mode="rich")
        plugin.register_cli(registry)
        group = typer.main.get_group(registry)
        for name, command in group.commands.items():
            self.commands.setdefault(name, command)

    def load_all(self) -> None:
        for plugin in load_plugins():
            self.load(plugin)


def _declaring(name: str) -> Plugin | None:
    return next((p for p in load_plugins() if name in p.cli_commands), None)
