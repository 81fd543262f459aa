"""The append-only audit trail (`audit_log`), one writer for everything that is audited.

Who did what to what, with which details: tenant lifecycle (installation events), PR commands, admin API
actions, dead-letter replays and purges, secret rotations, retention purges, signature-failure bursts and
delivery recovery.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    details: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Audit inside the caller's transaction: the row commits (or not) with the action it describes."""
    entry = AuditLog(
        actor=actor, action=action, target=target, tenant_id=tenant_id, details=dict(details or {})
    )
    session.add(entry)
    return entry


def record_now(
    db: Database,
    actor: str,
    action: str,
    target: str | None = None,
    *,
    tenant_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Audit in its own transaction, for events outside any other unit of work."""
    with db.session() as session:
        record(session, actor, action, target, tenant_id=tenant_id, details=details)
