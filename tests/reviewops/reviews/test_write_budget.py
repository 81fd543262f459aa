"""GitHub's secondary limits, respected before GitHub enforces them: two content writes per review, writes
paced per installation (80 per minute, 500 per hour) through Redis, and a 403/429 with `retry-after`
pausing the installation for every worker without losing the review.

Real reviews (ReviewRunner, PostgreSQL, Redis) against the local GitHub server. Waits are not slept: each
worker's sleep moves a shared fake clock that the pacer reads, so a minute of pacing takes no minute and
no assertion depends on wall-clock speed.
"""

from __future__ import annotations

import bisect
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select

from reviewops.db.models import Review, Tenant
from reviewops.db.session import Database
from reviewops.errors import TransientError
from reviewops.github.client import GitHubApp
from reviewops.reviews.runner import ReviewRunner
from reviewops.settings import Settings
from tests.support.fake_github import FakeGitHub
from tests.support.review_engine import DEPS

REPO = "octo/paced"
INSTALLATION = 91
HEAD = "c" * 40
CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"
REVIEWS = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"
PATCH = '@@ -0,0 +1,3 @@\n+import os\n+print("debug")\n+y = 2'


class FakeClock:
    """Shared by every "worker" of a test: sleeping moves it on, as time would."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def worker(
    settings: Settings, db: Database, client: redis.Redis, clock: FakeClock, stamps: list[tuple[str, float]]
) -> ReviewRunner:
    """One worker process's runner: its own GitHubApp (HTTP client, token cache), the shared Redis.

    `stamps` gets (method, fake time) of every content write sent to GitHub (token requests excluded)."""
    app = GitHubApp.from_settings(settings, redis_client=client)
    app.transport.sleep = clock.sleep
    app.transport.limiter.clock = clock

    def record(request: httpx.Request) -> None:
        if request.method != "GET" and not request.url.path.endswith("/access_tokens"):
            stamps.append((request.method, clock.now))

    app.transport.http.event_hooks["request"].append(record)
    return ReviewRunner(db, settings, app, DEPS, redis_client=client)


def add_reviews(db: Database, numbers: range) -> list[int]:
    with db.session() as s:
        tenant = Tenant(installation_id=INSTALLATION, account_login="octo", settings={})
        s.add(tenant)
        s.flush()
        rows = [
            Review(tenant_id=tenant.id, repository=REPO, pr_number=n, head_sha=HEAD, timings={})
            for n in numbers
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def add_pulls(fake: FakeGitHub, numbers: range) -> None:
    for n in numbers:
        fake.add_pull(
            REPO, n, head_sha=HEAD, files=[{"filename": "app.py", "status": "added", "patch": PATCH}]
        )


def writes(fake: FakeGitHub) -> list[Any]:
    return [c for c in fake.content_calls() if "access_tokens" not in c.path]


def setup(github_settings: Settings, max_write_wait: float = 3600) -> Settings:
    return github_settings.model_copy(update={"github_max_write_wait_seconds": max_write_wait})


def test_two_content_writes_per_review(
    github_settings: Settings, db: Database, fake_github: FakeGitHub, redis_client: redis.Redis
) -> None:
    settings = setup(github_settings)
    add_pulls(fake_github, range(1, 4))
    clock, stamps = FakeClock(), list[tuple[str, float]]()
    runner = worker(settings, db, redis_client, clock, stamps)
    for review_id in add_reviews(db, range(1, 4)):
        assert runner.run(review_id) == "completed"
    made = [(c.method, c.template) for c in writes(fake_github)]
    assert made == [("POST", CHECK_RUNS), ("POST", REVIEWS)] * 3
    for run in fake_github.repos[REPO].check_runs.values():
        assert run["status"] == "completed" and run["conclusion"] == "neutral" and "updates" not in run


def test_a_secondary_limit_answer_pauses_every_worker_and_loses_no_review(
    github_settings: Settings, db: Database, fake_github: FakeGitHub, redis_client: redis.Redis
) -> None:
    settings = setup(github_settings)
    add_pulls(fake_github, range(1, 3))
    first, second = add_reviews(db, range(1, 3))
    clock, stamps = FakeClock(), list[tuple[str, float]]()
    worker_a = worker(settings, db, redis_client, clock, stamps)
    worker_b = worker(settings, db, redis_client, clock, stamps)

    # Worker A's first write is refused with GitHub's secondary-limit answer.
    fake_github.fail_next(
        403, headers={"retry-after": "45"}, message="You have exceeded a secondary rate limit",
        method="POST", template=CHECK_RUNS,
    )  # fmt: skip
    assert worker_a.run(first) == "completed"
    assert 45.0 in clock.slept
    refused = [c for c in fake_github.calls if c.status == 403]
    assert len(refused) == 1
    # The pause is in Redis for the installation: worker B, which never saw the 403, holds off too (set
    # the clock back to the moment of the refusal to see it). Its first read would wait longer than
    # reads may wait in a thread, so the message goes back to the queue with the pause as its delay
    # (dramatiq's retry honours `retry_after`) before anything was analysed or asked of GitHub.
    pause = redis_client.get(f"reviewops:github:pause:{INSTALLATION}")
    assert pause is not None
    clock.now = float(pause) - 45
    sent_before = len([c for c in fake_github.calls if "access_tokens" not in c.path])
    with pytest.raises(TransientError) as info:
        worker_b.run(second)
    assert info.value.retry_after is not None and abs(info.value.retry_after - 45) < 0.01
    assert len([c for c in fake_github.calls if "access_tokens" not in c.path]) == sent_before
    clock.sleep(info.value.retry_after)  # the retry's delay
    assert worker_b.run(second) == "completed"
    # Nothing lost, nothing doubled: each review has its check run and its review.
    assert len(fake_github.repos[REPO].check_runs) == 2
    assert [len(fake_github.repos[REPO].reviews[n]) for n in (1, 2)] == [1, 1]
    with db.session() as s:
        statuses = s.execute(select(Review.status).order_by(Review.id)).scalars().all()
    assert statuses == ["completed", "completed"]


def test_200_reviews_in_a_minute_are_paced_under_80_writes_per_minute(
    github_settings: Settings, db: Database, fake_github: FakeGitHub, redis_client: redis.Redis
) -> None:
    settings = setup(github_settings)
    numbers = range(1, 201)
    add_pulls(fake_github, numbers)
    ids = add_reviews(db, numbers)
    clock, stamps = FakeClock(), list[tuple[str, float]]()
    start = clock.now
    runners = [worker(settings, db, redis_client, clock, stamps) for _ in range(2)]  # two workers, one budget
    for i, review_id in enumerate(ids):
        assert runners[i % 2].run(review_id) == "completed"
    content_times = sorted(t for _, t in stamps)
    assert len(content_times) == len(writes(fake_github)) == 400
    assert content_times[0] >= start
    busiest = max(bisect.bisect_right(content_times, t + 60 - 1e-6) - i for i, t in enumerate(content_times))
    assert busiest <= 80
    # Paced, not refused: everything was posted, at close to the cap (400 writes in about 5 minutes).
    assert [c for c in fake_github.calls if c.status in (403, 429)] == []
    assert content_times[-1] - content_times[0] < 6 * 60
