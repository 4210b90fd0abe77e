"""The workbench's reactor and how the worker runs its effects: automatic runbooks, change
correlation and verification checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from warroom.core import outbox
from warroom.core.errors import NotFound, WarroomError
from warroom.core.outbox import EffectHandler, Outcome
from warroom.core.runtime import Runtime
from warroom.incidents.model import Event, IncidentState
from warroom.incidents.service import Reactor
from warroom.workbench import service as svc

STAGING_TIME_BOX = "hotfix_staging_time_box"
OPEN_PR = "hotfix_open_pr"


def reactor(runtime: Runtime) -> Reactor:
    """Plans correlation, automatic runbooks and verification windows for new events."""
    workbench = runtime.workbench

    def react(
        *,
        incident_id: int,
        before: IncidentState | None,
        after: IncidentState,
        events: Sequence[Event],
        now: datetime,
    ) -> list[outbox.Effect]:
        effects: list[outbox.Effect] = []
        types = [e.type for e in events]
        public_id = after.public_id
        moved_to_investigating = any(
            e.type == "status_changed" and e.data.get("to") == "investigating" for e in events
        )
        services_changed = before is not None and before.services != after.services
        if after.services and ("declared" in types or moved_to_investigating or services_changed):
            effects.append(
                svc.correlate_effect(public_id, incident_id, now, f"{types[0]}:{now.isoformat()}")
            )
        relabelled = before is not None and (
            before.labels != after.labels or before.services != after.services
        )
        if workbench.config.auto_run and after.is_open and ("declared" in types or relabelled):
            for loaded in workbench.matching(after):
                if workbench.runnable_automatic(loaded, after):
                    effects.append(
                        outbox.Effect(
                            svc.AUTO_RUN,
                            {"incident": public_id, "runbook": loaded.runbook.id},
                            now,
                            incident_id=incident_id,
                            dedup_key=f"runbook_auto:{public_id}:{loaded.runbook.id}",
                        )
                    )
        for event in events:
            if event.type == "hotfix_recorded" and after.is_open:
                box = workbench.hotfixes.staging_time_box(after.severity)
                if box is not None:
                    name = str(event.data.get("hotfix"))
                    effects.append(
                        outbox.Effect(
                            STAGING_TIME_BOX,
                            {"incident": public_id, "hotfix": name},
                            event.occurred_at + box,
                            incident_id=incident_id,
                            dedup_key=f"staging-time-box:{public_id}:{name}",
                        )
                    )
            if event.type == "hotfix_pr_requested":
                name = str(event.data.get("hotfix"))
                effects.append(
                    outbox.Effect(
                        OPEN_PR,
                        {"incident": public_id, "hotfix": name},
                        now,
                        incident_id=incident_id,
                        dedup_key=f"hotfix-pr:{public_id}:{name}:{event.occurred_at.isoformat()}",
                    )
                )
            canary = event.data.get("canary") if event.type == "hotfix_deployed" else None
            if isinstance(canary, dict) and after.is_open:
                # The canary's monitor window is a verification step of its own.
                ends = now + timedelta(seconds=float(canary.get("monitor_seconds", 0)))
                payload = {
                    "incident": public_id,
                    "incident_id": incident_id,
                    "verification": f"canary:{now.isoformat()}",
                    "ends_at": ends.isoformat(),
                    "trigger": "canary",
                }
                effects.append(svc.verify_effect(payload, 0, now))
        for event in events:
            mitigated = event.type == "mitigation_applied" and event.data.get("outcome") == (
                "succeeded"
            )
            monitoring = event.type == "status_changed" and event.data.get("to") == "monitoring"
            if not (mitigated or monitoring) or not after.is_open:
                continue
            window = runtime.policy.severity(after.severity).verification_window
            if window is None:
                break
            payload = {
                "incident": public_id,
                "incident_id": incident_id,
                "verification": now.isoformat(),
                "ends_at": (now + window).isoformat(),
                "trigger": event.type,
            }
            effects.append(svc.verify_effect(payload, 0, now))
            break
        return effects

    return react


def _auto_run(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    workbench: svc.Workbench = runtime.workbench
    try:
        results = workbench.run_automatic(
            str(effect.payload["incident"]), str(effect.payload["runbook"])
        )
    except NotFound as exc:
        return Outcome(True, f"nothing to run: {exc.message}")
    except WarroomError as exc:
        return Outcome(False, exc.message, retryable=False)
    return Outcome(True, ", ".join(f"{r['step']}={r['status']}" for r in results))


def _correlate(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    workbench: svc.Workbench = runtime.workbench
    try:
        added = workbench.correlate_onto_timeline(str(effect.payload["incident"]))
    except NotFound as exc:
        return Outcome(True, exc.message)
    return Outcome(True, f"{added} correlation(s) added")


def _correlate_in(runtime: Runtime, conn: Connection, effect: outbox.ClaimedEffect) -> Outcome:
    """`_correlate` inside the worker's shared transaction."""
    workbench: svc.Workbench = runtime.workbench
    try:
        added = workbench.correlate_in(conn, str(effect.payload["incident"]))
    except NotFound as exc:
        return Outcome(True, exc.message)
    return Outcome(True, f"{added} correlation(s) added")


def _verify(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    workbench: svc.Workbench = runtime.workbench
    try:
        follow = workbench.verify_once(effect.payload)
    except NotFound as exc:
        return Outcome(True, exc.message)
    if follow:
        with runtime.db.write() as conn:
            outbox.enqueue(conn, follow, runtime.clock.now())
    return Outcome(True, "next check planned" if follow else "verification finished")


def _staging_time_box(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    workbench: svc.Workbench = runtime.workbench
    payload = effect.payload
    try:
        fired = workbench.hotfixes.check_staging_time_box(
            str(payload["incident"]), str(payload["hotfix"])
        )
    except NotFound as exc:
        return Outcome(True, exc.message)
    return Outcome(True, "staging time-box passed" if fired else "staged or deployed in time")


def _open_pr(runtime: Runtime, effect: outbox.ClaimedEffect) -> Outcome:
    workbench: svc.Workbench = runtime.workbench
    payload = effect.payload
    try:
        result = workbench.hotfixes.deliver_pr(
            str(payload["incident"]),
            str(payload["hotfix"]),
            last_attempt=effect.attempts >= outbox.MAX_ATTEMPTS,
        )
    except NotFound as exc:
        return Outcome(True, exc.message)
    return Outcome(result.ok, result.message, retryable=result.retryable)


HANDLERS = [
    EffectHandler(OPEN_PR, _open_pr),
    EffectHandler(svc.AUTO_RUN, _auto_run),
    EffectHandler(svc.CORRELATE, _correlate, in_transaction=_correlate_in),
    EffectHandler(svc.VERIFY, _verify),
    EffectHandler(STAGING_TIME_BOX, _staging_time_box),
]
