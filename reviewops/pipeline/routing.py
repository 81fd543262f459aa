"""Which handler takes which GitHub event; everything not listed is stored as `ignored`."""

from __future__ import annotations

from reviewops.db.models import DeliveryStatus, Review, ReviewStatus
from reviewops.pipeline.processing import Context, Handler
from reviewops.pipeline.tenants import ensure_tenant

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened"})


def handle_ping(ctx: Context) -> str:
    return DeliveryStatus.PROCESSED.value


def handle_pull_request(ctx: Context) -> str:
    """Record a review for the PR's head; the review engine picks `pending` reviews up."""
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
    return DeliveryStatus.PROCESSED.value


def route(event: str, action: str | None) -> Handler | None:
    if event == "ping":
        return handle_ping
    if event == "pull_request" and action in REVIEW_ACTIONS:
        return handle_pull_request
    return None
