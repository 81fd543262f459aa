"""Which handler takes which GitHub event; everything not listed is stored as `ignored`."""

from __future__ import annotations

from sqlalchemy import select

from reviewops.db.models import DeliveryStatus, Review, ReviewStatus, Tenant, TenantStatus
from reviewops.db.types import utcnow
from reviewops.events import publish_after_commit
from reviewops.pipeline.processing import Context, Handler
from reviewops.pipeline.tenants import ensure_tenant
from reviewops.queue.fairness import defer_current_message
from reviewops.ratelimit.clients import redis_for
from reviewops.ratelimit.gcra import RedisGcra
from reviewops.ratelimit.limits import default_limits, reserve_review
from reviewops.ratelimit.reviews import mark_delayed
from reviewops.tenancy.usage import add_usage

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened"})


def handle_ping(ctx: Context) -> str:
    return DeliveryStatus.PROCESSED.value


def _resume_delayed(ctx: Context, review: Review) -> str:
    """The delayed review's message came back: run it if its slot has come, else wait the rest."""
    if review.status != ReviewStatus.DELAYED.value:
        return DeliveryStatus.PROCESSED.value
    left = (review.not_before - utcnow()).total_seconds() if review.not_before else 0.0
    if left > 0 and defer_current_message(left):
        return DeliveryStatus.QUEUED.value
    review.status = ReviewStatus.PENDING.value
    review.status_reason = None
    publish_after_commit(ctx.session, redis_for(ctx.settings), review)
    return DeliveryStatus.PROCESSED.value


def _apply_review_rate(ctx: Context, tenant: Tenant, review: Review) -> bool:
    """Delay the review when the tenant is over reviews_per_hour; True when it was delayed."""
    client = redis_for(ctx.settings)
    if client is None:
        return False
    booked = reserve_review(RedisGcra(client), tenant.installation_id, default_limits(ctx.settings))
    if booked.delay <= 0:
        return False
    mark_delayed(review, booked.delay, booked.rate)
    return defer_current_message(booked.delay)


def handle_pull_request(ctx: Context) -> str:
    """Record a review for the PR's head; the review engine picks `pending` reviews up.

    Over the tenant's reviews_per_hour the review is recorded `delayed` and the delivery's message
    comes back when the slot is due (the delivery stays `queued` meanwhile); it is never dropped.
    """
    payload = ctx.delivery.payload
    existing = ctx.session.execute(
        select(Review).where(Review.delivery_id == ctx.delivery.id)
    ).scalar_one_or_none()
    if existing is not None:
        return _resume_delayed(ctx, existing)
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
    elif tenant is not None and tenant.status != TenantStatus.ACTIVE.value:
        review.status = ReviewStatus.SKIPPED.value
        review.status_reason = f"installation {tenant.status}"
    ctx.session.add(review)
    ctx.delivery.tenant_id = review.tenant_id
    outcome = DeliveryStatus.PROCESSED.value
    if tenant is not None:
        add_usage(ctx.session, tenant.id, reviews=1)
        if review.status == ReviewStatus.PENDING.value and _apply_review_rate(ctx, tenant, review):
            outcome = DeliveryStatus.QUEUED.value
    ctx.session.flush()
    publish_after_commit(ctx.session, redis_for(ctx.settings), review)
    return outcome


def route(event: str, action: str | None) -> Handler | None:
    if event == "ping":
        return handle_ping
    if event == "pull_request" and action in REVIEW_ACTIONS:
        return handle_pull_request
    return None
