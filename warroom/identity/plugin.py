"""The identity plugin: OIDC sign-in routes and the SCIM 2.0 API."""

from __future__ import annotations

from warroom.core.runtime import Runtime
from warroom.identity import scim, web
from warroom.identity.service import IdentityService
from warroom.web import pages

routers = [web.router, scim.router]
pages.add_templates("warroom.identity")


def install(runtime: Runtime) -> None:
    runtime.extras["identity"] = IdentityService.from_runtime(runtime)
