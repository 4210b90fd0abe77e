"""The identity plugin: OIDC sign-in routes and the SCIM 2.0 API."""

from __future__ import annotations

import logging

from warroom.core.runtime import Runtime
from warroom.identity import scim, web
from warroom.identity.service import IdentityService
from warroom.web import pages

routers = [web.router, scim.router]
pages.add_templates("warroom.identity")


log = logging.getLogger("warroom.identity")


def install(runtime: Runtime) -> None:
    s = runtime.settings
    if bool(s.oidc_issuer) != bool(s.oidc_client_id):
        log.warning(
            "single sign-on is off: set both WARROOM_OIDC_ISSUER and WARROOM_OIDC_CLIENT_ID"
        )
    runtime.extras["identity"] = IdentityService.from_runtime(runtime)
