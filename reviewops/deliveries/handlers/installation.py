"""`installation` and `installation_repositories`: the tenant lifecycle, audited."""

from __future__ import annotations

from sqlalchemy import select, update

from reviewops import audit
from reviewops.db.models import DeliveryStatus, Repository, Review, ReviewStatus, TenantStatus
from reviewops.db.types import utcnow
from reviewops.deliveries.handlers.pull_request import OPEN_REVIEW_STATES
from reviewops.deliveries.processing import Context
from reviewops.deliveries.tenants import ensure_repository, ensure_tenant, find_tenant, installation_id_of

_STATUS_BY_ACTION = {
    "created": TenantStatus.ACTIVE,
    "unsuspend": TenantStatus.ACTIVE,
    "suspend": TenantStatus.SUSPENDED,
    "deleted": TenantStatus.DELETED,
}


def _sender(ctx: Context) -> str:
    return str((ctx.delivery.payload.get("sender") or {}).get("login", "github"))


def handle_installation(ctx: Context) -> str:
    payload = ctx.delivery.payload
    installation_id = installation_id_of(payload)
    existed = installation_id is not None and find_tenant(ctx.session, installation_id) is not None
    tenant = ensure_tenant(ctx.session, payload)
    if tenant is None:
        return ctx.ignore("installation event without an installation id")
    ctx.delivery.tenant_id = tenant.id
    action = ctx.delivery.action or ""
    new_status = _STATUS_BY_ACTION.get(action)
    if new_status is not None and (tenant.status != new_status or not existed):
        previous = tenant.status if existed else None
        tenant.status = new_status
        audit.record(
            ctx.session,
            _sender(ctx),
            f"tenant.{action}",
            tenant.account_login,
            tenant_id=tenant.id,
            details={"installation_id": tenant.installation_id, "previous_status": previous},
        )
    if action == "created":
        for repo in payload.get("repositories") or []:
            ensure_repository(ctx.session, tenant, repo)
    if action == "deleted":
        ctx.session.execute(update(Repository).where(Repository.tenant_id == tenant.id).values(active=False))
        ctx.session.execute(
            update(Review)
            .where(Review.tenant_id == tenant.id, Review.status.in_(OPEN_REVIEW_STATES))
            .values(status=ReviewStatus.CANCELLED, status_reason="installation deleted", updated_at=utcnow())
        )
    ctx.reason = f"installation {action}"
    return DeliveryStatus.PROCESSED


def handle_installation_repositories(ctx: Context) -> str:
    payload = ctx.delivery.payload
    tenant = ensure_tenant(ctx.session, payload)
    if tenant is None:
        return ctx.ignore("event without an installation id")
    ctx.delivery.tenant_id = tenant.id
    added = [r for r in payload.get("repositories_added") or [] if ensure_repository(ctx.session, tenant, r)]
    removed_ids = [r["id"] for r in payload.get("repositories_removed") or [] if isinstance(r.get("id"), int)]
    if removed_ids:
        for repo in ctx.session.execute(
            select(Repository).where(Repository.tenant_id == tenant.id, Repository.github_id.in_(removed_ids))
        ).scalars():
            repo.active = False
    audit.record(
        ctx.session,
        _sender(ctx),
        f"tenant.repositories_{ctx.delivery.action}",
        tenant.account_login,
        tenant_id=tenant.id,
        details={"added": [r.get("full_name") for r in added], "removed": removed_ids},
    )
    return DeliveryStatus.PROCESSED
