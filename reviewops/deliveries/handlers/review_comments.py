"""`pull_request_review_comment`: a reply `/reviewops ignore [reason]` or `/reviewops unignore` to a
ReviewOps inline comment (the dismissal itself is reviewops.reviews.dismissals, run after the commit)."""

from __future__ import annotations

from reviewops.db.models import DeliveryStatus, TenantStatus
from reviewops.deliveries.handlers.comments import is_bot
from reviewops.deliveries.processing import Context
from reviewops.deliveries.tenants import ensure_tenant
from reviewops.reviews.dismissals import Dismissal, parse_dismissal


def handle_review_comment(ctx: Context) -> str:
    payload = ctx.delivery.payload
    if ctx.delivery.action != "created":
        return ctx.ignore("only new review comments carry commands")
    comment = payload.get("comment") or {}
    parent_id, reply_id = comment.get("in_reply_to_id"), comment.get("id")
    if not isinstance(parent_id, int) or not isinstance(reply_id, int):
        return ctx.ignore("not a reply to a review comment")
    if is_bot(comment):
        return ctx.ignore("comment by a bot")
    parsed = parse_dismissal(comment.get("body"))
    if parsed is None:
        return ctx.ignore("no ReviewOps command in the reply")
    tenant = ensure_tenant(ctx.session, payload)
    ctx.delivery.tenant_id = tenant.id if tenant else None
    if tenant is None or tenant.status != TenantStatus.ACTIVE:
        return ctx.ignore("no active installation")
    dismiss = ctx.reviews.dismiss
    if dismiss is None:
        return ctx.ignore("no GitHub App configured to read the comment replied to")
    command, reason = parsed
    dismissal = Dismissal(
        installation_id=tenant.installation_id, tenant_id=tenant.id, repository=ctx.delivery.repository or "",
        parent_comment_id=parent_id, reply_comment_id=reply_id, command=command, reason=reason,
        actor=str((comment.get("user") or {}).get("login", "unknown")),
    )  # fmt: skip
    ctx.command = command
    ctx.reason = f"command /reviewops {command}"
    ctx.after_commit.append(lambda: dismiss(dismissal))
    return DeliveryStatus.PROCESSED
