"""How the worker runs the alerts package's effects: the heartbeat timer."""

from __future__ import annotations

from warroom.alerts.service import HEARTBEAT_CHECK
from warroom.core import outbox
from warroom.core.outbox import EffectHandler, Outcome
from warroom.core.runtime import Runtime


def handle_heartbeat_check(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    """Re-check at fire time: raise the alert only if no ping came since this one was planned."""
    payload = effect.payload
    message = runtime.alerts.check_heartbeat(
        str(payload.get("integration")), str(payload.get("last_seen"))
    )
    return Outcome(True, message)


HANDLERS = [EffectHandler(HEARTBEAT_CHECK, handle_heartbeat_check)]
