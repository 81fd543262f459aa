"""Tenant API: live review updates as Server-Sent Events.

The stream opens with a `snapshot` event (the tenant's latest reviews), then one `review` event per
update published on the tenant's Redis channel (reviewops.events), and a `: heartbeat` comment
whenever nothing was sent for REVIEWOPS_SSE_HEARTBEAT_SECONDS, so proxies keep the connection open.
The subscription starts before the snapshot is read, so no update falls between the two. The key is
checked again every REVIEWOPS_SSE_KEY_RECHECK_SECONDS: a revoked key ends the stream (a `revoked` event).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from redis import asyncio as aioredis
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, SettingsDep, TenantContext, TenantDep, authenticate_key, bearer_token
from api.routers.reviews import list_reviews_for
from reviewops.db.models import TenantStatus
from reviewops.db.session import Database
from reviewops.events import channel
from reviewops.redis_client import connect_async

router = APIRouter(prefix="/api/v1", tags=["events"])
SNAPSHOT_SIZE = 20


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def still_allowed(db: Database, token: str, tenant: TenantContext) -> bool:
    """The key is still valid, unrevoked, of the same tenant, and the tenant still active."""
    auth = await run_in_threadpool(authenticate_key, db, token)
    return (
        auth is not None and auth.tenant_id == tenant.tenant_id and auth.tenant_status == TenantStatus.ACTIVE
    )


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def stream_events(
    request: Request, tenant: TenantDep, db: DbDep, settings: SettingsDep
) -> StreamingResponse:
    client: aioredis.Redis | None = None
    pubsub: Any = None
    if settings.redis_url:
        client = connect_async(settings.redis_url)
        pubsub = client.pubsub()
        await pubsub.subscribe(channel(tenant.tenant_id))
    try:
        page = await run_in_threadpool(list_reviews_for, db, tenant.tenant_id, limit=SNAPSHOT_SIZE)
    except BaseException:
        if pubsub is not None and client is not None:
            await pubsub.aclose()
            await client.aclose()
        raise
    heartbeat = settings.sse_heartbeat_seconds
    token = bearer_token(request.headers.get("authorization")) or ""
    recheck = settings.sse_key_recheck_seconds

    async def generate() -> AsyncIterator[str]:
        try:
            snapshot = [r.model_dump(mode="json") for r in page.items]
            yield "retry: 3000\n" + sse("snapshot", {"reviews": snapshot})
            last = checked = time.monotonic()
            while True:
                if time.monotonic() - checked >= recheck:
                    if not await still_allowed(db, token, tenant):
                        yield sse(
                            "revoked", {"detail": "the API key was revoked or the tenant is not active"}
                        )
                        return
                    checked = time.monotonic()
                wait = max(
                    min(heartbeat - (time.monotonic() - last), recheck - (time.monotonic() - checked)), 0.0
                )
                message = None
                if pubsub is not None:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                else:
                    await asyncio.sleep(wait)
                if message is not None and message.get("type") == "message":
                    try:
                        body = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    yield sse(str(body.get("type", "review")), body.get("review", body))
                    last = time.monotonic()
                elif time.monotonic() - last >= heartbeat:
                    yield ": heartbeat\n\n"
                    last = time.monotonic()
        finally:
            if pubsub is not None and client is not None:
                await pubsub.aclose()
                await client.aclose()

    return StreamingResponse(
        generate(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
