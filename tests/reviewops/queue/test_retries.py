"""Retries by error class: a rate limit with a known end is a deferral that does not use up the retries."""

from __future__ import annotations

import threading

import dramatiq
import pytest

from reviewops.errors import TransientError
from reviewops.queue.retries import ClassifiedRetries
from tests.support.waiting import wait_until


def run_actor(
    broker: dramatiq.Broker, fails: list[Exception]
) -> tuple[list[dict[str, object]], threading.Event]:
    """An actor (max_retries=1, tiny backoff) that raises `fails` one per attempt, then succeeds."""
    seen: list[dict[str, object]] = []
    done = threading.Event()

    def flaky() -> None:
        message = dramatiq.middleware.CurrentMessage.get_current_message()
        assert message is not None
        seen.append(dict(message.options))
        if fails:
            raise fails.pop(0)
        done.set()

    actor = dramatiq.actor(
        broker=broker, actor_name="flaky", queue_name="reviews", max_retries=1, min_backoff=10, max_backoff=20
    )(flaky)
    actor.send()
    return seen, done


@pytest.fixture
def running(broker: dramatiq.Broker) -> dramatiq.Broker:
    assert any(isinstance(m, ClassifiedRetries) for m in broker.middleware)
    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    return broker


def test_rate_limit_deferrals_do_not_use_up_the_retries(running: dramatiq.Broker) -> None:
    # Five rate-limit waits and one real failure: more than max_retries=1 attempts, and it still succeeds.
    fails: list[Exception] = [TransientError("GitHub pacing", retry_after=0.01) for _ in range(5)]
    fails.insert(2, TransientError("GitHub 502"))
    seen, done = run_actor(running, fails)
    worker = dramatiq.Worker(running, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        wait_until(done.is_set, timeout=60, what="the deferred message to succeed")
    finally:
        worker.stop(timeout=5000)
    assert len(seen) == 7
    assert seen[-1]["deferrals"] == 5 and seen[-1]["retries"] == 1


def test_an_ordinary_transient_failure_still_runs_out_of_retries(running: dramatiq.Broker) -> None:
    fails: list[Exception] = [TransientError("GitHub 502") for _ in range(3)]
    seen, done = run_actor(running, fails)
    worker = dramatiq.Worker(running, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        wait_until(lambda: len(seen) >= 2, timeout=60, what="two attempts")
        worker.join()
    finally:
        worker.stop(timeout=5000)
    assert len(seen) == 2 and not done.is_set()  # max_retries=1: the first try and one retry, then dead
