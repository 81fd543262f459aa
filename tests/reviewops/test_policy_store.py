import redis

from reviewops.policy import (
    PolicySnapshot,
    ReviewSettings,
    TenantLimits,
    read_generation,
    read_limits,
    read_review_settings,
    write_policy,
)
from reviewops.queue.backlog import queue_backlog

FALLBACK = TenantLimits(requests_per_minute=60, burst=10, reviews_per_hour=20, llm_tokens_per_day=1000)


def snapshot(generation: int, tenants: dict[int, dict[str, int]]) -> PolicySnapshot:
    return PolicySnapshot(
        generation=generation,
        policy="ns/default",
        default=TenantLimits(
            requests_per_minute=600, burst=100, reviews_per_hour=200, llm_tokens_per_day=2_000_000
        ),
        tenants=tenants,
        review=ReviewSettings(
            analyzers={"llm": False, "secrets": True}, severity_threshold="error", skip_drafts=False
        ),
    )


def test_no_policy_means_settings_defaults(redis_client: redis.Redis) -> None:
    assert read_limits(redis_client, 7, FALLBACK) == FALLBACK
    assert read_review_settings(redis_client) is None and read_generation(redis_client) is None


def test_overrides_layer_over_policy_default(redis_client: redis.Redis) -> None:
    write_policy(redis_client, snapshot(3, {1234: {"requests_per_minute": 6000, "reviews_per_hour": 2000}}))
    assert read_generation(redis_client) == 3
    assert read_limits(redis_client, 1234, FALLBACK) == TenantLimits(6000, 100, 2000, 2_000_000)
    assert read_limits(redis_client, 99, FALLBACK) == TenantLimits(600, 100, 200, 2_000_000)
    review = read_review_settings(redis_client)
    assert review == ReviewSettings({"llm": False, "secrets": True}, "error", False)


def test_removed_tenants_lose_their_overrides(redis_client: redis.Redis) -> None:
    write_policy(redis_client, snapshot(1, {1: {"burst": 5}, 2: {"burst": 6}}))
    write_policy(redis_client, snapshot(2, {2: {"burst": 7}}))
    assert read_limits(redis_client, 1, FALLBACK).burst == 100
    assert read_limits(redis_client, 2, FALLBACK).burst == 7
    assert not redis_client.exists("reviewops:limits:tenant:1")


def test_backlog_counts_hashes_not_lists(redis_client: redis.Redis) -> None:
    redis_client.hset("dramatiq:reviews.msgs", mapping={"a": "1", "b": "2", "c": "3"})
    redis_client.rpush("dramatiq:reviews", "a")  # two were prefetched: LLEN would say 1
    redis_client.hset("dramatiq:reviews.DQ.msgs", mapping={"d": "4"})
    assert queue_backlog(redis_client, "reviews") == 4


def test_retry_settings_round_trip_and_removal(redis_client: redis.Redis) -> None:
    from dataclasses import replace

    from reviewops.policy import RetrySettings, read_retry_settings

    assert read_retry_settings(redis_client) == RetrySettings()
    with_retries = replace(snapshot(1, {}), retries=RetrySettings(max_retries=2, max_backoff_seconds=30.0))
    write_policy(redis_client, with_retries)
    assert read_retry_settings(redis_client) == RetrySettings(max_retries=2, max_backoff_seconds=30.0)
    write_policy(redis_client, snapshot(2, {}))  # the policy no longer sets them: the settings apply again
    assert read_retry_settings(redis_client) == RetrySettings()
