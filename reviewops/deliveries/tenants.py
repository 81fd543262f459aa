"""Tenants are GitHub App installations; they are created on first sight and kept up to date by events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewops.db.models import Repository, Tenant
from reviewops.deliveries.payload_facts import facts_of


def installation_id_of(payload: dict[str, Any]) -> int | None:
    """The payload's installation id; None unless it is a positive integer PostgreSQL's bigint holds (a
    JSON `true` is not installation 1, and an id past 64 bits would have failed the row's INSERT)."""
    return facts_of(payload).installation_id


def find_tenant(session: Session, installation_id: int) -> Tenant | None:
    return session.execute(
        select(Tenant).where(Tenant.installation_id == installation_id)
    ).scalar_one_or_none()


def ensure_tenant(session: Session, payload: dict[str, Any]) -> Tenant | None:
    """Find or create the tenant of the payload's installation; None when the payload names none."""
    installation_id = installation_id_of(payload)
    if installation_id is None:
        return None
    tenant = find_tenant(session, installation_id)
    inst = payload.get("installation") or {}
    account = inst.get("account") or (payload.get("repository") or {}).get("owner") or {}
    if tenant is None:
        tenant = Tenant(
            installation_id=installation_id,
            account_login=str(account.get("login", ""))[:255],
            account_type=str(account.get("type", ""))[:32],
            settings={},
        )
        session.add(tenant)
        session.flush()
    elif inst.get("account") and not tenant.account_login:
        tenant.account_login = str(account.get("login", ""))[:255]
        tenant.account_type = str(account.get("type", ""))[:32]
    return tenant


def ensure_repository(session: Session, tenant: Tenant, repo: dict[str, Any]) -> Repository | None:
    github_id = repo.get("id")
    if not isinstance(github_id, int):
        return None
    found = session.execute(
        select(Repository).where(Repository.tenant_id == tenant.id, Repository.github_id == github_id)
    ).scalar_one_or_none()
    if found is None:
        found = Repository(
            tenant_id=tenant.id, github_id=github_id, full_name=str(repo.get("full_name", ""))[:255]
        )
        session.add(found)
        session.flush()
    found.active = True
    if repo.get("full_name"):
        found.full_name = str(repo["full_name"])[:255]
    return found
