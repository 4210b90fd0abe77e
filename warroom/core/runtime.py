"""The composition root: builds every service once from Settings and hands them down."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from warroom.core import migrate, outbox
from warroom.core.clock import Clock, SystemClock
from warroom.core.config import AppConfig, load_config
from warroom.core.db import Database
from warroom.core.plugins import load_plugins
from warroom.core.settings import Settings
from warroom.incidents.service import IncidentService
from warroom.policy import Policy

if TYPE_CHECKING:
    from warroom.alerts.service import AlertService
    from warroom.chat.service import ChatService
    from warroom.comms.plugin import Comms
    from warroom.identity.service import IdentityService
    from warroom.metrics.service import MetricsService
    from warroom.oncall.service import OncallService
    from warroom.postmortems.service import ActionItemService, PostmortemService
    from warroom.postmortems.similarity import SimilarityService
    from warroom.workbench.service import Workbench


@dataclass
class Runtime:
    settings: Settings
    config: AppConfig
    policy: Policy
    db: Database
    clock: Clock
    incidents: IncidentService
    # The services the plug-in packages build in their `install` (warroom.core.plugins).
    alerts: AlertService = field(init=False, repr=False)
    oncall: OncallService = field(init=False, repr=False)
    comms: Comms = field(init=False, repr=False)
    workbench: Workbench = field(init=False, repr=False)
    postmortems: PostmortemService = field(init=False, repr=False)
    action_items: ActionItemService = field(init=False, repr=False)
    similarity: SimilarityService = field(init=False, repr=False)
    metrics: MetricsService = field(init=False, repr=False)
    chat: ChatService = field(init=False, repr=False)
    identity: IdentityService = field(init=False, repr=False)
    # Outbox effect kind -> how the worker runs it (each plug-in's `effect_handlers`).
    effect_handlers: dict[str, outbox.EffectHandler] = field(default_factory=dict)

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
        plugins = load_plugins()
        for plugin in plugins:
            plugin.install(runtime)
        for plugin in plugins:
            incidents.reactors.extend(plugin.reactors(runtime))
            incidents.projectors.extend(plugin.projectors(runtime))
            incidents.after_commit.extend(plugin.after_commit(runtime))
            runtime.effect_handlers.update((h.kind, h) for h in plugin.effect_handlers())
        return runtime

    def close(self) -> None:
        alerts = self.__dict__.get("alerts")
        if alerts is not None:  # its intake threads write to the database
            alerts.close()
        self.db.dispose()


def settle_heap() -> None:
    """Once a long-running process has started (imports, config, app): keep what it built out
    of later garbage collections, and collect the young generation less often. A full
    collection otherwise walks the whole heap while holding the GIL (100 ms and more in an
    alert storm, a pause for every request and page)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
