"""The FastAPI application factory. Settings are validated once, here, before anything listens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dramatiq
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.concurrency import run_in_threadpool

from api import openapi
from api.body_budget import ByteBudget
from api.middleware import HeaderLimit, RateLimitHeaders
from api.problems import install_problem_handlers
from api.routers import (
    admin_api_keys,
    admin_features,
    admin_limits,
    admin_stats,
    admin_tenants,
    dead_letters,
    deliveries,
    events,
    findings,
    github_app,
    health,
    reviews,
    suppressions,
    usage,
    webhooks,
)
from reviewops import __version__
from reviewops.db.session import Database
from reviewops.deliveries import outbox
from reviewops.deliveries.group_commit import IntakeBatcher
from reviewops.deliveries.signature_audit import SignatureFailureTracker
from reviewops.queue.broker import LIVE_QUEUE, build_broker
from reviewops.ratelimit import LocalGcra, RedisGcra
from reviewops.redis_client import redis_for
from reviewops.runtime import tune_gc
from reviewops.settings import Settings, load_settings
from reviewops.telemetry.tracing import setup_tracing

log = logging.getLogger(__name__)


async def run_outbox_sweeper(settings: Settings, db: Database, broker: dramatiq.Broker) -> None:
    """Every few seconds, hand stored-but-unqueued deliveries to the broker (it may have been down)."""
    sweeper = outbox.Sweeper(
        db, broker, received_after=settings.outbox_received_after_seconds,
        stale_after=settings.outbox_stale_after_seconds,
    )  # fmt: skip
    while True:
        await asyncio.sleep(settings.outbox_sweep_interval_seconds)
        try:
            await run_in_threadpool(sweeper.tick)
        except Exception:
            log.exception("outbox sweep failed; retrying on the next tick")


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, broker: dramatiq.Broker | None = None
) -> FastAPI:
    settings = settings or load_settings()
    owns_db, owns_broker = db is None, broker is None
    db = db or Database(settings.database_url)
    broker = broker or build_broker(settings.redis_url)
    client = redis_for(settings)

    batcher = IntakeBatcher(db, broker, LIVE_QUEUE, timeout=settings.webhook_intake_timeout_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        tune_gc(settings.gc_gen0_threshold)  # last of start-up: everything built so far is frozen
        sweeper = None
        if settings.outbox_sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(run_outbox_sweeper(settings, db, broker))
        yield
        await run_in_threadpool(batcher.stop)
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if client is not None:
            client.close()
        if owns_broker:
            broker.close()
        if owns_db:
            db.dispose()

    app = FastAPI(
        title="ReviewOps",
        version=__version__,
        summary="Self-hosted AI code review for GitHub",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.broker = broker
    app.state.intake = batcher
    app.state.body_budget = ByteBudget(settings.webhook_body_budget_bytes)
    app.state.signature_failures = SignatureFailureTracker(settings.signature_failure_window_seconds)
    install_problem_handlers(app)
    openapi.install(app)
    setup_tracing("reviewops-api")
    # Probes and scrapes would drown real requests in traces; the per-message ASGI receive/send spans
    # tell nothing the request span does not, and cost three span lifecycles per request.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/health$,/ready$,/metrics$", exclude_spans=["receive", "send"]
    )
    app.state.redis = client
    app.state.limiter = RedisGcra(client) if client is not None else LocalGcra()
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(HeaderLimit, limit=settings.max_request_header_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["RateLimit", "RateLimit-Policy", "Retry-After"],
        )
    app.include_router(health.router)
    app.include_router(webhooks.router)
    app.include_router(deliveries.router)
    app.include_router(reviews.router)
    app.include_router(findings.router)
    app.include_router(suppressions.router)
    app.include_router(usage.router)
    app.include_router(events.router)
    app.include_router(admin_tenants.router)
    app.include_router(admin_features.router)
    app.include_router(admin_limits.router)
    app.include_router(admin_api_keys.router)
    app.include_router(admin_stats.router)
    app.include_router(dead_letters.router)
    app.include_router(github_app.router)
    return app
