"""Which handler takes which GitHub event; everything not listed is stored as `ignored`."""

from __future__ import annotations

from sqlalchemy import select

from reviewops.db.models import DeliveryStatus, Review, ReviewStatus
from reviewops.pipeline.processing import Context, Handler
from reviewops.pipeline.tenants import ensure_tenant

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
RUNNABLE = frozenset({ReviewStatus.PENDING.value, ReviewStatus.RUNNING.value})


def handle_ping(ctx: Context) -> str:
    return DeliveryStatus.PROCESSED.value


def handle_pull_request(ctx: Context) -> str:
    """Record a review for the PR's head and run it right after this transaction commits.

    A retry of the delivery finds the review it created before (one review per delivery) and runs it again;
    the runner itself skips finished reviews and never posts twice.
    """
    existing = ctx.session.execute(
        select(Review).where(Review.delivery_id == ctx.delivery.id)
    ).scalar_one_or_none()
    if existing is not None:
        _schedule(ctx, existing)
        return DeliveryStatus.PROCESSED.value
    payload = ctx.delivery.payload
    pr = payload.get("pull_request") or {}
    tenant = ensure_tenant(ctx.session, payload)
    review = Review(
        tenant_id=tenant.id if tenant else None,
        delivery_id=ctx.delivery.id,
        repository=ctx.delivery.repository or "",
        pr_number=int(pr.get("number") or payload.get("number") or 0),
        head_sha=str((pr.get("head") or {}).get("sha") or ""),
        base_sha=(pr.get("base") or {}).get("sha"),
        trigger="pull_request",
        status=ReviewStatus.PENDING.value,
        timings={},
    )
    if not ctx.settings.github_app_configured:
        review.status = ReviewStatus.SKIPPED.value
        review.status_reason = "GitHub App not configured"
    ctx.session.add(review)
    ctx.delivery.tenant_id = review.tenant_id
    _schedule(ctx, review)
    return DeliveryStatus.PROCESSED.value


def _schedule(ctx: Context, review: Review) -> None:
    runner = ctx.review_runner
    if runner is None or review.status not in RUNNABLE:
        return
    ctx.session.flush()
    review_id = review.id
    ctx.after_commit.append(lambda: runner(review_id))


def route(event: str, action: str | None) -> Handler | None:
    if event == "ping":
        return handle_ping
    if event == "pull_request" and action in REVIEW_ACTIONS:
        return handle_pull_request
    return None
