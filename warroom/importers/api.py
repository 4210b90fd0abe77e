"""POST /api/v1/import: apply (or, with dry_run, plan) an import plan. Admins only."""

from __future__ import annotations

from fastapi import APIRouter

from warroom.api.deps import PrincipalDep, RuntimeDep
from warroom.importers.plan import ImportPlan, ImportReport
from warroom.importers.service import ImportService

router = APIRouter(prefix="/api/v1", tags=["import"])


@router.post("/import", summary="Import people, teams, schedules and escalation policies")
def apply_import(
    runtime: RuntimeDep, principal: PrincipalDep, body: ImportPlan, dry_run: bool = False
) -> ImportReport:
    return ImportService(runtime).apply(principal, body, dry_run=dry_run)
