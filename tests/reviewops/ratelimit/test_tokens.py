"""The daily LLM token budget: a Redis counter per tenant and UTC day, against a live limit."""

from __future__ import annotations

import pytest
import redis

from reviewops.policy.store import DEFAULT_LIMITS_KEY, TenantLimits, tenant_limits_key
from reviewops.ratelimit import llm_allowed, record_tokens, tokens_used
from reviewops.ratelimit.tokens import COUNTER_TTL_SECONDS, tokens_key
from reviewops.telemetry import metrics


def test_budget_is_spent_then_refused(redis_client: redis.Redis) -> None:
    redis_client.hset(tenant_limits_key(5), mapping={"llm_tokens_per_day": 1000})
    assert llm_allowed(redis_client, 5)
    assert record_tokens(redis_client, 5, prompt=600, completion=300) == 900
    assert llm_allowed(redis_client, 5)
    refused_before = metrics.RATE_LIMITED.labels("llm_tokens")._value.get()
    record_tokens(redis_client, 5, prompt=100, completion=0)
    assert not llm_allowed(redis_client, 5)
    assert metrics.RATE_LIMITED.labels("llm_tokens")._value.get() == refused_before + 1
    assert tokens_used(redis_client, 5) == 1000
    assert llm_allowed(redis_client, 6)  # per tenant
    # Raised live: allowed again at once.
    redis_client.hset(tenant_limits_key(5), mapping={"llm_tokens_per_day": 5000})
    assert llm_allowed(redis_client, 5)


def test_counter_expires_and_metric_is_not_double_counted(redis_client: redis.Redis) -> None:
    # The LLM client counts reviewops_llm_tokens_total where tokens are spent; the budget counter must not
    # count them a second time.
    prompt_before = metrics.LLM_TOKENS.labels("prompt")._value.get()
    assert record_tokens(redis_client, 9, prompt=7, completion=3) == 10
    assert 0 < redis_client.ttl(tokens_key(9)) <= COUNTER_TTL_SECONDS
    assert metrics.LLM_TOKENS.labels("prompt")._value.get() == prompt_before
    with pytest.raises(ValueError, match="prompt=-1"):
        record_tokens(redis_client, 9, prompt=-1, completion=0)


def test_fallback_and_policy_default_apply(redis_client: redis.Redis) -> None:
    assert not llm_allowed(redis_client, 11, TenantLimits(llm_tokens_per_day=0))
    redis_client.hset(DEFAULT_LIMITS_KEY, mapping={"llm_tokens_per_day": 10})
    assert llm_allowed(redis_client, 11, TenantLimits(llm_tokens_per_day=0))
