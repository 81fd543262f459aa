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


def test_counter_expires_and_counts_metrics(redis_client: redis.Redis) -> None:
    prompt_before = metrics.LLM_TOKENS.labels("prompt")._value.get()
    record_tokens(redis_client, 9, prompt=7, completion=3)
    assert 0 < redis_client.ttl(tokens_key(9)) <= COUNTER_TTL_SECONDS
    assert metrics.LLM_TOKENS.labels("prompt")._value.get() == prompt_before + 7
    with pytest.raises(ValueError, match="prompt=-1"):
        record_tokens(redis_client, 9, prompt=-1, completion=0)


def test_fallback_and_policy_default_apply(redis_client: redis.Redis) -> None:
    assert not llm_allowed(redis_client, 11, TenantLimits(llm_tokens_per_day=0))
    redis_client.hset(DEFAULT_LIMITS_KEY, mapping={"llm_tokens_per_day": 10})
    assert llm_allowed(redis_client, 11, TenantLimits(llm_tokens_per_day=0))


def test_review_gate_notes_the_skipped_llm(redis_client: redis.Redis) -> None:
    from reviewops.db.models import Review
    from reviewops.ratelimit.reviews import LLM_BUDGET_NOTE, llm_budget_gate

    review = Review(timings={})
    redis_client.hset(tenant_limits_key(12), mapping={"llm_tokens_per_day": 10})
    assert llm_budget_gate(redis_client, 12, review) and review.timings == {}
    record_tokens(redis_client, 12, 10, 0)
    assert not llm_budget_gate(redis_client, 12, review)
    assert review.timings["notes"] == [LLM_BUDGET_NOTE]
    assert llm_budget_gate(None, 12, review)  # embedded default: no budget store, no gate
