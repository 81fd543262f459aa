"""The worker's missed-delivery recovery: paging stops at the window, one worker per interval (Redis lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import redis

from reviewops.db.session import Database
from reviewops.deliveries.redelivery import LOCK_KEY, ScheduledRecovery, attempts_since, scheduled_recovery
from reviewops.github.client import GitHubApp
from reviewops.queue.maintenance import Maintenance
from reviewops.settings import Settings

DELIVERIES = "/app/hook/deliveries"


def iso(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_paging_stops_at_the_first_attempt_older_than_the_cutoff(
    github_settings: Settings, fake_github: Any
) -> None:
    for hours in (90, 89, 88, 87, 86):  # old, added first: listed last
        fake_github.add_delivery(delivered_at=iso(timedelta(hours=hours)))
    recent = [fake_github.add_delivery(delivered_at=iso(timedelta(hours=h))) for h in (5, 4, 3, 2, 1)]
    app = GitHubApp.from_settings(github_settings)
    got = list(attempts_since(app, datetime.now(UTC) - timedelta(hours=72), per_page=2))
    assert [g["id"] for g in got] == [d["id"] for d in reversed(recent)]
    assert len(fake_github.calls_to(DELIVERIES, "GET")) == 3  # pages [r r] [r r] [r old]: then it stops


def test_one_worker_per_interval(
    github_settings: Settings, db: Database, redis_client: redis.Redis, fake_github: Any
) -> None:
    missed = fake_github.add_delivery(
        status_code=500, event="pull_request", delivered_at=iso(timedelta(hours=1))
    )
    settings = github_settings.model_copy(update={"delivery_recovery_interval_seconds": 600})
    first, second = (
        scheduled_recovery(settings, db, redis_client),
        scheduled_recovery(settings, db, redis_client),
    )
    assert isinstance(first, ScheduledRecovery) and isinstance(second, ScheduledRecovery)
    result = first()
    assert result is not None and result.redelivered == [missed["guid"]]
    assert second() is None and first() is None  # the lock holds for the interval, for every worker
    assert fake_github.redelivered == [missed["id"]]
    assert 590 <= int(redis_client.ttl(LOCK_KEY)) <= 600
    redis_client.delete(LOCK_KEY)  # the interval is over
    assert second() is not None
    assert fake_github.redelivered == [missed["id"], missed["id"]]


def test_off_without_interval_app_or_redis(
    settings: Settings, github_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    off = github_settings.model_copy(update={"delivery_recovery_interval_seconds": 0})
    assert scheduled_recovery(off, db, redis_client) is None
    assert scheduled_recovery(settings, db, redis_client) is None  # no GitHub App
    assert scheduled_recovery(github_settings, db, None) is None


def _recovery_tasks(broker: dramatiq.Broker) -> list[Any]:
    (maintenance,) = [m for m in broker.middleware if isinstance(m, Maintenance)]
    return [t for t in maintenance.tasks if isinstance(t, ScheduledRecovery)]


def test_the_worker_runs_it_as_a_maintenance_task(
    github_settings: Settings, db: Database, redis_client: redis.Redis, fake_github: Any
) -> None:
    from reviewops.queue.broker import build_broker
    from worker.main import install_worker_middleware

    missed = fake_github.add_delivery(status_code=502, delivered_at=iso(timedelta(minutes=30)))
    with_app = build_broker(github_settings.redis_url)
    install_worker_middleware(with_app, github_settings, db)
    (task,) = _recovery_tasks(with_app)
    task()
    assert fake_github.redelivered == [missed["id"]]
    with_app.close()

    off = build_broker(github_settings.redis_url)
    install_worker_middleware(
        off, github_settings.model_copy(update={"delivery_recovery_interval_seconds": 0}), db
    )
    assert _recovery_tasks(off) == []
    off.close()
