"""Tenant API: the tenant's reviews (newest first, cursor-paginated). Another tenant's id is a 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, TenantDep
from api.filters import (
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
from reviewops.db.models import Review
from reviewops.db.session import Database

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such review for this tenant"}}


class ReviewOut(BaseModel):
    id: int
    repository: str
    pr_number: int
    head_sha: str
    base_sha: str | None
    trigger: str
    status: str
    status_reason: str | None
    not_before: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    findings_count: int
    posted_count: int
    llm_prompt_tokens: int
    llm_completion_tokens: int
    notes: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Review) -> ReviewOut:
        notes: Any = (r.timings or {}).get("notes", [])
        return cls(
            id=r.id, repository=r.repository, pr_number=r.pr_number, head_sha=r.head_sha,
            base_sha=r.base_sha, trigger=r.trigger, status=r.status, status_reason=r.status_reason,
            not_before=r.not_before, started_at=r.started_at, finished_at=r.finished_at,
            duration_seconds=r.duration_seconds, findings_count=r.findings_count or 0,
            posted_count=r.posted_count or 0, llm_prompt_tokens=r.llm_prompt_tokens or 0,
            llm_completion_tokens=r.llm_completion_tokens or 0,
            notes=[str(n) for n in notes] if isinstance(notes, list) else [],
            created_at=r.created_at, updated_at=r.updated_at,
        )  # fmt: skip


def list_reviews_for(
    db: Database,
    tenant_id: int,
    *,
    repository: str | None = None,
    pr: int | None = None,
    status: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Page[ReviewOut]:
    query = select(Review).where(Review.tenant_id == tenant_id)
    if repository is not None:
        query = query.where(Review.repository == repository)
    if pr is not None:
        query = query.where(Review.pr_number == pr)
    if status is not None:
        query = query.where(Review.status == status)
    if since is not None:
        query = query.where(Review.created_at >= since)
    if before_id is not None:
        query = query.where(Review.id < before_id)
    with db.session() as session:
        rows = session.execute(query.order_by(Review.id.desc()).limit(limit + 1)).scalars().all()
        items = [ReviewOut.of(r) for r in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


def get_review_for(db: Database, tenant_id: int, review_id: int) -> ReviewOut | None:
    with db.session() as session:
        review = session.execute(
            select(Review).where(Review.id == review_id, Review.tenant_id == tenant_id)
        ).scalar_one_or_none()
        return ReviewOut.of(review) if review is not None else None


@router.get("", response_model=Page[ReviewOut])
async def list_reviews(
    tenant: TenantDep,
    db: DbDep,
    repository: RepositoryQuery = None,
    pr: PrQuery = None,
    status: Annotated[str | None, Query(max_length=16, pattern=TEXT_PATTERN)] = None,
    since: SinceQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[ReviewOut]:
    """The tenant's reviews, newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await run_in_threadpool(
        list_reviews_for, db, tenant.tenant_id, repository=repository, pr=pr, status=status,
        since=utc(since), before_id=decode_cursor(cursor), limit=limit,
    )  # fmt: skip


@router.get("/{review_id}", response_model=ReviewOut, responses=NOT_FOUND)
async def get_review(review_id: IdPath, tenant: TenantDep, db: DbDep) -> ReviewOut:
    found = await run_in_threadpool(get_review_for, db, tenant.tenant_id, review_id)
    if found is None:
        raise ProblemError(404, f"no review {review_id}", code="not-found")
    return found
