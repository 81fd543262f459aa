"""Missed-delivery recovery against the real GitHub App: the CLI and the worker's schedule share this.

The decision logic is reviewops.deliveries.recovery.recover; this module feeds it GitHub's delivery list
(newest first, so paging stops at the first attempt older than the window) and the redelivery call, and
makes sure only one worker of the fleet runs it per interval (a Redis SET NX EX lock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import redis

from reviewops.db.session import Database
from reviewops.deliveries.recovery import HookDelivery, RecoveryResult, recover
from reviewops.github.client import GitHubApp
from reviewops.settings import Settings
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

LOCK_KEY = "reviewops:recovery:lock"
DEFAULT_SINCE = timedelta(hours=72)  # GitHub keeps deliveries for redelivery about three days
DEFAULT_MAX = 100
# GitHub's secondary limit on content-creating requests is 80 per minute: a redelivery request stays below it.
REDELIVERIES_PER_MINUTE = 60.0


def attempts_since(app: GitHubApp, cutoff: datetime, per_page: int = 100) -> Iterator[Mapping[str, Any]]:
    """The app's delivery attempts newer than `cutoff`; stops fetching pages at the first older one."""
    for item in app.list_hook_deliveries(per_page=per_page):
        if HookDelivery.from_api(item).delivered_at < cutoff:
            return
        yield item


def run_recovery(
    db: Database,
    app: GitHubApp,
    *,
    since: timedelta = DEFAULT_SINCE,
    max_redeliveries: int = DEFAULT_MAX,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    after_restore: bool = False,
    per_minute: float = REDELIVERIES_PER_MINUTE,
) -> RecoveryResult:
    interval = 60.0 / per_minute if per_minute > 0 else 0.0
    result = recover(
        db,
        lambda cutoff: attempts_since(app, cutoff),
        app.redeliver,
        since=since,
        max_redeliveries=max_redeliveries,
        dry_run=dry_run,
        progress=progress,
        after_restore=after_restore,
        pause=(lambda: time.sleep(interval)) if interval else None,
    )
    if not dry_run:
        metrics.DELIVERY_RECOVERY_REDELIVERIES.inc(len(result.redelivered))
    return result


def take_lock(client: redis.Redis, interval_seconds: float) -> bool:
    """True for the one caller per interval; the lock expires on its own (never released early)."""
    return bool(client.set(LOCK_KEY, "1", nx=True, ex=max(1, int(interval_seconds))))


class ScheduledRecovery:
    """A Maintenance task: runs every maintenance tick in every worker, recovers once per interval."""

    def __init__(self, settings: Settings, db: Database, client: redis.Redis, app: GitHubApp) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.app = app

    def __call__(self) -> RecoveryResult | None:
        interval = self.settings.delivery_recovery_interval_seconds
        if interval <= 0 or not take_lock(self.client, interval):
            return None
        try:
            result = run_recovery(self.db, self.app)
        except Exception:
            metrics.DELIVERY_RECOVERY_RUNS.labels("error").inc()
            raise
        metrics.DELIVERY_RECOVERY_RUNS.labels("error" if result.errors else "ok").inc()
        return result


def scheduled_recovery(
    settings: Settings, db: Database, client: redis.Redis | None
) -> ScheduledRecovery | None:
    """The worker's recovery task, or None when it is off, there is no Redis, or no GitHub App."""
    if settings.delivery_recovery_interval_seconds <= 0 or client is None:
        return None
    if not settings.github_app_configured:
        return None
    return ScheduledRecovery(settings, db, client, GitHubApp.from_settings(settings, redis_client=client))
