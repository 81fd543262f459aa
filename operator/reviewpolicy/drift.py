"""What in Redis differs from the policy the spec describes: the check behind the operator's repairs.

The operator used to write the policy once per generation and trust the status afterwards, so a flushed
or restarted Redis (no persistence) left the API and workers on their built-in defaults while
`RateLimitsApplied` stayed True. Each poll now reads back the policy's keys (one pipelined round trip)
and names what is missing or foreign; the caller rewrites the whole snapshot, which is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from reviewops.policy.store import (
    DEFAULT_LIMITS_KEY,
    META_KEY,
    REVIEW_SETTINGS_KEY,
    TENANT_SET_KEY,
    PolicySnapshot,
    tenant_limits_key,
)


@dataclass(frozen=True)
class Drift:
    """`problems` to repair by rewriting; `owner` set when another policy's snapshot is in force."""

    problems: tuple[str, ...] = ()
    owner: str | None = None

    @property
    def in_sync(self) -> bool:
        return not self.problems and self.owner is None


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def check(client: redis.Redis, snapshot: PolicySnapshot) -> Drift:
    """Compare Redis with `snapshot` (raises redis.RedisError when Redis cannot be read)."""
    overridden = [tid for tid, overrides in snapshot.tenants.items() if overrides]
    pipe = client.pipeline(transaction=False)
    pipe.hmget(META_KEY, ["generation", "policy"])
    pipe.exists(DEFAULT_LIMITS_KEY)
    pipe.exists(REVIEW_SETTINGS_KEY)
    pipe.scard(TENANT_SET_KEY)
    for tenant in overridden:
        pipe.exists(tenant_limits_key(tenant))
    (generation, policy), has_default, has_review, tenant_count, *tenant_keys = pipe.execute()
    generation, policy = _text(generation), _text(policy)
    if generation is None:
        return Drift(("no policy in Redis (flushed, restarted without persistence, or never written)",))
    if policy is not None and policy != snapshot.policy:
        return Drift(owner=policy)
    problems: list[str] = []
    if generation != str(snapshot.generation):
        problems.append(f"Redis holds generation {generation}, the spec is generation {snapshot.generation}")
    if not has_default:
        problems.append("default limits missing")
    if not has_review:
        problems.append("review settings missing")
    if int(tenant_count) != len(snapshot.tenants):
        problems.append(f"{tenant_count} tenant override(s) listed, the spec has {len(snapshot.tenants)}")
    missing = [str(t) for t, present in zip(overridden, tenant_keys, strict=True) if not present]
    if missing:
        problems.append("limits of tenant(s) " + ", ".join(missing) + " missing")
    return Drift(tuple(problems))
