"""Integration keys are remembered briefly; when one expires, one request re-reads it while the
others go on with it, and a key revoked elsewhere stops working once re-read."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from warroom.alerts import integrations as alerts_integrations
from warroom.alerts import tables as t
from warroom.alerts.api import service
from warroom.alerts.service import AlertService
from warroom.core.auth import Principal
from warroom.core.errors import Unauthorized
from warroom.core.runtime import Runtime

ADMIN = Principal(name="admin", scopes=frozenset({"admin"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _keyed(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> tuple[Clock, AlertService, str]:
    """The alert service on a clock the test moves, with one integration and its key."""
    clock = Clock()
    monkeypatch.setattr(alerts_integrations.time, "monotonic", clock)
    svc = service(runtime)
    _, key = svc.create_integration(ADMIN, "prom", "alertmanager", {})
    return clock, svc, key


def test_an_expired_key_is_re_read_once_and_a_revocation_elsewhere_takes_effect(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, svc, key = _keyed(runtime, monkeypatch)
    with pytest.raises(LookupError):
        svc.authenticate_cached(key, "alertmanager")  # never read yet: the database decides
    assert svc.authenticate(key, "alertmanager").name == "prom"
    assert svc.authenticate_cached(key, "alertmanager").name == "prom"

    clock.now += alerts_integrations.KEY_CACHE_SECONDS + 0.1  # expired
    with pytest.raises(LookupError):
        svc.authenticate_cached(key, "alertmanager")  # this caller re-reads it...
    assert svc.authenticate_cached(key, "alertmanager").name == "prom"  # ...others go on

    # Revoked by another process (straight in the database): the re-read drops the entry.
    with runtime.db.write() as conn:
        conn.execute(update(t.alert_integrations).values(revoked_at=runtime.clock.now()))
    with pytest.raises(Unauthorized):
        svc.authenticate(key, "alertmanager")
    with pytest.raises(LookupError):
        svc.authenticate_cached(key, "alertmanager")
    with pytest.raises(Unauthorized):
        svc.authenticate(key, "alertmanager")


def test_an_entry_is_not_used_long_after_it_expired(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, svc, key = _keyed(runtime, monkeypatch)
    svc.authenticate(key, "alertmanager")
    clock.now += alerts_integrations.KEY_CACHE_SECONDS + 0.1
    with pytest.raises(LookupError):
        svc.authenticate_cached(key, "alertmanager")  # a re-read starts (and never finishes)
    clock.now += alerts_integrations.KEY_CACHE_SECONDS
    with pytest.raises(LookupError):  # too old to lend out any more: everyone re-reads
        svc.authenticate_cached(key, "alertmanager")
