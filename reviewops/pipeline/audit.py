"""Append-only audit trail: tenant lifecycle, secret rotations, admin actions, signature-failure bursts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from reviewops.db.models import AuditLog
from reviewops.db.session import Database


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    *,
    tenant_id: int | None = None,
    **details: Any,
) -> None:
    session.add(AuditLog(actor=actor, action=action, target=target, tenant_id=tenant_id, details=details))


def record_now(db: Database, actor: str, action: str, target: str | None = None, **details: Any) -> None:
    """Audit in its own transaction (for events outside any other unit of work)."""
    with db.session() as session:
        record(session, actor, action, target, **details)
