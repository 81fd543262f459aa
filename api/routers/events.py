"""Tenant API: live review updates as Server-Sent Events.

The stream opens with a `snapshot` event (the tenant's latest reviews), then one `review` event per
update published on the tenant's Redis channel (reviewops.events), and a `: heartbeat` comment
whenever nothing was sent for REVIEWOPS_SSE_HEARTBEAT_SECONDS, so proxies keep the connection open.
The subscription starts before the snapshot is read, so no update falls between the two.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from redis import asyncio as aioredis
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, SettingsDep, TenantDep
from api.routers.reviews import list_reviews_for
from reviewops.events import channel
from reviewops.redis_client import connect_async

router = APIRouter(prefix="/api/v1", tags=["events"])
SNAPSHOT_SIZE = 20


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def stream_events(tenant: TenantDep, db: DbDep, settings: SettingsDep) -> StreamingResponse:
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

    async def generate() -> AsyncIterator[str]:
        try:
            snapshot = [r.model_dump(mode="json") for r in page.items]
            yield "retry: 3000\n" + sse("snapshot", {"reviews": snapshot})
            last = time.monotonic()
            while True:
                wait = max(heartbeat - (time.monotonic() - last), 0.0)
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
