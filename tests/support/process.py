"""Resolving an incident the way its policy asks, for tests whose subject comes after resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import Api
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime


def resolve_as_policy_asks(
    api: Api, runtime: Runtime, incident: str, summary: str = "rolled back", **extra: Any
) -> Any:
    """Where the policy wants monitoring before resolving: a mitigation that worked (unless
    one is recorded), verification confirmed and the rest of the window watched on the
    runtime's fixed clock; then every item of the policy's checklist confirmed (and a root
    cause and permanent fix where the policy requires them)."""
    policy = runtime.policy
    shown = api.ok("GET", f"/api/v1/incidents/{incident}")
    window = policy.severity(shown["severity"]).verification_window
    if policy.resolve_requires_verification and window is not None:
        if not shown.get("mitigated_at"):
            api.ok(
                "POST",
                f"/api/v1/incidents/{incident}/mitigations",
                json={"action": "rollback", "outcome": "succeeded"},
            )
            shown = api.ok("GET", f"/api/v1/incidents/{incident}")
        api.ok("POST", f"/api/v1/incidents/{incident}/verification/confirm", json={"note": "ok"})
        clock = runtime.clock
        assert isinstance(clock, FixedClock), "the window is watched on a clock tests move"
        watched = clock.now() - datetime.fromisoformat(shown["mitigated_at"])
        if watched < window:
            clock.advance(window - watched)
    checklist = {item.id: {"confirmed": True} for item in policy.resolution_checklist}
    body: dict[str, Any] = {"summary": summary, "checklist": checklist}
    if policy.resolve_requires_root_cause:
        body["root_cause"] = "a batch job held every database connection"
        body["permanent_fix"] = "a connection timeout on the batch job, deployed"
    return api.ok("POST", f"/api/v1/incidents/{incident}/resolve", json={**body, **extra})
