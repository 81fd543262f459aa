"""Dependencies as `Annotated` aliases (FastAPI full-stack template style)."""

from __future__ import annotations

import hmac
from typing import Annotated

import dramatiq
from fastapi import Depends, Header, Request

from api.problems import ProblemError
from reviewops.db.session import Database
from reviewops.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_broker(request: Request) -> dramatiq.Broker:
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


def require_admin(
    settings: SettingsDep, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> str:
    """Admin endpoints take `Authorization: Bearer $REVIEWOPS_ADMIN_TOKEN`, compared in constant time."""
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
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
