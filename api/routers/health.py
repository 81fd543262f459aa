"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import BrokerDep, DbDep
from reviewops.telemetry import metrics as metric_defs
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


# What a pod needs to take a webhook: the process (this answer) and the database (the intake commits
# the delivery before its 202). The broker is not among them: with Redis down the intake stores the
# delivery as `received` and answers 202 `"status": "stored"`, and the outbox sweeper enqueues it once
# Redis is back. Taking every API pod out of the Service for a Redis outage would turn those 202s into
# connection errors, and GitHub does not retry a failed delivery.
REQUIRED = ("database",)


@router.get(
    "/ready",
    responses={503: {"description": "The database is down: this pod cannot store a webhook"}},
)
async def ready(db: DbDep, broker: BrokerDep) -> JSONResponse:
    """Readiness: 200 while webhooks can be stored; the broker's state is reported, not required."""
    checks: dict[str, str] = {}
    for name, check in (("database", db.ping), ("broker", lambda: _broker_ok(broker))):
        try:
            await run_in_threadpool(check)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
        metric_defs.DEPENDENCY_UP.labels(dependency=name).set(1 if checks[name] == "ok" else 0)
    down = [name for name, state in checks.items() if state != "ok"]
    blocking = [name for name in down if name in REQUIRED]
    state = "not ready" if blocking else ("degraded" if down else "ready")
    body = {"status": state, "checks": checks, "down": down}
    return JSONResponse(body, status_code=503 if blocking else 200)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
