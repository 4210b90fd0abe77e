"""How the worker runs the communications effects: the resolution message, and the status
page's subscriber confirmations, fan-out and deliveries (warroom.comms.delivery)."""

from __future__ import annotations

from warroom.comms import delivery
from warroom.comms.service import INITIAL_KIND, RESOLUTION_KIND
from warroom.comms.statuspage import CONFIRM_KIND, DELIVER_KIND, FANOUT_KIND
from warroom.core import outbox
from warroom.core.outbox import EffectHandler, Outcome
from warroom.core.runtime import Runtime


def handle_resolution(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    return runtime.comms.service.handle_resolution(effect)


def handle_initial(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    return runtime.comms.service.handle_initial(effect)


HANDLERS = [
    EffectHandler(RESOLUTION_KIND, handle_resolution),
    EffectHandler(INITIAL_KIND, handle_initial),
    EffectHandler(CONFIRM_KIND, delivery.handle_confirm),
    EffectHandler(FANOUT_KIND, delivery.handle_fanout),
    EffectHandler(DELIVER_KIND, delivery.handle_deliver),
]
