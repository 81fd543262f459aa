"""Admin API: tenants (list, get, suspend, resume)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.admin import TenantOut, tenant_or_404
from api.deps import AdminDep, DbDep
from api.filters import CursorQuery, IdPath, LimitQuery
from api.pagination import Page, decode_cursor, encode_cursor
from api.problems import ProblemError
from reviewops import audit
from reviewops.db.models import Tenant, TenantStatus
from reviewops.db.session import Database

router = APIRouter(prefix="/api/v1/admin/tenants", tags=["admin: tenants"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such tenant"}}


def _list(db: Database, status: str | None, before_id: int | None, limit: int) -> Page[TenantOut]:
    query = select(Tenant)
    if status is not None:
        query = query.where(Tenant.status == status)
    if before_id is not None:
        query = query.where(Tenant.id < before_id)
    with db.session() as session:
        rows = session.execute(query.order_by(Tenant.id.desc()).limit(limit + 1)).scalars().all()
        items = [TenantOut.of(t) for t in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


@router.get("", response_model=Page[TenantOut])
async def list_tenants(
    _admin: AdminDep,
    db: DbDep,
    status: Annotated[TenantStatus | None, Query()] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[TenantOut]:
    return await run_in_threadpool(_list, db, status.value if status else None, decode_cursor(cursor), limit)


def _get(db: Database, tenant_id: int) -> TenantOut:
    with db.session() as session:
        return TenantOut.of(tenant_or_404(session, tenant_id))


@router.get("/{tenant_id}", response_model=TenantOut, responses=NOT_FOUND)
async def get_tenant(tenant_id: IdPath, _admin: AdminDep, db: DbDep) -> TenantOut:
    return await run_in_threadpool(_get, db, tenant_id)


def _set_status(db: Database, actor: str, tenant_id: int, status: TenantStatus) -> TenantOut:
    with db.session() as session:
        tenant = tenant_or_404(session, tenant_id)
        if tenant.status == TenantStatus.DELETED:
            raise ProblemError(409, "the installation was deleted on GitHub", code="tenant-deleted")
        previous = tenant.status
        tenant.status = status
        action = "tenant.suspend" if status == TenantStatus.SUSPENDED else "tenant.resume"
        audit.record(session, actor, action, f"tenant:{tenant.id}", tenant_id=tenant.id,
                     details={"from": previous, "to": status.value})  # fmt: skip
        session.flush()
        return TenantOut.of(tenant)


@router.post(
    "/{tenant_id}/suspend",
    response_model=TenantOut,
    responses={**NOT_FOUND, 409: {"description": "Tenant deleted"}},
)
async def suspend_tenant(tenant_id: IdPath, admin: AdminDep, db: DbDep) -> TenantOut:
    """Suspended tenants' API keys are refused (403) until the tenant is resumed."""
    return await run_in_threadpool(_set_status, db, admin, tenant_id, TenantStatus.SUSPENDED)


@router.post(
    "/{tenant_id}/resume",
    response_model=TenantOut,
    responses={**NOT_FOUND, 409: {"description": "Tenant deleted"}},
)
async def resume_tenant(tenant_id: IdPath, admin: AdminDep, db: DbDep) -> TenantOut:
    return await run_in_threadpool(_set_status, db, admin, tenant_id, TenantStatus.ACTIVE)
