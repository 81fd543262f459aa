"""Reviews over a tenant's reviews_per_hour are delayed, never dropped (GitHub would not redeliver).

`schedule_review` books the tenant's next review slot with GCRA in reserve mode and returns how long
to wait for it (0 = run now). A delayed review gets status `delayed`, `not_before`, and a note in
`reviews.timings["notes"]` that the summary comment shows.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import redis

from reviewops.db.models import Review, ReviewStatus
from reviewops.db.types import utcnow
from reviewops.policy.store import TenantLimits
from reviewops.ratelimit.gcra import RedisGcra
from reviewops.ratelimit.limits import reserve_review
from reviewops.telemetry import metrics

NOTES_KEY = "notes"


def schedule_review(client: redis.Redis, installation_id: int, fallback: TenantLimits | None = None) -> float:
    """Seconds until the tenant may start this review (0 = now). The slot is booked either way."""
    decision = reserve_review(RedisGcra(client), installation_id, fallback or TenantLimits())
    return decision.delay


def add_note(review: Review, note: str) -> None:
    """Append a line for the summary comment (reassigned so the JSON column is seen as changed)."""
    timings: dict[str, Any] = dict(review.timings or {})
    timings[NOTES_KEY] = [*timings.get(NOTES_KEY, []), note]
    review.timings = timings


def mark_delayed(review: Review, delay_seconds: float, reviews_per_hour: int | None = None) -> None:
    """Record a rate-limit delay on the review (status, not_before, reason, note) and count it."""
    seconds = math.ceil(delay_seconds)
    review.status = ReviewStatus.DELAYED
    review.not_before = utcnow() + timedelta(seconds=seconds)
    limit = f" of {reviews_per_hour} reviews per hour" if reviews_per_hour else ""
    reason = f"delayed {seconds}s: the installation is over its review rate limit{limit}"
    review.status_reason = reason
    add_note(review, f"This review was delayed by {seconds}s because the installation is over its review "
                     f"rate limit{limit}.")  # fmt: skip
    metrics.REVIEWS_DELAYED.inc()
    metrics.RATE_LIMITED.labels("reviews").inc()
