"""The composition root: builds every service once from Settings and hands them down."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warroom.core import migrate, outbox
from warroom.core.clock import Clock, SystemClock
from warroom.core.config import AppConfig, load_config
from warroom.core.db import Database
from warroom.core.plugins import load_plugins
from warroom.core.settings import Settings
from warroom.incidents.service import IncidentService
from warroom.policy import Policy


@dataclass
class Runtime:
    settings: Settings
    config: AppConfig
    policy: Policy
    db: Database
    clock: Clock
    incidents: IncidentService
    # Services that plug-in packages add, by name (see warroom.core.plugins).
    extras: dict[str, Any] = field(default_factory=dict)
    # Outbox effect kind -> handler(runtime, effect) -> worker Outcome.
    effect_handlers: dict[str, Callable[[Runtime, outbox.ClaimedEffect], Any]] = field(
        default_factory=dict
    )
    # Effect kinds a worker runs before the others due at the same time (pages).
    urgent_kinds: set[str] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        config: AppConfig | None = None,
        run_migrations: bool = True,
    ) -> Runtime:
        """Load config and policy, open the database, optionally migrate, wire services."""
        config = config if config is not None else load_config(settings.config_file())
        policy = config.policy
        if settings.database_url is None:
            settings.ensure_data_dir()
        db = Database(
            settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous
        )
        if run_migrations:
            migrate.upgrade(db)
        clock = clock or SystemClock()
        incidents = IncidentService(
            db,
            clock,
            policy,
            known_services=[service.name for service in config.services],
        )
        runtime = cls(
            settings=settings,
            config=config,
            policy=policy,
            db=db,
            clock=clock,
            incidents=incidents,
        )
        for plugin in load_plugins():
            install = getattr(plugin, "install", None)
            if install is not None:
                install(runtime)
        return runtime

    def close(self) -> None:
        self.db.dispose()


def settle_heap() -> None:
    """Once a long-running process has started (imports, config, app): keep what it built out
    of later garbage collections, and collect the young generation less often. A full
    collection otherwise walks the whole heap while holding the GIL (100 ms and more in an
    alert storm, a pause for every request and page)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
