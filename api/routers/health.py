"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
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


# The broker check answers within BROKER_CHECK_SECONDS, well inside the readiness probe's timeout (3 s):
# an unreachable-but-not-refusing Redis (a partition, a blackholed address) makes a PING wait for the
# client's connect and socket timeouts and retries, far past the probe, and a timed-out probe takes the
# pod out of the Service, which is what this endpoint must not do for the broker. One check per broker
# runs at a time in its own thread (a hung one is reported, not piled up).
BROKER_CHECK_SECONDS = 1.0
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ready-broker")
_pending: dict[int, Future[None]] = {}


async def _broker_state(broker: Any) -> str:
    future = _pending.get(id(broker))
    if future is None or future.done():
        future = _pending[id(broker)] = _checks.submit(_broker_ok, broker)
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), BROKER_CHECK_SECONDS)
    except TimeoutError:
        return f"down: no answer within {BROKER_CHECK_SECONDS:g}s"
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


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
    try:
        await run_in_threadpool(db.ping)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    checks["broker"] = await _broker_state(broker)
    for name, state in checks.items():
        metric_defs.DEPENDENCY_UP.labels(dependency=name).set(1 if state == "ok" else 0)
    down = [name for name, state in checks.items() if state != "ok"]
    blocking = [name for name in down if name in REQUIRED]
    state = "not ready" if blocking else ("degraded" if down else "ready")
    body = {"status": state, "checks": checks, "down": down}
    return JSONResponse(body, status_code=503 if blocking else 200)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
