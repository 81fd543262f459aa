"""The FastAPI application factory. Settings are validated once, here, before anything listens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dramatiq
from fastapi import FastAPI

from api.problems import install_problem_handlers
from api.routers import dead_letters, deliveries, health, webhooks
from reviewops import __version__
from reviewops.db.session import Database
from reviewops.queue.broker import build_broker
from reviewops.settings import Settings, load_settings


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, broker: dramatiq.Broker | None = None
) -> FastAPI:
    settings = settings or load_settings()
    owns_db, owns_broker = db is None, broker is None
    db = db or Database(settings.database_url)
    broker = broker or build_broker(settings.redis_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
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
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(webhooks.router)
    app.include_router(deliveries.router)
    app.include_router(dead_letters.router)
    return app
