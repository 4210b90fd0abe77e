"""The notify plug-in: delivers `notify` effects (warroom.notify.effects), keeps their log and
serves it (warroom.notify.api)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter

    from warroom.core.outbox import EffectHandler


class NotifyPlugin(Plugin):
    name = "notify"
    tables = "warroom.notify.tables"

    def effect_handlers(self) -> Sequence[EffectHandler]:
        from warroom.notify.effects import HANDLERS

        return HANDLERS

    def routers(self) -> Sequence[APIRouter]:
        from warroom.notify.api import router

        return [router]


plugin = NotifyPlugin()
