"""Helpers shared by the admin routers: tenant lookup and the audit trail in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.problems import ProblemError
from reviewops.db.models import Tenant


class TenantOut(BaseModel):
    id: int
    installation_id: int
    account_login: str
    account_type: str
    status: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Tenant) -> TenantOut:
        return cls(
            id=t.id, installation_id=t.installation_id, account_login=t.account_login,
            account_type=t.account_type, status=t.status, settings=dict(t.settings or {}),
            created_at=t.created_at, updated_at=t.updated_at,
        )  # fmt: skip


def tenant_or_404(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise ProblemError(404, f"no tenant {tenant_id}", code="not-found")
    return tenant
