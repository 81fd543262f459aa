"""Per-tenant rate limits and quotas: GCRA in one Lua call, live limits from the policy store."""

from reviewops.ratelimit.gcra import Decision, LocalGcra, RedisGcra, gcra_step
from reviewops.ratelimit.headers import ratelimit_headers
from reviewops.ratelimit.limits import check_api, default_limits
from reviewops.ratelimit.reviews import schedule_review
from reviewops.ratelimit.tokens import llm_allowed, record_tokens, tokens_used

__all__ = [
    "Decision",
    "LocalGcra",
    "RedisGcra",
    "check_api",
    "default_limits",
    "gcra_step",
    "llm_allowed",
    "ratelimit_headers",
    "record_tokens",
    "schedule_review",
    "tokens_used",
]
