"""Real PostgreSQL and Redis for the whole run (or the ones named by REVIEWOPS_TEST_*_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import text

from reviewops.db.migrate import upgrade
from reviewops.db.models import Base
from reviewops.db.session import Database
from reviewops.queue.broker import build_broker
from reviewops.settings import Settings
from tests.support.servers import RedisServer, postgres_server
from tests.support.webhooks import SECRET


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    given = os.environ.get("REVIEWOPS_TEST_DATABASE_URL")
    if given:
        yield given
        return
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | None]:
    if os.environ.get("REVIEWOPS_TEST_REDIS_URL"):
        yield None
        return
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer | None) -> str:
    return os.environ.get("REVIEWOPS_TEST_REDIS_URL") or (redis_server.url if redis_server else "")


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture
def db(migrated_postgres: str) -> Iterator[Database]:
    """A migrated PostgreSQL database, emptied before each test."""
    database = Database(migrated_postgres, pool_size=20)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(migrated_postgres: str, redis_url: str) -> Settings:
    return Settings(
        database_url=migrated_postgres,
        redis_url=redis_url,
        webhook_secrets=[SecretStr(SECRET)],
        admin_token=SecretStr("admin-token"),
        retry_min_backoff_seconds=0.05,
        retry_max_backoff_seconds=0.2,
    )


@pytest.fixture
def broker(redis_client: redis.Redis, settings: Settings) -> Iterator[dramatiq.Broker]:
    b = build_broker(settings.redis_url)
    yield b
    b.close()


@pytest.fixture
def worker(broker: dramatiq.Broker, settings: Settings, db: Database) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker consuming the real Redis queues in this process."""
    from worker.main import start_worker

    w = start_worker(broker, settings, db, threads=2)
    yield w
    w.stop(timeout=5000)


@pytest.fixture
def app(settings: Settings, db: Database, broker: dramatiq.Broker) -> Any:
    from api.main import create_app

    return create_app(settings, db=db, broker=broker)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def _tracing() -> Any:
    """One in-memory span exporter for the run (OpenTelemetry allows one global provider per process)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from reviewops.telemetry.tracing import setup_tracing

    exporter = InMemorySpanExporter()
    setup_tracing("reviewops-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_tracing: Any) -> Any:
    _tracing.clear()
    return _tracing


# --- fake GitHub (tests/support/fake_github.py) ---


@pytest.fixture(scope="session")
def github_app_key() -> tuple[str, str]:
    """A throw-away RSA key pair (private PEM, public PEM) for the test GitHub App."""
    from tests.support.github_app import generate_key_pair

    return generate_key_pair()


@pytest.fixture
def fake_github(github_app_key: tuple[str, str]) -> Iterator[Any]:
    """A real HTTP server playing GitHub; the test fails if any request or response broke the contract."""
    from tests.support.fake_github import FakeGitHub

    fake = FakeGitHub(app_id=4242, public_key_pem=github_app_key[1])
    yield fake
    fake.close()
    assert not fake.violations, "GitHub API contract violations:\n" + "\n".join(fake.violations)


@pytest.fixture
def github_settings(settings: Settings, fake_github: Any, github_app_key: tuple[str, str]) -> Settings:
    """`settings` with the GitHub App configured against the fake GitHub."""
    return settings.model_copy(
        update={
            "github_app_id": fake_github.app_id,
            "github_private_key": SecretStr(github_app_key[0]),
            "github_api_url": fake_github.url,
        }
    )
