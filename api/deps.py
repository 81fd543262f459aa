"""Dependencies as `Annotated` aliases (FastAPI full-stack template style).

The ones that never block are `async def`: FastAPI runs a plain `def` dependency in the thread pool,
a hop per dependency per request that showed up as a large share of the webhook's CPU (bench/ingest.py).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

import dramatiq
import redis
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.problems import ProblemError
from reviewops.db.models import TenantStatus
from reviewops.db.session import Database
from reviewops.ratelimit import Decision, check_api, default_limits, ratelimit_headers
from reviewops.settings import Settings
from reviewops.telemetry import metrics
from reviewops.tenancy import apikeys


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_broker(request: Request) -> dramatiq.Broker:
    broker: dramatiq.Broker = request.app.state.broker
    return broker


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
BrokerDep = Annotated[dramatiq.Broker, Depends(get_broker)]


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def require_admin(
    settings: SettingsDep, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> str:
    """Admin endpoints take `Authorization: Bearer $REVIEWOPS_ADMIN_TOKEN`, compared in constant time.

    The token in force is asked for on every request: with REVIEWOPS_ADMIN_TOKEN_FILE a rotated token
    replaces the old one within a second, without a restart."""
    expected = settings.admin_token_value() or ""
    if not expected:
        raise ProblemError(401, "admin API disabled: set REVIEWOPS_ADMIN_TOKEN", code="admin-disabled")
    token = bearer_token(authorization) or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ProblemError(
            401,
            "missing or wrong admin bearer token",
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "admin"


AdminDep = Annotated[str, Depends(require_admin)]


async def get_redis(request: Request) -> redis.Redis | None:
    """The API's Redis client (rate limits, policy store, events); None in the embedded default."""
    client: redis.Redis | None = request.app.state.redis
    return client


RedisDep = Annotated[redis.Redis | None, Depends(get_redis)]


@dataclass(frozen=True)
class TenantContext:
    """Who is calling the tenant API: resolved from the API key, never from the request's parameters."""

    tenant_id: int
    installation_id: int
    key_id: str
    decision: Decision


_bearer = HTTPBearer(auto_error=False, description="A tenant API key: rk_<key_id>_<secret>")
RATELIMIT_STATE = "ratelimit_headers"


def authenticate_key(db: Database, token: str) -> apikeys.Authenticated | None:
    with db.session() as session:
        return apikeys.authenticate(session, token)


async def require_tenant(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TenantContext:
    """Authenticate the tenant key, then count the request against the tenant's live rate limit.

    The RateLimit headers go on every response of the request (see api.middleware), a 429 included.
    """
    token = credentials.credentials if credentials else ""
    if not token:
        raise ProblemError(
            401, "missing tenant API key", code="unauthorized", headers={"WWW-Authenticate": "Bearer"}
        )
    auth = await run_in_threadpool(authenticate_key, db, token)
    if auth is None:
        raise ProblemError(
            401, "invalid or revoked API key", code="unauthorized", headers={"WWW-Authenticate": "Bearer"}
        )
    if auth.tenant_status != TenantStatus.ACTIVE:
        raise ProblemError(403, f"tenant is {auth.tenant_status}", code="tenant-inactive")
    limiter = request.app.state.limiter
    decision = await run_in_threadpool(check_api, limiter, auth.installation_id, default_limits(settings))
    headers = ratelimit_headers(decision)
    request.state.ratelimit_headers = headers
    if not decision.allowed:
        metrics.RATE_LIMITED.labels("api").inc()
        raise ProblemError(
            429,
            f"rate limit of {decision.rate} requests per minute exceeded; retry in {headers['Retry-After']}s",
            code="rate-limited",
            headers=headers,
        )
    return TenantContext(auth.tenant_id, auth.installation_id, auth.key_id, decision)


TenantDep = Annotated[TenantContext, Depends(require_tenant)]
