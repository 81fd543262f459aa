"""Every admin action leaves a row in audit_log: who, what, on what, with which details."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from reviewops.db.models import AuditLog


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None,
    *,
    tenant_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(actor=actor, action=action, target=target, tenant_id=tenant_id, details=details or {})
    session.add(entry)
    return entry
