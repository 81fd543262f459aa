"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import BrokerDep, DbDep
from reviewops.telemetry.exposition import render

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers. Dependencies are /ready's business."""
    return {"status": "healthy", "service": "reviewops"}


def _broker_ok(broker: Any) -> None:
    client = getattr(broker, "client", None)
    if client is not None:
        client.ping()


@router.get("/ready", responses={503: {"description": "A dependency is down"}})
async def ready(db: DbDep, broker: BrokerDep) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, check in (("database", db.ping), ("broker", lambda: _broker_ok(broker))):
        try:
            await run_in_threadpool(check)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
    down = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "ready" if not down else "not ready", "checks": checks, "down": down}
    return JSONResponse(body, status_code=503 if down else 200)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
