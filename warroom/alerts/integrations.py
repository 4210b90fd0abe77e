"""Integrations: their keys (only hashes kept), options, authentication and rate limits.

An integration is a named sender of one kind (alertmanager, pagerduty, grafana, generic,
heartbeat), defined through the API or in the config file. Intake endpoints authenticate the
sender's key here (answered from a short-lived cache on the hot path) and check its rate.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator
from sqlalchemy import insert, select, update

from warroom.alerts import domain
from warroom.alerts import tables as t
from warroom.core.auth import TOKEN_PREFIX, Principal, hash_token
from warroom.core.auth import authenticate as authenticate_token
from warroom.core.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthorized
from warroom.core.ratelimit import TokenBuckets

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
KEY_CACHE_SECONDS = 2.0


class IntegrationOptions(BaseModel):
    """Per-integration settings (stored with API integrations, inline in the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(default=None, description="Service when the labels name none.")
    rate_limit: float = Field(default=100.0, ge=0, description="Requests/s; 0 = unlimited.")
    burst: int = Field(default=1000, ge=1)
    mapping: domain.GenericMapping | None = None
    timeout_seconds: int = Field(default=300, ge=10, le=7 * 86400)
    severity: str = "critical"
    summary: str | None = None


class IntegrationConfig(IntegrationOptions):
    """An integration in the config file; its key as a SHA-256 hash or an env var name."""

    kind: str
    key_sha256: str | None = None
    key_env: str | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in domain.KINDS:
            raise ValueError(f"kind must be one of {', '.join(domain.KINDS)}")
        return value

    @field_validator("key_sha256")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("key_sha256 is the 64 hex digits of the key's SHA-256")
        return value


class IntegrationsSection(RootModel[dict[str, IntegrationConfig]]):
    """The `integrations` config section: name -> integration."""

    root: dict[str, IntegrationConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class Integration:
    name: str
    kind: str
    options: IntegrationOptions
    source: str  # api | config
    key_prefix: str = ""
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "key_prefix": self.key_prefix,
            "options": self.options.model_dump(exclude_defaults=True, mode="json"),
            "created_at": self.created_at,
            "rotated_at": self.rotated_at,
            "revoked_at": self.revoked_at,
            "endpoint": ENDPOINTS.get(self.kind, ""),
        }


ENDPOINTS = {
    "alertmanager": "/api/v1/alerts/alertmanager",
    "pagerduty": "/v2/enqueue",
    "grafana": "/api/v1/alerts/grafana",
    "generic": "/api/v1/alerts/generic",
    "heartbeat": "/api/v1/heartbeats/{name}",
}


_BROUGHT_KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def generate_key() -> str:
    """32 hex characters, the shape of a PagerDuty integration (routing) key."""
    return secrets.token_hex(16)


class IntegrationService:
    """The only writer of integrations; authenticates intake keys and enforces rate limits."""

    def __init__(self, runtime: Runtime) -> None:
        self.db = runtime.db
        self.clock = runtime.clock
        configured = runtime.config.section("integrations")
        self.config_integrations: dict[str, IntegrationConfig] = (
            dict(configured.root) if isinstance(configured, IntegrationsSection) else {}
        )
        self._config_keys: dict[str, str] = {}
        for name, cfg in self.config_integrations.items():
            if cfg.key_sha256:
                self._config_keys[cfg.key_sha256] = name
            elif cfg.key_env and os.environ.get(cfg.key_env):
                self._config_keys[hash_token(os.environ[cfg.key_env])] = name
        self.limiter = TokenBuckets()
        # Valid keys are remembered briefly (a DB read per request is most of the cost of a
        # small webhook); rotate/revoke clear it at once here, other processes within seconds.
        self._key_cache: dict[str, tuple[Integration, float]] = {}
        # Keys being re-read after their entry expired: meanwhile the other requests keep
        # using the entry (for up to another KEY_CACHE_SECONDS) instead of all re-reading it.
        self._key_refreshing: set[str] = set()
        self._key_lock = threading.Lock()
        # Rate-limited requests are counted in memory (writing them would add load under a flood).
        self.rate_limited: dict[str, int] = {}
        self._rate_lock = threading.Lock()

    def create(
        self,
        principal: Principal,
        name: str,
        kind: str,
        options: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> tuple[Integration, str]:
        """Create an integration; return it with its key (shown once, only a hash is kept).

        `key` keeps a key senders already use (a PagerDuty routing key when moving from
        PagerDuty), so they need no change but their URL."""
        principal.require("admin")
        if key is not None and not _BROUGHT_KEY.match(key):
            raise InvalidInput("a key brought along is 20-64 letters, digits, _ or -")
        name = name.strip()
        if not _SLUG.match(name):
            raise InvalidInput("an integration name is a lowercase slug (letters, digits, . _ -)")
        if kind not in domain.KINDS:
            raise InvalidInput(f"unknown kind {kind!r}; choose from {', '.join(domain.KINDS)}")
        opts = _options(options or {})
        if name in self.config_integrations:
            raise Conflict(f"integration {name} is defined in the config file")
        key = key or generate_key()
        now = self.clock.now()
        with self.db.write() as conn:
            exists = conn.execute(
                select(t.alert_integrations.c.id).where(t.alert_integrations.c.name == name)
            ).first()
            if exists is not None:
                raise Conflict(f"integration {name} already exists")
            taken = conn.execute(
                select(t.alert_integrations.c.name).where(
                    t.alert_integrations.c.key_hash == hash_token(key)
                )
            ).first()
            if taken is not None:
                raise Conflict(f"integration {taken.name} already has this key")
            conn.execute(
                insert(t.alert_integrations).values(
                    name=name,
                    kind=kind,
                    key_hash=hash_token(key),
                    key_prefix=key[:6],
                    options=opts.model_dump(exclude_defaults=True, mode="json"),
                    created_at=now,
                    created_by=principal.actor,
                )
            )
            if kind == "heartbeat":
                conn.execute(
                    insert(t.alert_heartbeats).values(
                        integration=name,
                        state="inactive",
                        last_seen=None,
                        timeout_seconds=opts.timeout_seconds,
                        updated_at=now,
                    )
                )
        return self.get(name), key

    def rotate(self, principal: Principal, name: str) -> tuple[Integration, str]:
        """A new key; the old one stops working at once."""
        principal.require("admin")
        if name in self.config_integrations:
            raise Conflict(f"{name} is defined in the config file; change its key there")
        key = generate_key()
        self._key_cache.clear()
        with self.db.write() as conn:
            result = conn.execute(
                update(t.alert_integrations)
                .where(t.alert_integrations.c.name == name)
                .values(
                    key_hash=hash_token(key),
                    key_prefix=key[:6],
                    rotated_at=self.clock.now(),
                    revoked_at=None,
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"no integration {name}")
        return self.get(name), key

    def revoke(self, principal: Principal, name: str) -> Integration:
        principal.require("admin")
        if name in self.config_integrations:
            raise Conflict(f"{name} is defined in the config file; remove it there")
        self._key_cache.clear()
        with self.db.write() as conn:
            result = conn.execute(
                update(t.alert_integrations)
                .where(t.alert_integrations.c.name == name)
                .values(key_hash=None, revoked_at=self.clock.now())
            )
            if result.rowcount == 0:
                raise NotFound(f"no integration {name}")
        return self.get(name)

    def get(self, name: str) -> Integration:
        if name in self.config_integrations:
            return _from_config(name, self.config_integrations[name])
        with self.db.read() as conn:
            row = conn.execute(
                select(t.alert_integrations).where(t.alert_integrations.c.name == name)
            ).first()
        if row is None:
            raise NotFound(f"no integration {name}")
        return _from_row(row)

    def list_integrations(self) -> list[Integration]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.alert_integrations).order_by(t.alert_integrations.c.name)
            ).all()
        items = [_from_config(n, c) for n, c in sorted(self.config_integrations.items())]
        return items + [_from_row(r) for r in rows]

    def authenticate_cached(self, key: str | None, kind: str) -> Integration:
        """`authenticate` answered from memory, or LookupError when that needs the database."""
        if key:
            digest_ = hash_token(key.strip())
            cached = self._key_cache.get(digest_)
            if cached is not None and self._usable(digest_, cached[1]):
                if cached[0].kind != kind:
                    raise Unauthorized(
                        f"invalid, revoked or wrong-kind key for the {kind} endpoint"
                    )
                return cached[0]
        raise LookupError(key)

    def _usable(self, digest_: str, expires: float) -> bool:
        """A cached key is usable until it expires; then one caller re-reads it (False here)
        while the others go on with it for another KEY_CACHE_SECONDS at most."""
        now = time.monotonic()
        if expires > now:
            return True
        if expires + KEY_CACHE_SECONDS <= now:
            return False
        with self._key_lock:
            if digest_ in self._key_refreshing:
                return True
            self._key_refreshing.add(digest_)
            return False

    def authenticate(self, key: str | None, kind: str, name: str | None = None) -> Integration:
        """The integration a key belongs to; only valid for its own kind of endpoint."""
        if not key:
            raise Unauthorized(
                "an integration key is required (Authorization: Bearer KEY or in the URL)"
            )
        digest_ = hash_token(key.strip())
        integration: Integration | None = None
        cached = self._key_cache.get(digest_)
        if cached is not None and cached[1] > time.monotonic():
            integration = cached[0]
        elif digest_ in self._config_keys:
            cname = self._config_keys[digest_]
            integration = _from_config(cname, self.config_integrations[cname])
        else:
            try:
                with self.db.read() as conn:
                    row = conn.execute(
                        select(t.alert_integrations).where(
                            t.alert_integrations.c.key_hash == digest_
                        )
                    ).first()
                if row is not None and row.revoked_at is None:
                    integration = _from_row(row)
                    self._key_cache[digest_] = (integration, time.monotonic() + KEY_CACHE_SECONDS)
                else:  # revoked or rotated elsewhere: stop serving the old entry
                    self._key_cache.pop(digest_, None)
            finally:
                with self._key_lock:
                    self._key_refreshing.discard(digest_)
        if integration is None or integration.kind != kind:
            raise Unauthorized(f"invalid, revoked or wrong-kind key for the {kind} endpoint")
        if name is not None and integration.name != name:
            raise Unauthorized("this key belongs to another integration")
        return integration

    @staticmethod
    def looks_like_token(key: str | None) -> bool:
        """API tokens (`wr_...`) and integration keys (32 hex digits) never look alike."""
        return bool(key) and str(key).strip().startswith(TOKEN_PREFIX)

    def for_ingest_token(self, token: str, kind: str, name: str | None = None) -> Integration:
        """The integration an API token with the `ingest` scope posts for: the one named
        (`?integration=NAME`), else the only integration of this kind."""
        with self.db.read() as conn:
            principal = authenticate_token(conn, token.strip(), self.clock.now())
        principal.require("ingest")
        if name:
            try:
                integration = self.get(name)
            except NotFound:
                raise InvalidInput(f"no integration {name}") from None
            if integration.kind != kind:
                raise InvalidInput(
                    f"integration {name} is a {integration.kind} integration, not {kind}"
                )
        else:
            usable = [i for i in self.list_integrations() if i.kind == kind]
            if len(usable) != 1:
                found = ", ".join(i.name for i in usable) or "none"
                raise InvalidInput(
                    f"name the {kind} integration to post for with ?integration=NAME "
                    f"({kind} integrations: {found})"
                )
            integration = usable[0]
        if integration.revoked_at is not None:
            raise Unauthorized(f"integration {integration.name} is revoked")
        return integration

    def check_rate(self, integration: Integration) -> None:
        options = integration.options
        wait = self.limiter.take(integration.name, rate=options.rate_limit, burst=options.burst)
        if wait > 0:
            with self._rate_lock:
                self.rate_limited[integration.name] = self.rate_limited.get(integration.name, 0) + 1
            raise RateLimited(
                f"integration {integration.name} sends more than "
                f"{integration.options.rate_limit:g} requests/s",
                retry_after=max(1, int(wait + 0.999)),
            )


def _options(data: Mapping[str, Any]) -> IntegrationOptions:
    try:
        return IntegrationOptions.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(
            f"options.{path}: {first.get('msg')}",
            details=[
                {"path": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                for e in exc.errors()
            ],
        ) from None


def _from_config(name: str, cfg: IntegrationConfig) -> Integration:
    options = IntegrationOptions.model_validate(
        cfg.model_dump(exclude={"kind", "key_sha256", "key_env"})
    )
    return Integration(name=name, kind=cfg.kind, options=options, source="config")


def _from_row(row: Any) -> Integration:
    return Integration(
        name=row.name,
        kind=row.kind,
        options=IntegrationOptions.model_validate(row.options or {}),
        source="api",
        key_prefix=row.key_prefix,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )
