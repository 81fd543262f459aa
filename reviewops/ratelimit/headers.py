"""IETF draft-ietf-httpapi-ratelimit-headers, structured-field form.

    RateLimit-Policy: "default";q=600;w=60
    RateLimit: "default";r=99;t=1

q is the requests per minute in force and w the window; r is how many requests could be sent right
now (GCRA: at most the burst) and t the seconds until the full burst is back. On a 429, Retry-After
says when the next request is allowed.
"""

from __future__ import annotations

import math

from reviewops.ratelimit.gcra import Decision

POLICY_NAME = "default"


def ratelimit_headers(decision: Decision) -> dict[str, str]:
    headers = {
        "RateLimit-Policy": f'"{POLICY_NAME}";q={decision.rate};w={math.ceil(decision.period)}',
        "RateLimit": f'"{POLICY_NAME}";r={max(decision.remaining, 0)};t={math.ceil(decision.reset)}',
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(math.ceil(decision.retry_after), 1))
    return headers
