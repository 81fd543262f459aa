"""Fuzz every documented operation with schemathesis (in-process ASGI): no input makes the API answer 5xx,
and every answer is documented (status, media type, schema)."""

from __future__ import annotations

from typing import Any

import redis
import schemathesis
from hypothesis import HealthCheck, given, settings

from reviewops.db.session import Database
from reviewops.policy.store import DEFAULT_LIMITS_KEY
from tests.support.tenants import ADMIN, seed_tenant

# The event stream never ends by design; it has its own test (test_events.py).
SKIP = {("GET", "/api/v1/events")}
EXAMPLES = 12
CONFORMANCE = [
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


def auth_for(path: str, tenant_auth: dict[str, str]) -> dict[str, str]:
    if path.startswith("/api/v1/admin") or path.startswith("/webhooks/github/deliveries"):
        return ADMIN
    if path.startswith("/api/v1/"):
        return tenant_auth
    return {}


def fuzz(operation: Any, headers: dict[str, str], statuses: set[int]) -> list[str]:
    """Call one operation with generated inputs; the 5xx answers, described."""
    found: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        where = f"{operation.method.upper()} {case.formatted_path}"
        if response.status_code >= 500:
            found.append(f"{where} -> {response.status_code}: {response.text[:300]}")
        try:  # every answer documented, with its media type and schema (issue 18)
            case.validate_response(response, checks=CONFORMANCE, headers=headers)
        except AssertionError as exc:
            found.append(f"{where} -> {response.status_code} breaks the description: {str(exc)[:400]}")

    run()
    return found


def test_no_operation_answers_a_server_error(app: Any, db: Database, redis_client: redis.Redis) -> None:
    tenant = seed_tenant(db, 501, login="fuzz", reviews=3)
    seed_tenant(db, 502, login="other", reviews=2)
    # Generous limits, so requests reach the handlers instead of stopping at 429.
    redis_client.hset(DEFAULT_LIMITS_KEY, mapping={"requests_per_minute": 10**9, "burst": 10**6})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    tenant_paths = {op.path for op in operations if op.path.startswith("/api/v1/") and "admin" not in op.path}
    assert {"/api/v1/reviews", "/api/v1/findings", "/api/v1/usage"} <= tenant_paths
    failures: list[str] = []
    statuses: set[int] = set()
    tested = 0
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        failures += fuzz(operation, auth_for(operation.path, tenant.auth), statuses)
        tested += 1
    assert tested >= 15
    assert {200, 404, 422} <= statuses, statuses  # inputs reached the handlers, not only the auth checks
    assert not failures, "\n".join(failures[:10])
