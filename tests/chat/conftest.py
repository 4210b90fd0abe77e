"""Chat fixtures: a runtime whose config has a chat section, and a real Synapse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat import synapse
from warroom.core.auth import Principal
from warroom.core.clock import FixedClock
from warroom.core.config import parse_config
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.oncall.models import PersonIn

ADMIN = Principal(name="token:root", scopes=frozenset({"admin"}))


@pytest.fixture(scope="session")
def synapse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[synapse.Synapse]:
    """One homeserver per xdist worker (its own port and directory)."""
    server = synapse.start(tmp_path_factory.mktemp("synapse"))
    yield server
    synapse.stop(server)


@pytest.fixture
def chat_runtime(
    settings: Settings, clock: FixedClock
) -> Iterator[Callable[[dict[str, Any]], Runtime]]:
    """Build a runtime with this `chat` section (and people alice, bob, carol)."""
    built: list[Runtime] = []

    def build(chat: dict[str, Any]) -> Runtime:
        config = parse_config({"chat": chat})
        runtime = Runtime.build(settings, clock=clock, config=config, run_migrations=False)
        built.append(runtime)
        oncall = runtime.oncall
        for name in ("alice", "bob", "carol"):
            oncall.create_person(ADMIN, PersonIn(name=name, email=f"{name}@example.com"))
        return runtime

    yield build
    for runtime in built:
        runtime.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


def catch_up(worker: Any) -> None:
    """Let the worker run until nothing is due (paging and chat effects plan more effects)."""
    for _ in range(10):
        if worker.run_once() == 0:
            return
