"""`pull_request` events: record reviews to run, skip drafts, supersede stale heads, cancel on close,
and hold a tenant to its reviews-per-hour by delaying (never dropping) its reviews."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reviewops.db.models import DeliveryStatus, Review, ReviewStatus, Tenant, TenantStatus
from reviewops.db.types import utcnow
from reviewops.deliveries.processing import Context
from reviewops.deliveries.tenants import ensure_repository, ensure_tenant
from reviewops.events import publish_after_commit
from reviewops.queue.fairness import defer_current_message
from reviewops.ratelimit.gcra import RedisGcra
from reviewops.ratelimit.limits import default_limits, reserve_review
from reviewops.ratelimit.reviews import mark_delayed
from reviewops.redis_client import redis_for
from reviewops.reviews.settings import for_tenant, read_policy
from reviewops.tenancy.usage import add_usage

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
OPEN_REVIEW_STATES = (ReviewStatus.PENDING, ReviewStatus.DELAYED)
RUNNABLE = frozenset({ReviewStatus.PENDING, ReviewStatus.RUNNING})


def schedule_run(ctx: Context, review: Review) -> None:
    """Run the review right after this transaction commits, in the same message (see Context)."""
    runner = ctx.reviews.run_review
    if runner is None or review.status not in RUNNABLE:
        return
    ctx.session.flush()
    review_id = review.id
    ctx.after_commit.append(lambda: runner(review_id))


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
    return len(session.execute(stmt.returning(Review.id)).all())


def existing_review(ctx: Context) -> Review | None:
    """The review this delivery created on an earlier attempt (a retry, or a delayed message back)."""
    return ctx.session.execute(
        select(Review).where(Review.delivery_id == ctx.delivery.id)
    ).scalar_one_or_none()


def resume_delayed(ctx: Context, review: Review) -> str:
    """A delivery seen before (a retry, or a delayed message back): run its review again if it did not
    finish (the runner skips finished reviews and never posts twice); a delayed one waits for its slot."""
    if review.status != ReviewStatus.DELAYED:
        schedule_run(ctx, review)
        return DeliveryStatus.PROCESSED
    left = (review.not_before - utcnow()).total_seconds() if review.not_before else 0.0
    if left > 0 and defer_current_message(left):
        return DeliveryStatus.QUEUED
    review.status = ReviewStatus.PENDING
    review.status_reason = None
    publish_after_commit(ctx.session, redis_for(ctx.settings), review)
    schedule_run(ctx, review)
    return DeliveryStatus.PROCESSED


def apply_review_rate(ctx: Context, tenant: Tenant, review: Review) -> str:
    """Count the review and delay it when the tenant is over reviews_per_hour (never drop it).

    A delayed review keeps its delivery `queued`: the message comes back when the slot is due.
    """
    add_usage(ctx.session, tenant.id, reviews=1)
    outcome = DeliveryStatus.PROCESSED
    client = redis_for(ctx.settings)
    if client is not None and review.status == ReviewStatus.PENDING:
        booked = reserve_review(RedisGcra(client), tenant.installation_id, default_limits(ctx.settings))
        if booked.delay > 0:
            mark_delayed(review, booked.delay, booked.rate)
            if defer_current_message(booked.delay):
                outcome = DeliveryStatus.QUEUED
    ctx.session.flush()
    publish_after_commit(ctx.session, client, review)
    if outcome == DeliveryStatus.PROCESSED:
        schedule_run(ctx, review)
    return outcome


def new_review(
    ctx: Context, tenant: Tenant | None, pr_number: int, head_sha: str, base_sha: str | None, trigger: str
) -> str:
    """Record a review (pending, or skipped without a GitHub App) and apply the tenant's review rate."""
    review = Review(
        tenant_id=tenant.id if tenant else None,
        delivery_id=ctx.delivery.id,
        repository=ctx.delivery.repository or "",
        pr_number=pr_number,
        head_sha=head_sha,
        base_sha=base_sha,
        trigger=trigger,
        status=ReviewStatus.PENDING,
        timings={},
    )
    if not ctx.settings.github_app_configured:
        review.status = ReviewStatus.SKIPPED
        review.status_reason = "GitHub App not configured"
    ctx.session.add(review)
    if tenant is None:
        schedule_run(ctx, review)
        return DeliveryStatus.PROCESSED
    return apply_review_rate(ctx, tenant, review)


def handle_pull_request(ctx: Context) -> str:
    payload: dict[str, Any] = ctx.delivery.payload
    action = ctx.delivery.action
    earlier = existing_review(ctx)
    if earlier is not None:
        return resume_delayed(ctx, earlier)
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
        return DeliveryStatus.PROCESSED
    if action not in REVIEW_ACTIONS:
        return ctx.ignore(f"pull_request action {action!r} needs no review")
    if tenant is not None and tenant.status != TenantStatus.ACTIVE:
        return ctx.ignore(f"tenant is {tenant.status}")
    repo = ensure_repository(ctx.session, tenant, payload.get("repository") or {}) if tenant else None
    if repo is not None and repo.paused:
        return ctx.ignore("reviews are paused for this repository (/reviewops resume)")
    review_settings = for_tenant(
        read_policy(redis_for(ctx.settings)),
        tenant.settings if tenant else None,
        default_threshold=ctx.settings.review_severity_threshold,
    )
    if pr.get("draft") and review_settings.skip_drafts:
        return ctx.ignore("draft pull request (the tenant's policy skips drafts)")
    head_sha = str((pr.get("head") or {}).get("sha") or "")
    close_open_reviews(
        ctx.session, repository, pr_number, ReviewStatus.SUPERSEDED, f"superseded by {head_sha[:12]}",
        keep_head=head_sha,
    )  # fmt: skip
    return new_review(ctx, tenant, pr_number, head_sha, (pr.get("base") or {}).get("sha"), "pull_request")
