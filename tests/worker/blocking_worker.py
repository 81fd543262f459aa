"""A worker PROCESS for the crash test: its handler announces the delivery in Redis, then blocks forever.

Test-only (it lives under tests/): the test SIGKILLs this process while the actor is running.
Configured by the usual REVIEWOPS_* environment variables.
"""

from __future__ import annotations

import time

import redis

from reviewops.db.session import Database
from reviewops.deliveries.processing import Context, Handler
from reviewops.queue.broker import build_broker
from reviewops.settings import load_settings
from worker.main import start_worker

STARTED_KEY = "test:blocking-worker:started"


def main() -> None:
    settings = load_settings()
    assert settings.redis_url is not None
    client = redis.Redis.from_url(settings.redis_url)

    def block(ctx: Context) -> str:
        client.rpush(STARTED_KEY, ctx.delivery.id)
        while True:
            time.sleep(0.05)

    def route(event: str, action: str | None) -> Handler | None:
        return block

    start_worker(
        build_broker(settings.redis_url), settings, Database(settings.database_url), threads=1, router=route
    )
    client.set("test:blocking-worker:ready", 1)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
