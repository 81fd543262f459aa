"""Admin API: per-tenant feature flags, i.e. analyzers switched on or off (tenants.settings.analyzers).

This is the runbooks' "disable problematic agents" lever. Precedence for the review pipeline: the
tenant's flag over the ReviewPolicy's `analyzers` over the analyzer's own default
(`reviewops.reviews.settings.effective_analyzers`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.admin import tenant_or_404
from api.deps import AdminDep, DbDep
from api.filters import STRICT, IdPath
from reviewops import audit
from reviewops.db.session import Database

router = APIRouter(prefix="/api/v1/admin/tenants", tags=["admin: features"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such tenant"}}
ANALYZER_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class AnalyzerFlags(BaseModel):
    """Analyzer name -> enabled. Names not listed keep their previous value (or the policy's)."""

    model_config = STRICT

    analyzers: dict[Annotated[str, Field(pattern=ANALYZER_NAME)], bool] = Field(max_length=64)


def _get_flags(db: Database, tenant_id: int) -> AnalyzerFlags:
    with db.session() as session:
        tenant = tenant_or_404(session, tenant_id)
        current = (tenant.settings or {}).get("analyzers") or {}
        return AnalyzerFlags(analyzers={str(k): bool(v) for k, v in current.items()})


def _set_flags(db: Database, actor: str, tenant_id: int, flags: AnalyzerFlags) -> AnalyzerFlags:
    with db.session() as session:
        tenant = tenant_or_404(session, tenant_id)
        settings = dict(tenant.settings or {})
        merged = {**(settings.get("analyzers") or {}), **flags.analyzers}
        tenant.settings = {**settings, "analyzers": merged}
        audit.record(session, actor, "tenant.analyzers", f"tenant:{tenant.id}", tenant_id=tenant.id,
                     details={"analyzers": flags.analyzers})  # fmt: skip
        return AnalyzerFlags(analyzers=merged)


@router.get("/{tenant_id}/features", response_model=AnalyzerFlags, responses=NOT_FOUND)
async def get_features(tenant_id: IdPath, _admin: AdminDep, db: DbDep) -> AnalyzerFlags:
    """Per-tenant analyzer switches (tenants.settings.analyzers), over the ReviewPolicy's."""
    return await run_in_threadpool(_get_flags, db, tenant_id)


@router.patch("/{tenant_id}/features", response_model=AnalyzerFlags, responses=NOT_FOUND)
async def set_features(tenant_id: IdPath, flags: AnalyzerFlags, admin: AdminDep, db: DbDep) -> AnalyzerFlags:
    """Enable or disable analyzers for one tenant, e.g. {"analyzers": {"llm": false}}."""
    return await run_in_threadpool(_set_flags, db, admin, tenant_id, flags)
