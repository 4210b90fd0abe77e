"""The chat outbox effects (planned by `warroom.chat.model.Planner`): open, sync, post to and
archive incident channels. Each is one call sequence to a chat platform, logged in the chat
delivery log; none is urgent or concurrent (a channel's effects run in order)."""

from __future__ import annotations

from warroom.chat import model
from warroom.core.outbox import ClaimedEffect, EffectHandler, Outcome
from warroom.core.runtime import Runtime


def handle(runtime: Runtime, effect: ClaimedEffect) -> Outcome:
    return runtime.chat.handle(runtime, effect)


HANDLERS = [EffectHandler(kind, handle) for kind in model.KINDS]
