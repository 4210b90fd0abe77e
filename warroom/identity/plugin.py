"""The identity plugin: OIDC sign-in routes and the SCIM 2.0 API."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from warroom.core.plugins import Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter

    from warroom.core.runtime import Runtime

log = logging.getLogger("warroom.identity")


class IdentityPlugin(Plugin):
    name = "identity"
    tables = "warroom.identity.tables"

    def install(self, runtime: Runtime) -> None:
        from warroom.identity.service import IdentityService

        s = runtime.settings
        if bool(s.oidc_issuer) != bool(s.oidc_client_id):
            log.warning(
                "single sign-on is off: set both WARROOM_OIDC_ISSUER and WARROOM_OIDC_CLIENT_ID"
            )
        runtime.identity = IdentityService.from_runtime(runtime)

    def routers(self) -> Sequence[APIRouter]:
        from warroom.identity import scim, web
        from warroom.web import pages

        pages.add_templates("warroom.identity")
        return [web.router, scim.router]


plugin = IdentityPlugin()
