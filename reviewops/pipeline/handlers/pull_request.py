"""`pull_request` events: record reviews to run, skip drafts, supersede stale heads, cancel on close."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from reviewops.db.models import DeliveryStatus, Review, ReviewStatus, TenantStatus
from reviewops.db.types import utcnow
from reviewops.pipeline.processing import Context
from reviewops.pipeline.review_settings import for_tenant, live_policy
from reviewops.pipeline.tenants import ensure_repository, ensure_tenant

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
OPEN_REVIEW_STATES = (ReviewStatus.PENDING.value, ReviewStatus.DELAYED.value)


def close_open_reviews(
    session: Session,
    repository: str,
    pr_number: int,
    status: ReviewStatus,
    reason: str,
    *,
    keep_head: str | None = None,
) -> int:
    """Mark the PR's not-yet-started reviews `status` (superseded or cancelled); returns how many."""
    stmt = (
        update(Review)
        .where(
            Review.repository == repository,
            Review.pr_number == pr_number,
            Review.status.in_(OPEN_REVIEW_STATES),
        )
        .values(status=status.value, status_reason=reason, updated_at=utcnow())
    )
    if keep_head is not None:
        stmt = stmt.where(Review.head_sha != keep_head)
    return session.execute(stmt.returning(Review.id)).all().__len__()


def new_review(
    ctx: Context, tenant_id: int | None, pr_number: int, head_sha: str, base_sha: str | None, trigger: str
) -> Review:
    review = Review(
        tenant_id=tenant_id,
        delivery_id=ctx.delivery.id,
        repository=ctx.delivery.repository or "",
        pr_number=pr_number,
        head_sha=head_sha,
        base_sha=base_sha,
        trigger=trigger,
        status=ReviewStatus.PENDING.value,
        timings={},
    )
    if not ctx.settings.github_app_configured:
        review.status = ReviewStatus.SKIPPED.value
        review.status_reason = "GitHub App not configured"
    ctx.session.add(review)
    return review


def handle_pull_request(ctx: Context) -> str:
    payload: dict[str, Any] = ctx.delivery.payload
    action = ctx.delivery.action
    pr = payload.get("pull_request") or {}
    pr_number = int(pr.get("number") or payload.get("number") or 0)
    repository = ctx.delivery.repository or ""
    tenant = ensure_tenant(ctx.session, payload)
    ctx.delivery.tenant_id = tenant.id if tenant else None
    if action == "closed":
        cancelled = close_open_reviews(
            ctx.session, repository, pr_number, ReviewStatus.CANCELLED, "pull request closed"
        )
        ctx.reason = f"pull request closed; {cancelled} pending review(s) cancelled"
        return DeliveryStatus.PROCESSED.value
    if action not in REVIEW_ACTIONS:
        return ctx.ignore(f"pull_request action {action!r} needs no review")
    if tenant is not None and tenant.status != TenantStatus.ACTIVE.value:
        return ctx.ignore(f"tenant is {tenant.status}")
    repo = ensure_repository(ctx.session, tenant, payload.get("repository") or {}) if tenant else None
    if repo is not None and repo.paused:
        return ctx.ignore("reviews are paused for this repository (/reviewops resume)")
    review_settings = for_tenant(live_policy(ctx.settings.redis_url), tenant)
    if pr.get("draft") and review_settings.skip_drafts:
        return ctx.ignore("draft pull request (the tenant's policy skips drafts)")
    head_sha = str((pr.get("head") or {}).get("sha") or "")
    close_open_reviews(
        ctx.session,
        repository,
        pr_number,
        ReviewStatus.SUPERSEDED,
        f"superseded by {head_sha[:12]}",
        keep_head=head_sha,
    )
    new_review(
        ctx,
        tenant.id if tenant else None,
        pr_number,
        head_sha,
        (pr.get("base") or {}).get("sha"),
        "pull_request",
    )
    return DeliveryStatus.PROCESSED.value
