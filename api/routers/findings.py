"""Tenant API: findings of the tenant's reviews, filterable by repository, PR, severity and time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, TenantDep
from api.filters import (
    MAX_BIGINT,
    TEXT_PATTERN,
    CursorQuery,
    IdPath,
    LimitQuery,
    PrQuery,
    RepositoryQuery,
    SinceQuery,
    utc,
)
from api.pagination import Page, decode_cursor, encode_cursor
from api.problems import ProblemError
from reviewops.db.models import Finding, Review
from reviewops.db.session import Database

router = APIRouter(prefix="/api/v1", tags=["findings"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such finding or review for this tenant"}
}


class FindingOut(BaseModel):
    id: int
    review_id: int
    repository: str
    pr_number: int
    analyzer: str
    rule_id: str
    path: str
    start_line: int
    end_line: int
    side: str
    severity: str
    message: str
    suggestion: str | None
    fingerprint: str
    posted: bool
    created_at: datetime

    @classmethod
    def of(cls, f: Finding, review: Review) -> FindingOut:
        return cls(
            id=f.id, review_id=f.review_id, repository=review.repository, pr_number=review.pr_number,
            analyzer=f.analyzer, rule_id=f.rule_id, path=f.path, start_line=f.start_line,
            end_line=f.end_line, side=f.side, severity=f.severity, message=f.message,
            suggestion=f.suggestion, fingerprint=f.fingerprint, posted=f.posted, created_at=f.created_at,
        )  # fmt: skip


def list_findings_for(
    db: Database,
    tenant_id: int,
    *,
    review_id: int | None = None,
    repository: str | None = None,
    pr: int | None = None,
    severity: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Page[FindingOut]:
    # The tenant filter is on the owning review: a finding is only ever reached through its review.
    query = select(Finding, Review).join(Review, Review.id == Finding.review_id)
    query = query.where(Review.tenant_id == tenant_id)
    if review_id is not None:
        query = query.where(Finding.review_id == review_id)
    if repository is not None:
        query = query.where(Review.repository == repository)
    if pr is not None:
        query = query.where(Review.pr_number == pr)
    if severity is not None:
        query = query.where(Finding.severity == severity)
    if since is not None:
        query = query.where(Finding.created_at >= since)
    if before_id is not None:
        query = query.where(Finding.id < before_id)
    with db.session() as session:
        rows = session.execute(query.order_by(Finding.id.desc()).limit(limit + 1)).all()
        items = [FindingOut.of(f, r) for f, r in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


def review_exists(db: Database, tenant_id: int, review_id: int) -> bool:
    with db.session() as session:
        found = session.execute(
            select(Review.id).where(Review.id == review_id, Review.tenant_id == tenant_id)
        ).first()
        return found is not None


def get_finding_for(db: Database, tenant_id: int, finding_id: int) -> FindingOut | None:
    with db.session() as session:
        row = session.execute(
            select(Finding, Review)
            .join(Review, Review.id == Finding.review_id)
            .where(Finding.id == finding_id, Review.tenant_id == tenant_id)
        ).first()
        return FindingOut.of(row[0], row[1]) if row is not None else None


SeverityQuery = Annotated[
    str | None, Query(max_length=16, pattern=TEXT_PATTERN, description="e.g. error, warning, info.")
]


@router.get("/findings", response_model=Page[FindingOut])
async def list_findings(
    tenant: TenantDep,
    db: DbDep,
    repository: RepositoryQuery = None,
    pr: PrQuery = None,
    severity: SeverityQuery = None,
    since: SinceQuery = None,
    review_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[FindingOut]:
    """The tenant's findings, newest first."""
    return await run_in_threadpool(
        list_findings_for, db, tenant.tenant_id, review_id=review_id, repository=repository, pr=pr,
        severity=severity, since=utc(since), before_id=decode_cursor(cursor), limit=limit,
    )  # fmt: skip


@router.get("/findings/{finding_id}", response_model=FindingOut, responses=NOT_FOUND)
async def get_finding(finding_id: IdPath, tenant: TenantDep, db: DbDep) -> FindingOut:
    found = await run_in_threadpool(get_finding_for, db, tenant.tenant_id, finding_id)
    if found is None:
        raise ProblemError(404, f"no finding {finding_id}", code="not-found")
    return found


@router.get("/reviews/{review_id}/findings", response_model=Page[FindingOut], responses=NOT_FOUND)
async def list_review_findings(
    review_id: IdPath,
    tenant: TenantDep,
    db: DbDep,
    severity: SeverityQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[FindingOut]:
    """Findings of one of the tenant's reviews (404 for any other review, including other tenants')."""
    if not await run_in_threadpool(review_exists, db, tenant.tenant_id, review_id):
        raise ProblemError(404, f"no review {review_id}", code="not-found")
    return await run_in_threadpool(
        list_findings_for, db, tenant.tenant_id, review_id=review_id, severity=severity,
        before_id=decode_cursor(cursor), limit=limit,
    )  # fmt: skip
