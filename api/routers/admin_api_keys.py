"""Admin API: tenant API keys. The key is in the create response only; the database keeps a hash."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.admin import tenant_or_404
from api.deps import AdminDep, DbDep
from api.filters import STRICT, TEXT_PATTERN, IdPath
from api.problems import ProblemError
from reviewops import audit
from reviewops.db.models import ApiKey, Tenant
from reviewops.db.session import Database
from reviewops.tenancy import apikeys

router = APIRouter(prefix="/api/v1/admin", tags=["admin: api keys"])
KeyIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]


class NewApiKey(BaseModel):
    model_config = STRICT

    name: str = Field(default="", max_length=255, pattern=TEXT_PATTERN)


class ApiKeyOut(BaseModel):
    key_id: str
    tenant_id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyOut:
        return cls(key_id=k.key_id, tenant_id=k.tenant_id, name=k.name, created_at=k.created_at,
                   revoked_at=k.revoked_at, last_used_at=k.last_used_at)  # fmt: skip


class CreatedApiKey(ApiKeyOut):
    api_key: str = Field(description="The key itself: shown this once, store it now.")


def _create(db: Database, actor: str, tenant_id: int, name: str) -> CreatedApiKey:
    with db.session() as session:
        tenant = tenant_or_404(session, tenant_id)
        created = apikeys.create_key(session, tenant.id, name)
        audit.record(session, actor, "api_key.create", f"api_key:{created.row.key_id}", tenant_id=tenant.id,
                     details={"name": name})  # fmt: skip
        return CreatedApiKey(**ApiKeyOut.of(created.row).model_dump(), api_key=created.plaintext)


@router.post(
    "/tenants/{tenant_id}/api-keys",
    status_code=201,
    response_model=CreatedApiKey,
    responses={404: {"description": "No such tenant"}},
)
async def create_api_key(tenant_id: IdPath, body: NewApiKey, admin: AdminDep, db: DbDep) -> CreatedApiKey:
    return await run_in_threadpool(_create, db, admin, tenant_id, body.name)


def _list(db: Database, tenant_id: int) -> list[ApiKeyOut]:
    with db.session() as session:
        tenant_or_404(session, tenant_id)
        rows = session.execute(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
        ).scalars()
        return [ApiKeyOut.of(k) for k in rows]


@router.get(
    "/tenants/{tenant_id}/api-keys",
    response_model=list[ApiKeyOut],
    responses={404: {"description": "No such tenant"}},
)
async def list_api_keys(tenant_id: IdPath, _admin: AdminDep, db: DbDep) -> list[ApiKeyOut]:
    return await run_in_threadpool(_list, db, tenant_id)


def _revoke(db: Database, actor: str, key_id: str) -> ApiKeyOut:
    with db.session() as session:
        key = apikeys.revoke_key(session, key_id)
        if key is None:
            raise ProblemError(404, f"no API key {key_id}", code="not-found")
        tenant = session.get(Tenant, key.tenant_id)
        audit.record(session, actor, "api_key.revoke", f"api_key:{key_id}",
                     tenant_id=tenant.id if tenant else None)  # fmt: skip
        session.flush()
        return ApiKeyOut.of(key)


@router.delete(
    "/api-keys/{key_id}", response_model=ApiKeyOut, responses={404: {"description": "No such key"}}
)
async def revoke_api_key(key_id: KeyIdPath, admin: AdminDep, db: DbDep) -> ApiKeyOut:
    """Revoke a key at once (idempotent: revoking twice keeps the first revocation time)."""
    return await run_in_threadpool(_revoke, db, admin, key_id)
