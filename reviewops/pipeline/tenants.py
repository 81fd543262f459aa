"""Tenants are GitHub App installations; they are created on first sight and kept up to date by events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewops.db.models import Tenant


def installation_id_of(payload: dict[str, Any]) -> int | None:
    inst = payload.get("installation")
    value = inst.get("id") if isinstance(inst, dict) else None
    return value if isinstance(value, int) else None


def ensure_tenant(session: Session, payload: dict[str, Any]) -> Tenant | None:
    """Find or create the tenant of the payload's installation; None when the payload names none."""
    installation_id = installation_id_of(payload)
    if installation_id is None:
        return None
    tenant = session.execute(
        select(Tenant).where(Tenant.installation_id == installation_id)
    ).scalar_one_or_none()
    if tenant is None:
        inst = payload.get("installation") or {}
        account = inst.get("account") or (payload.get("repository") or {}).get("owner") or {}
        tenant = Tenant(
            installation_id=installation_id,
            account_login=str(account.get("login", ""))[:255],
            account_type=str(account.get("type", ""))[:32],
            settings={},
        )
        session.add(tenant)
        session.flush()
    return tenant
