"""Tenant API: findings the team dismissed (`/reviewops ignore`), listed and deletable; deletions audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, TenantDep
from api.filters import CursorQuery, IdPath, LimitQuery, RepositoryQuery
from api.pagination import Page, decode_cursor, encode_cursor
from api.problems import ProblemError
from reviewops import audit
from reviewops.db.models import Suppression
from reviewops.db.session import Database

router = APIRouter(prefix="/api/v1/suppressions", tags=["suppressions"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such suppression for this tenant"}}


class SuppressionOut(BaseModel):
    id: int
    repository: str
    fingerprint: str
    rule_id: str
    path: str
    reason: str | None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, s: Suppression) -> SuppressionOut:
        return cls(
            id=s.id, repository=s.repository, fingerprint=s.fingerprint, rule_id=s.rule_id, path=s.path,
            reason=s.reason, created_by=s.created_by, created_at=s.created_at,
        )  # fmt: skip


def list_for(
    db: Database, tenant_id: int, repository: str | None, before_id: int | None, limit: int
) -> Page[SuppressionOut]:
    query = select(Suppression).where(Suppression.tenant_id == tenant_id)
    if repository is not None:
        query = query.where(Suppression.repository == repository)
    if before_id is not None:
        query = query.where(Suppression.id < before_id)
    with db.session() as session:
        rows = session.execute(query.order_by(Suppression.id.desc()).limit(limit + 1)).scalars().all()
        items = [SuppressionOut.of(s) for s in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


def delete_for(db: Database, tenant_id: int, key_id: str, suppression_id: int) -> bool:
    with db.session() as session:
        found = session.execute(
            select(Suppression).where(Suppression.id == suppression_id, Suppression.tenant_id == tenant_id)
        ).scalar_one_or_none()
        if found is None:
            return False
        audit.record(
            session, f"api_key:{key_id}", "finding.unignore", f"{found.repository}:{found.fingerprint}",
            tenant_id=tenant_id, details={"rule_id": found.rule_id, "path": found.path, "via": "api"},
        )  # fmt: skip
        session.delete(found)
    return True


@router.get("", response_model=Page[SuppressionOut])
async def list_suppressions(
    tenant: TenantDep,
    db: DbDep,
    repository: RepositoryQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[SuppressionOut]:
    """Findings the tenant's teams dismissed, newest first: they are not posted again in that repository."""
    return await run_in_threadpool(list_for, db, tenant.tenant_id, repository, decode_cursor(cursor), limit)


@router.delete("/{suppression_id}", status_code=204, responses=NOT_FOUND)
async def delete_suppression(suppression_id: IdPath, tenant: TenantDep, db: DbDep) -> Response:
    """Lift a dismissal (as `/reviewops unignore` does): the finding is posted again by later reviews."""
    if not await run_in_threadpool(delete_for, db, tenant.tenant_id, tenant.key_id, suppression_id):
        raise ProblemError(404, f"no suppression {suppression_id}", code="not-found")
    return Response(status_code=204)
