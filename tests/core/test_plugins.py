"""The plug-in contract and the settings are documented, and each plug-in keeps its promises.

Like Datasette's documentation tests: adding a hook, a contribution, a setting or a config
section without documenting it fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
import typer

from warroom.core.plugins import Plugin, load_plugins
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
WARROOM = Path(__file__).resolve().parents[2] / "warroom"


def _hooks() -> list[str]:
    """Every contribution a plug-in may make: the methods and attributes of `Plugin`."""
    methods = [n for n, _ in inspect.getmembers(Plugin, inspect.isfunction) if n[0] != "_"]
    return sorted({*methods, *(n for n in Plugin.__annotations__ if n[0] != "_")})


@pytest.mark.parametrize("hook", _hooks())
def test_every_plugin_hook_is_documented_in_the_architecture(hook: str) -> None:
    text = (DOCS / "architecture.md").read_text("utf-8")
    assert f"`{hook}`" in text, f"Plugin.{hook} is missing from docs/architecture.md"


@pytest.mark.parametrize("hook", _hooks())
def test_every_plugin_hook_has_a_docstring_or_comment(hook: str) -> None:
    member = getattr(Plugin, hook, None)
    if inspect.isfunction(member):
        assert inspect.getdoc(member), f"Plugin.{hook} needs a docstring"
    else:
        source = inspect.getsource(Plugin)
        assert re.search(rf"#: .*\n(\s*#: .*\n)*\s*{hook}:", source), f"Plugin.{hook}: add #: doc"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    name = f"WARROOM_{field.upper()}"
    text = (DOCS / "configuration.md").read_text("utf-8")
    assert name in text, f"{name} is missing from docs/configuration.md"


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    used: set[str] = set()
    for path in WARROOM.rglob("*.py"):
        used.update(re.findall(r"\bWARROOM_[A-Z][A-Z_]*[A-Z]\b", path.read_text("utf-8")))
    text = (DOCS / "configuration.md").read_text("utf-8")
    assert sorted(name for name in used if name not in text) == []


def test_every_config_section_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text("utf-8")
    sections = [name for plugin in load_plugins() for name in plugin.config_sections()]
    assert sections, "the plug-ins declare config sections"
    assert [name for name in sections if f"`{name}`" not in text] == []


@pytest.mark.parametrize("plugin", load_plugins(), ids=lambda p: p.name)
def test_declared_commands_are_the_commands_the_plugin_adds(plugin: Plugin) -> None:
    """`warroom --help` shows `cli_commands` without loading the plug-in: they must be true."""
    registry = typer.Typer(rich_markup_mode="rich")
    plugin.register_cli(registry)
    commands = typer.main.get_group(registry).commands if plugin.cli_commands else {}
    real = {n: (c.help or "").split("\n\n")[0].replace("\n", " ") for n, c in commands.items()}
    assert real == dict(plugin.cli_commands)


@pytest.mark.parametrize("plugin", load_plugins(), ids=lambda p: p.name)
def test_every_plugin_declares_its_tables_module(plugin: Plugin) -> None:
    if plugin.tables is not None:
        assert (WARROOM / Path(*plugin.tables.split(".")[1:])).with_suffix(".py").exists()


def test_the_runtime_holds_every_service_and_effect_handler(runtime: Runtime) -> None:
    typed = [f.name for f in dataclasses.fields(Runtime) if not f.init]
    assert "alerts" in typed and "oncall" in typed, "the runtime declares its services"
    for name in typed:
        assert getattr(runtime, name) is not None
    declared = [h.kind for plugin in load_plugins() for h in plugin.effect_handlers()]
    assert len(declared) == len(set(declared)), "one handler per effect kind"
    assert sorted(runtime.effect_handlers) == sorted(declared)
