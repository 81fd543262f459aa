"""Tenants are GitHub App installations; they are created on first sight and kept up to date by events.

Creation is an upsert (INSERT .. ON CONFLICT DO NOTHING, then read): the first deliveries of a new
installation arrive together, and a find-then-insert made all but one fail on the unique key, log a
traceback and retry (issue 18).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
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
        _insert_ignoring_conflict(session, Tenant, {
            "installation_id": installation_id, "account_login": str(account.get("login", ""))[:255],
            "account_type": str(account.get("type", ""))[:32], "settings": {},
        })  # fmt: skip
        tenant = find_tenant(session, installation_id)
        assert tenant is not None  # inserted now, or by a concurrent delivery that committed first
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
        _insert_ignoring_conflict(
            session, Repository,
            {"tenant_id": tenant.id, "github_id": github_id, "full_name": str(repo.get("full_name", ""))[:255]},
        )  # fmt: skip
        found = session.execute(
            select(Repository).where(Repository.tenant_id == tenant.id, Repository.github_id == github_id)
        ).scalar_one()
    found.active = True
    if repo.get("full_name"):
        found.full_name = str(repo["full_name"])[:255]
    return found


def _insert_ignoring_conflict(
    session: Session, model: type[Tenant] | type[Repository], values: dict[str, Any]
) -> None:
    """INSERT .. ON CONFLICT DO NOTHING on PostgreSQL and SQLite: a concurrent insert of the same key
    makes this one wait for it and then do nothing, instead of failing the transaction."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement: Insert = dialect.insert(model).values(**values).on_conflict_do_nothing()
    session.execute(statement)
