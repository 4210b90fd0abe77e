"""The workbench: one object holding its five services, built once per runtime.

Each concern has its own service and module: runbooks (`runbook_service`), changes and
correlation (`change_service`), mitigations (`mitigation_service`), hotfixes
(`hotfix_service`) and verification (`verification_service`). `Workbench` wires them together
and keeps the names other packages call (`runtime.workbench.record_change(...)`).

Timeline event types written here (read by other packages): `runbook_step_ran`,
`approval_requested`, `approval_granted`, `mitigation_applied`, `mitigation_suggested`,
`deploy_correlated`, `hotfix_recorded`, `hotfix_gates_updated`, `hotfix_deployed`,
`follow_up_required`, `verification_started`, `verification_passed`,
`verification_regressed`, `verification_inconclusive`, and `flag_set` for
`mitigation_exhausted`, `verification_passed` and `verification_regressed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from warroom.core.auth import Principal
from warroom.incidents.model import IncidentState
from warroom.workbench import correlation
from warroom.workbench.change_service import CORRELATE, ChangeService, correlate_effect
from warroom.workbench.hotfix_service import HotfixService
from warroom.workbench.mitigation_service import MitigationService
from warroom.workbench.runbook_service import AUTO_RUN, RunbookService, load_catalog
from warroom.workbench.runbooks import LoadedRunbook
from warroom.workbench.schemas import (
    ApproveIn,
    ChangeIn,
    ConfirmIn,
    GateIn,
    HotfixIn,
    MitigationIn,
    RunIn,
)
from warroom.workbench.verification_service import (
    VERIFICATION_EVENTS,
    VERIFY,
    VerificationService,
    verify_effect,
)

if TYPE_CHECKING:
    from warroom.core.runtime import Runtime

__all__ = [
    "AUTO_RUN",
    "CORRELATE",
    "VERIFICATION_EVENTS",
    "VERIFY",
    "Workbench",
    "correlate_effect",
    "load_catalog",
    "verify_effect",
]


class Workbench:
    """The workbench's services, built once per runtime."""

    def __init__(self, runtime: Runtime, *, environ: Mapping[str, str] | None = None) -> None:
        self.runtime = runtime
        self.changes = ChangeService(runtime)
        self.mitigations = MitigationService(runtime, self.changes)
        self.runbooks = RunbookService(runtime, self.mitigations, environ=environ)
        self.hotfixes = HotfixService(runtime, self.mitigations)
        self.verification = VerificationService(runtime, self.runbooks.config)
        # What the web pages and the plug-in read directly.
        self.config = self.runbooks.config
        self.catalog = self.runbooks.catalog
        self.problems = self.runbooks.problems
        self.changes_config = self.changes.config
        self.verification_config = self.verification.config

    # ---- runbooks ------------------------------------------------------------------------

    def list_runbooks(self) -> list[dict[str, Any]]:
        return self.runbooks.list_runbooks()

    def runbook(self, runbook_id: str) -> LoadedRunbook:
        return self.runbooks.runbook(runbook_id)

    def show(self, runbook_id: str) -> dict[str, Any]:
        return self.runbooks.show(runbook_id)

    def matching(self, state: IncidentState) -> list[LoadedRunbook]:
        return self.runbooks.matching(state)

    def runnable_automatic(self, loaded: LoadedRunbook, state: IncidentState) -> list[str]:
        return self.runbooks.runnable_automatic(loaded, state)

    def run(
        self, principal: Principal, public_id: str, runbook_id: str, request: RunIn
    ) -> dict[str, Any]:
        return self.runbooks.run(principal, public_id, runbook_id, request)

    def run_automatic(self, public_id: str, runbook_id: str) -> list[dict[str, Any]]:
        return self.runbooks.run_automatic(public_id, runbook_id)

    def approve(
        self, principal: Principal, public_id: str, runbook_id: str, request: ApproveIn
    ) -> dict[str, Any]:
        return self.runbooks.approve(principal, public_id, runbook_id, request)

    # ---- changes -------------------------------------------------------------------------

    def record_change(self, principal: Principal, request: ChangeIn) -> dict[str, Any]:
        return self.changes.record_change(principal, request)

    def list_changes(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        before: tuple[datetime, int] | None = None,
    ) -> list[dict[str, Any]]:
        return self.changes.list_changes(service=service, since=since, limit=limit, before=before)

    def correlations(
        self, state: IncidentState, conn: Connection | None = None
    ) -> list[correlation.Correlation]:
        return self.changes.correlations(state, conn)

    def incident_changes(self, public_id: str) -> dict[str, Any]:
        return self.changes.incident_changes(public_id)

    def correlate_onto_timeline(self, public_id: str) -> int:
        return self.changes.correlate_onto_timeline(public_id)

    def correlate_in(self, conn: Connection, public_id: str) -> int:
        return self.changes.correlate_in(conn, public_id)

    # ---- mitigations ---------------------------------------------------------------------

    def suggestions(self, public_id: str, explicit: Sequence[str] = ()) -> dict[str, Any]:
        return self.mitigations.suggestions(public_id, explicit)

    def record_mitigation(
        self, principal: Principal, public_id: str, request: MitigationIn
    ) -> dict[str, Any]:
        return self.mitigations.record_mitigation(principal, public_id, request)

    # ---- hotfixes ------------------------------------------------------------------------

    def list_hotfixes(self, public_id: str) -> list[dict[str, Any]]:
        return self.hotfixes.list_hotfixes(public_id)

    def record_hotfix(
        self, principal: Principal, public_id: str, request: HotfixIn
    ) -> dict[str, Any]:
        return self.hotfixes.record_hotfix(principal, public_id, request)

    def update_gates(
        self, principal: Principal, public_id: str, name: str, request: GateIn
    ) -> dict[str, Any]:
        return self.hotfixes.update_gates(principal, public_id, name, request)

    def deploy_hotfix(self, principal: Principal, public_id: str, name: str) -> dict[str, Any]:
        return self.hotfixes.deploy_hotfix(principal, public_id, name)

    # ---- verification --------------------------------------------------------------------

    def verify_once(self, payload: Mapping[str, Any]) -> list[Any]:
        return self.verification.verify_once(payload)

    def confirm_verification(
        self, principal: Principal, public_id: str, request: ConfirmIn
    ) -> dict[str, Any]:
        return self.verification.confirm_verification(principal, public_id, request)

    def verification_status(self, public_id: str) -> dict[str, Any]:
        return self.verification.verification_status(public_id)
