"""The composition root: builds every service once from Settings and hands them down."""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from warroom.core import migrate, outbox
from warroom.core.clock import Clock, SystemClock
from warroom.core.config import AppConfig, load_config
from warroom.core.db import Database
from warroom.core.errors import WarroomError
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

log = logging.getLogger(__name__)
_reload_lock = threading.Lock()


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
    # Started with no config file: `warroom demo` may write one into the data dir later,
    # and the running server takes it up (`follow_config_file`).
    awaiting_config_file: bool = field(default=False, repr=False)
    _config_checked_at: float = field(default=0.0, repr=False)

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
        awaiting = config is None and settings.config_file() is None
        config = config if config is not None else load_config(settings.config_file())
        if settings.database_url is None:
            settings.ensure_data_dir()
        db = Database(
            settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous
        )
        if run_migrations:
            migrate.upgrade(db)
        runtime = cls._wire(settings, config, db, clock or SystemClock())
        runtime.awaiting_config_file = awaiting
        return runtime

    @classmethod
    def _wire(cls, settings: Settings, config: AppConfig, db: Database, clock: Clock) -> Runtime:
        """Build every service for one config over an open database."""
        policy = config.policy
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

    def follow_config_file(self, *, every: float = 1.0) -> bool:
        """Take up a config file that appeared in the data dir after start (`warroom demo`
        writes its service catalog there): True when it was taken up just now."""
        path = self.new_config_file(every=every)
        return path is not None and self.take_up_config(path)

    def new_config_file(self, *, every: float = 1.0) -> Path | None:
        """The config file that appeared since a start without one; a stat at most once per
        `every` seconds (cheap enough for every request)."""
        if not self.awaiting_config_file:
            return None
        moment = time.monotonic()
        if moment - self._config_checked_at < every:
            return None
        self._config_checked_at = moment
        return self.settings.config_file()

    def take_up_config(self, path: Path) -> bool:
        """Rewire every service for the config in `path`, on the same database and clock
        (once). A config file that does not load is logged and left for a restart to report."""
        with _reload_lock:
            if not self.awaiting_config_file:
                return False
            self.awaiting_config_file = False
            try:
                config = load_config(path)
            except (WarroomError, OSError) as exc:
                log.warning("config file %s appeared but does not load: %s", path, exc)
                return False
            fresh = Runtime._wire(self.settings, config, self.db, self.clock)
            before = self.__dict__.get("alerts")
            for item in fields(self):
                if item.name not in ("awaiting_config_file", "_config_checked_at"):
                    setattr(self, item.name, getattr(fresh, item.name))
            if before is not None:  # one intake processor, with the new config
                before.hand_over(self.alerts)
        log.info("took up the config file %s (%d services)", path, len(config.services))
        return True

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
