"""`warroom demo`: a realistic dataset written through the same services as everything else.

A clock that the loader moves lets the history happen at believable times: a SEV2 resolved
yesterday (with its post-mortem scheduled), a SEV1 being worked right now, and a fresh SEV3
nobody has acknowledged yet.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any

from warroom.core.auth import Principal
from warroom.core.clock import FixedClock, SystemClock
from warroom.core.config import load_config
from warroom.core.errors import Conflict, NotFound
from warroom.core.runtime import Runtime
from warroom.core.settings import DATA_DIR_CONFIG, Settings
from warroom.incidents import schemas
from warroom.web import users
from warroom.web.demo_oncall import CATALOG, load_oncall

DEMO_USERS = (
    ("alice", "admin"),
    ("bob", "responder"),
    ("carol", "responder"),
    ("dave", "responder"),
    ("victor", "viewer"),
)


def _person(name: str, role: str) -> Principal:
    return Principal(name=f"user:{name}", scopes=frozenset({role}), kind="session")


def load_demo(settings: Settings, *, password: str | None = None) -> dict[str, Any]:
    """Load the demo; without a config file of its own, the demo's service catalog goes to
    `warroom.yaml` in the data dir, where `warroom serve` finds it."""
    own_catalog = settings.config_file() is None and settings.database_url is None
    now = SystemClock().now().replace(microsecond=0)
    clock = FixedClock(now)
    config = load_config(CATALOG) if own_catalog else None
    runtime = Runtime.build(settings, clock=clock, config=config)
    try:
        result = load_into(runtime, clock, password=password)
    finally:
        runtime.close()
    if own_catalog:
        target = settings.data_dir / DATA_DIR_CONFIG
        with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(CATALOG.read_text())
        result["catalog_path"] = str(target)
    return result


def load_into(
    runtime: Runtime, clock: FixedClock, *, password: str | None = None
) -> dict[str, Any]:
    """Write the dataset; refuses a database that already has incidents or users."""
    now = clock.now()
    incidents = runtime.incidents.search(schemas.ListFilter(limit=1)).items
    with runtime.db.read() as conn:
        # The admin that `serve` creates on its first start does not count as data.
        people = [u for u in users.list_users(conn) if u["created_by"] != "warroom"]
    if incidents or people:
        raise Conflict("the demo loads into an empty database; this one has data already")
    password = password or secrets.token_urlsafe(9)
    with runtime.db.write() as conn:
        for name, role in DEMO_USERS:
            users.create_user(
                conn, name=name, password=password, role=role, created_by="demo", now=now
            )
    alice, bob, carol, dave = (_person(n, r) for n, r in DEMO_USERS[:4])
    oncall = load_oncall(runtime, clock, alice)
    svc = runtime.incidents
    at = clock.set

    # ---- yesterday: a SEV2 caused by a deploy, resolved through the checklist -----------
    t0 = now - timedelta(hours=26)
    at(t0 + timedelta(minutes=6))
    sev2 = svc.declare(
        dave,
        schemas.DeclareIn(
            title="Checkout latency p99 above 4 s after payments-api 2.14.0 rollout",
            summary="Checkout is slow for roughly a third of users; some payments time out.",
            services=["checkout", "payments-api"],
            started_at=t0,
            detected_at=t0 + timedelta(minutes=4),
            severity="SEV2",
            type="deployment_related",
            impact=schemas.ImpactIn(users_affected=41000, customer_facing=True),
        ),
    ).public_id
    steps: list[tuple[int, Principal, Any]] = [
        (9, bob, lambda p: svc.acknowledge(p, sev2)),
        (10, alice, lambda p: svc.assign_role(p, sev2, _role("commander", "alice"))),
        (10, alice, lambda p: svc.assign_role(p, sev2, _role("deployer", "bob"))),
        (11, alice, lambda p: svc.assign_role(p, sev2, _role("investigator", "carol"))),
        (11, alice, lambda p: svc.assign_role(p, sev2, _role("communications_lead", "dave"))),
        (12, carol, lambda p: svc.move(p, sev2, _status("investigating"))),
        (15, carol, lambda p: svc.add_note(p, sev2, _note(
            "p99 on `/checkout` went from **310 ms** to **4.2 s** at 14:02, two minutes after "
            "`payments-api` 2.14.0 reached 100 %. Error rate 2.1 % (timeouts to the PSP)."))),
        (24, carol, lambda p: svc.add_note(p, sev2, _note(
            "Found it: 2.14.0 ships `DB_POOL_SIZE=5` (was 50). Connections queue under load.\n\n"
            "- pool wait p99: 3.8 s\n- PSP itself is healthy"))),
        (24, carol, lambda p: svc.move(p, sev2, _status("identified"))),
        (26, alice, lambda p: svc.add_note(p, sev2, _note(
            "Decision: roll back payments-api to 2.13.2 (Bob). No hotfix."))),
        (27, bob, lambda p: svc.move(p, sev2, _status("mitigating"))),
        (38, bob, lambda p: svc.add_note(p, sev2, _note("Rollback to 2.13.2 complete."))),
        (39, bob, lambda p: svc.move(p, sev2, _status("monitoring"))),
        (55, carol, lambda p: svc.add_note(p, sev2, _note(
            "p99 back to 320 ms for 15 minutes; error rate 0.02 %."))),
        (58, alice, lambda p: svc.resolve(p, sev2, schemas.ResolveIn(
            summary="Rolled back payments-api 2.14.0, whose DB pool size regressed to 5.",
            checklist={item.id: schemas.ChecklistAnswer(confirmed=True)
                       for item in runtime.policy.resolution_checklist}))),
        (70, alice, lambda p: svc.schedule_postmortem(p, sev2, schemas.PostmortemScheduleIn(
            owner="carol", due_at=now + timedelta(days=4),
            reason="carol is back on Thursday; the vendor's report arrives first"))),
    ]  # fmt: skip
    for minute, who, step in steps:
        at(t0 + timedelta(minutes=minute))
        step(who)

    _publish_postmortem(runtime, alice, carol, sev2, now)

    # ---- now: a SEV1 outage being worked --------------------------------------------------
    t1 = now - timedelta(minutes=38)
    # A security-group change went out just before: recorded as an infra change.
    at(t1 - timedelta(minutes=3))
    _record_change(runtime, bob, "edge-lb", "infra", "infra PR #4412", "bob",
                   "Security group sg-edge-lb: tighten ingress rules")  # fmt: skip
    _record_change(runtime, bob, "public-api", "deploy", "3.8.1", "ci",
                   "public-api 3.8.1 rolled out to eu-west-1")  # fmt: skip
    at(t1 + timedelta(minutes=1))
    # The load balancer's alerts arrive first and open the incident through alert intake.
    alerted = _alert_sev1(runtime, alice, t1)
    at(t1 + timedelta(minutes=2))
    sev1_details = schemas.DeclareIn(
        title="EU region: public API returns 503 for all requests",
        summary="All API traffic in eu-west fails at the load balancer.",
        services=["public-api", "edge-lb"],
        started_at=t1,
        detected_at=t1 + timedelta(minutes=1),
        triage=schemas.TriageIn(
            complete_outage=True, customer_facing=True, users_affected_pct=100,
            infrastructure=True,
        ),
        roles={"commander": "alice"},
    )  # fmt: skip
    if alerted is None:
        sev1 = svc.declare(bob, sev1_details).public_id
    else:
        sev1 = alerted
        svc.update_details(bob, sev1, schemas.DetailsIn(
            title=sev1_details.title, summary=sev1_details.summary,
            services=list(sev1_details.services)))  # fmt: skip
        if svc.get(sev1).severity != "SEV1":
            reason = "complete outage of the public API in eu-west"
            svc.change_severity(bob, sev1, schemas.SeverityIn(severity="SEV1", reason=reason))
        svc.assign_role(bob, sev1, _role("commander", "alice"))
    steps = [
        (4, alice, lambda p: svc.acknowledge(p, sev1)),
        (5, alice, lambda p: svc.assign_role(p, sev1, _role("investigator", "carol"))),
        (5, alice, lambda p: svc.assign_role(p, sev1, _role("deployer", "bob"))),
        (6, alice, lambda p: svc.assign_role(p, sev1, _role("communications_lead", "dave"))),
        (6, carol, lambda p: svc.move(p, sev1, _status("investigating"))),
        (11, carol, lambda p: svc.add_note(p, sev1, _note(
            "LB health checks fail for every `public-api` target in eu-west-1; "
            "targets themselves answer 200 on `/healthz` from inside the VPC."))),
        (19, bob, lambda p: svc.add_note(p, sev1, _note(
            "A security-group change went out at 09:58 (infra PR #4412). It removed the LB's "
            "ingress rule on port 8443."))),
        (21, carol, lambda p: svc.move(p, sev1, _status("identified", "SG change removed LB "
                                                                      "ingress on 8443"))),
        (24, alice, lambda p: svc.add_note(p, sev1, _note(
            "Plan: revert PR #4412 (Bob), then watch target health. Executive liaison still "
            "needed — paging the EM."))),
        (32, bob, lambda p: svc.add_note(p, sev1, _note(
            "Revert applied in eu-west-1; 3 of 12 targets healthy so far."))),
    ]  # fmt: skip
    for minute, who, step in steps:
        at(t1 + timedelta(minutes=minute))
        step(who)

    at(t1 + timedelta(minutes=20))
    runtime.workbench.correlate_onto_timeline(sev1)
    _run_first_manual_step(runtime, carol, sev1)
    at(t1 + timedelta(minutes=30))
    _alert_sev1(runtime, alice, t1, again=True)

    # ---- a few minutes ago: a SEV3 nobody has picked up yet --------------------------------
    at(now - timedelta(minutes=5))
    sev3 = svc.declare(
        dave,
        schemas.DeclareIn(
            title="Search index lags 20 minutes behind the product catalog",
            services=["search"],
            severity="SEV3",
            type="performance_degradation",
        ),
    ).public_id
    at(now)
    _status_page(runtime, alice, now)
    return {
        "incidents": [
            {"id": sev1, "severity": svc.get(sev1).severity, "title": svc.get(sev1).title},
            {"id": sev2, "severity": "SEV2", "title": svc.get(sev2).title},
            {"id": sev3, "severity": "SEV3", "title": svc.get(sev3).title},
        ],
        "users": [{"name": n, "role": r} for n, r in DEMO_USERS],
        "password": password,
        "oncall": oncall,
        "catalog": bool(runtime.config.services),
        "catalog_path": str(CATALOG),
    }


def _role(role: str, person: str) -> schemas.RoleIn:
    return schemas.RoleIn(role=role, person=person)


def _status(status: str, reason: str | None = None) -> schemas.StatusIn:
    return schemas.StatusIn(status=status, reason=reason)


def _note(text: str) -> schemas.NoteIn:
    return schemas.NoteIn(text=text)


def _record_change(
    runtime: Runtime, who: Principal, service: str, kind: str, version: str, by: str, text: str
) -> None:
    workbench = runtime.workbench
    from warroom.workbench.schemas import ChangeIn

    known = {s.name for s in runtime.config.services}
    if known and service not in known:
        return
    body = ChangeIn(service=service, kind=kind, version=version, by=by, description=text)
    workbench.record_change(who, body)


def _alert_sev1(runtime: Runtime, admin: Principal, t1: Any, *, again: bool = False) -> str | None:
    """Two load-balancer alerts through the real intake; the first opens the incident."""
    from warroom.alerts.domain import AlertIn

    alerts = runtime.alerts
    try:
        integration = alerts.integration("demo-prometheus")
    except NotFound:
        integration, _ = alerts.create_integration(admin, "demo-prometheus", "alertmanager")
    names = (
        [("LBTargetsUnhealthy", "All public-api targets unhealthy in eu-west-1")]
        if not again
        else [("HTTP5xxRateHigh", "public-api 5xx rate 100 % in eu-west-1")]
    )
    result = alerts.ingest(
        integration,
        [
            AlertIn(
                identity=f"demo-{name}",
                status="firing",
                labels={"alertname": name, "service": "public-api", "region": "eu-west-1",
                        "severity": "critical", "incident_type": "service_outage"},
                summary=summary,
                group_key="demo-eu-west-public-api",
                starts_at=t1,
                source_severity="critical",
            )
            for name, summary in names
        ],
    )  # fmt: skip
    found, _ = alerts.list_alerts(limit=1)
    incident = found[0]["incident"] if found else None
    del result
    return str(incident) if incident else None


def _status_page(runtime: Runtime, admin: Principal, now: Any) -> None:
    """Components for the public services and tomorrow night's maintenance window."""
    comms = runtime.comms
    from warroom.comms.statuspage import ComponentIn, ComponentPatch, MaintenanceIn

    page = comms.statuspage
    public = {"public-api": "Public API", "checkout": "Checkout", "search": "Search"}
    # With a service catalog, the status page already made draft components for its
    # services (on no public page): give the public ones public names and publish them;
    # internal services stay drafts, archived.
    existing: set[str] = set()
    for made in page.list_components():
        key = made["service"] or made["id"]
        existing |= {made["id"], key}
        if key in public:
            patch = ComponentPatch(name=public[key], description=None, group=None)
            page.update_component(admin, made["id"], patch)
            page.publish_component(admin, made["id"])
        else:
            page.update_component(admin, made["id"], ComponentPatch(archived=True))
    for n, (slug, name) in enumerate(public.items()):
        if slug not in existing:
            component = ComponentIn(slug=slug, name=name, service=slug, position=n)
            page.create_component(admin, component)
    page.update_component(admin, "public-api", ComponentPatch(status="major_outage"))
    page.update_component(admin, "search", ComponentPatch(status="degraded_performance"))
    start = (now + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
    page.schedule_maintenance(
        admin,
        MaintenanceIn(
            name="Checkout database upgrade",
            body="Checkout is read-only for up to 30 minutes.",
            components=["checkout"],
            scheduled_for=start,
            scheduled_until=start + timedelta(minutes=30),
        ),
    )


def _run_first_manual_step(runtime: Runtime, who: Principal, public_id: str) -> None:
    from warroom.workbench.schemas import RunIn

    workbench = runtime.workbench
    for loaded in workbench.matching(runtime.incidents.get(public_id)):
        for step in loaded.runbook.steps:
            if step.kind == "manual":
                note = "Done: targets answer /healthz from inside the VPC."
                workbench.run(who, public_id, loaded.runbook.id, RunIn(step=step.id, note=note))
                return


def _publish_postmortem(
    runtime: Runtime, alice: Principal, carol: Principal, public_id: str, now: Any
) -> None:
    postmortems = runtime.postmortems
    items = runtime.action_items
    from warroom.postmortems import draft
    from warroom.postmortems.schemas import ActionItemIn, ActionItemPatch

    pm = postmortems.ensure(carol, public_id, on_demand=True)
    assert pm is not None  # on demand: always made
    body = pm["body"]
    for heading, text in (
        ("Root cause", "payments-api 2.14.0 shipped `DB_POOL_SIZE=5` (was 50): a default in "
         "the new config loader. Under normal checkout load the pool queued requests, and "
         "payment calls timed out waiting for a connection."),
        ("What went well", "- The deploy was correlated within minutes.\n"
         "- Rolling back took 11 minutes."),
        ("Lessons learned", "- Config defaults need the same review as code.\n"
         "- Pool wait time was not alerted on."),
    ):  # fmt: skip
        body = draft.replace_section(body, heading, text)
    postmortems.edit(carol, public_id, body=body, version=None, root_cause_category="configuration")
    for title, kind, owner in (
        ("Validate DB_POOL_SIZE against the service's minimum in CI", "prevent", "bob"),
        ("Alert on connection-pool wait p99 above 500 ms", "detect", "carol"),
        ("Canary payments-api rollouts at 5 % for 15 minutes", "mitigate", "dave"),
    ):
        due = now + timedelta(days=14)
        item = ActionItemIn(title=title, owner=owner, type=kind, due_at=due)
        created = items.create(carol, public_id, item)
        if kind == "detect":  # one is done already
            items.update(carol, created["id"], ActionItemPatch(status="done"))
    # The recorded facts (owner, due date, action items) as they are now, before review.
    postmortems.regenerate(carol, public_id)
    postmortems.submit(carol, public_id, reviewers=["alice"])
    postmortems.publish(alice, public_id)
