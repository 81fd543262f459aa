"""The tenant API's rate limit: live limits from Redis, the draft's headers, 429s, two app instances."""

from __future__ import annotations

import re
import threading
from typing import Any

import redis
from fastapi.testclient import TestClient

from reviewops.db.session import Database
from reviewops.policy.store import DEFAULT_LIMITS_KEY, tenant_limits_key
from tests.support.tenants import seed_tenant

# RFC 8941 structured fields: a List of Items, each an sf-string with Parameters.
SF_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'
SF_KEY = r"[a-z*][a-z0-9_\-.*]*"
SF_BARE = rf"(?:-?\d{{1,15}}(?:\.\d{{1,3}})?|{SF_STRING}|\?[01]|[A-Za-z*][!#$%&'*+\-.^_`|~:/\w]*)"
SF_MEMBER = rf"{SF_STRING}(?:;{SF_KEY}(?:={SF_BARE})?)*"
SF_LIST = re.compile(rf"^{SF_MEMBER}(?:[ \t]*,[ \t]*{SF_MEMBER})*$")


def params(value: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in value.split(";")[1:])


def test_headers_match_the_draft_syntax(client: TestClient, db: Database, redis_client: redis.Redis) -> None:
    tenant = seed_tenant(db, 101)
    response = client.get("/api/v1/reviews", headers=tenant.auth)
    assert response.status_code == 200
    policy, state = response.headers["RateLimit-Policy"], response.headers["RateLimit"]
    assert SF_LIST.match(policy), policy
    assert SF_LIST.match(state), state
    assert policy.startswith('"default";') and state.startswith('"default";')
    assert params(policy) == {"q": "600", "w": "60"}
    assert set(params(state)) == {"r", "t"}
    assert int(params(state)["r"]) == 99  # burst 100, one used
    assert int(params(state)["t"]) >= 0
    assert "Retry-After" not in response.headers


def test_over_the_limit_answers_429_with_retry_after(
    client: TestClient, db: Database, redis_client: redis.Redis
) -> None:
    tenant = seed_tenant(db, 102)
    redis_client.hset(tenant_limits_key(102), mapping={"requests_per_minute": 6, "burst": 2})
    codes = [client.get("/api/v1/reviews", headers=tenant.auth).status_code for _ in range(2)]
    assert codes == [200, 200]
    denied = client.get("/api/v1/reviews", headers=tenant.auth)
    assert denied.status_code == 429
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["status"] == 429 and "6 requests per minute" in denied.json()["detail"]
    assert int(denied.headers["Retry-After"]) >= 1
    assert SF_LIST.match(denied.headers["RateLimit"]) and params(denied.headers["RateLimit"])["r"] == "0"
    assert params(denied.headers["RateLimit-Policy"]) == {"q": "6", "w": "60"}
    # Error responses of the tenant API carry the headers too.
    missing = client.get("/api/v1/reviews/999999", headers=tenant.auth)
    assert missing.status_code == 429 and "RateLimit" in missing.headers


def test_limits_changed_in_redis_take_effect_on_the_next_request(
    client: TestClient, db: Database, redis_client: redis.Redis
) -> None:
    tenant = seed_tenant(db, 103)
    redis_client.hset(tenant_limits_key(103), mapping={"requests_per_minute": 1, "burst": 1})
    assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 200
    assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 429
    # The operator raises the limit: the very next request sees it, no restart and no cache.
    redis_client.hset(tenant_limits_key(103), mapping={"requests_per_minute": 6000, "burst": 50})
    allowed = client.get("/api/v1/reviews", headers=tenant.auth)
    assert allowed.status_code == 200
    assert params(allowed.headers["RateLimit-Policy"])["q"] == "6000"
    # The policy default applies once the tenant override is gone.
    redis_client.delete(tenant_limits_key(103))
    redis_client.hset(DEFAULT_LIMITS_KEY, mapping={"requests_per_minute": 1234, "burst": 1000})
    assert (
        params(client.get("/api/v1/reviews", headers=tenant.auth).headers["RateLimit-Policy"])["q"] == "1234"
    )


def test_other_tenants_are_not_affected(client: TestClient, db: Database, redis_client: redis.Redis) -> None:
    noisy, quiet = seed_tenant(db, 104, login="noisy"), seed_tenant(db, 105, login="quiet")
    redis_client.hset(tenant_limits_key(104), mapping={"requests_per_minute": 1, "burst": 1})
    client.get("/api/v1/reviews", headers=noisy.auth)
    assert client.get("/api/v1/reviews", headers=noisy.auth).status_code == 429
    assert client.get("/api/v1/reviews", headers=quiet.auth).status_code == 200


def test_two_app_instances_never_exceed_the_limit_together(
    settings: Any, db: Database, broker: Any, redis_client: redis.Redis
) -> None:
    from api.main import create_app

    tenant = seed_tenant(db, 106)
    burst = 25
    # A tiny refill rate (1 per hour): what is allowed is exactly the burst, whatever the interleaving.
    redis_client.hset(tenant_limits_key(106), mapping={"requests_per_minute": 1, "burst": burst})
    apps = [create_app(settings, db=db, broker=broker) for _ in range(2)]
    codes: list[int] = []
    lock = threading.Lock()

    def hammer(c: TestClient) -> None:
        for _ in range(30):
            code = c.get("/api/v1/usage", headers=tenant.auth).status_code
            with lock:
                codes.append(code)

    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        threads = [threading.Thread(target=hammer, args=((first, second)[i % 2],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(codes) == 120
    assert set(codes) == {200, 429}
    assert codes.count(200) <= burst + 1  # + at most one interval regained while the test runs
    assert codes.count(200) >= burst
