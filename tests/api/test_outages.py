"""Every REST endpoint answers 503 problem JSON with Retry-After while PostgreSQL or Redis is really down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from reviewops.db.migrate import upgrade
from reviewops.db.session import Database
from reviewops.queue.broker import build_broker
from reviewops.settings import Settings
from tests.support.servers import PostgresServer, RedisServer
from tests.support.tenants import ADMIN, seed_tenant
from tests.support.webhooks import SECRET

# Never touch a store, or report its absence themselves (/ready), or never end (the event stream).
EXEMPT = {"/health", "/metrics", "/ready", "/api/v1/events"}


@pytest.fixture
def own_servers() -> Iterator[tuple[PostgresServer, RedisServer]]:
    """A PostgreSQL and a Redis of this test's own, so stopping them disturbs no other test."""
    postgres, redis_server = PostgresServer(), RedisServer()
    postgres.start()
    redis_server.start()
    try:
        yield postgres, redis_server
    finally:
        postgres.close()
        redis_server.close()


def operations(app: Any) -> list[tuple[str, str]]:
    """Every documented (method, path), its path parameters filled in."""
    found = []
    for path, methods in app.openapi()["paths"].items():
        if path in EXEMPT:
            continue
        for method in methods:
            found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


def call(client: TestClient, method: str, path: str, auth: dict[str, str]) -> Any:
    headers = ADMIN if "/admin" in path or path.startswith("/webhooks/github/deliveries") else auth
    return client.request(
        method, path, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None
    )


def assert_unavailable(response: Any, where: str) -> None:
    assert response.status_code == 503, f"{where}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"] == "application/problem+json", where
    assert int(response.headers["retry-after"]) > 0, where


@pytest.mark.parametrize("down", ["postgresql", "redis"])
def test_every_endpoint_answers_503_while_a_store_is_down(
    own_servers: tuple[PostgresServer, RedisServer], down: str
) -> None:
    postgres, redis_server = own_servers
    upgrade(postgres.url)
    settings = Settings(
        database_url=postgres.url, redis_url=redis_server.url, webhook_secrets=[SecretStr(SECRET)],
        admin_token=SecretStr("admin-token"),
    )  # fmt: skip
    db = Database(postgres.url)
    broker: dramatiq.Broker = build_broker(redis_server.url)
    tenant = seed_tenant(db, 901, login="outage", reviews=1)
    app = create_app(settings, db=db, broker=broker)
    answered: dict[str, int] = {}
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            (postgres if down == "postgresql" else redis_server).stop()
            for method, path in operations(app):
                if path == "/webhooks/github":
                    continue  # its own outage answers are tested in test_webhook_ingress.py
                response = call(client, method, path, tenant.auth)
                where = f"{method} {path}"
                answered[where] = response.status_code
                # A write without its body or confirmation is refused (400, 422) before any store is asked; whatever
                # reaches a store that is down answers 503.
                reads = method == "GET" or response.status_code not in (400, 422)
                if (down == "postgresql" and reads) or response.status_code >= 500:
                    assert_unavailable(response, where)
    finally:
        broker.close()
        db.dispose()
    assert len(answered) >= 20
    if down == "redis":  # the endpoints that need Redis say so; the others keep answering
        assert answered["GET /api/v1/reviews"] == 503  # the tenant's rate limit lives in Redis
        assert answered["GET /api/v1/admin/tenants/1/limits"] == 503  # documented 503, answered 500 before
