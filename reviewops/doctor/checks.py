"""The doctor's checks of the process's own parts: configuration, database, Redis, workers and the LLM endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import redis as redis_lib
import sqlalchemy as sa

from reviewops import redis_client
from reviewops.doctor import Result
from reviewops.settings import Settings

TIMEOUT_SECONDS = 10.0


def configuration(settings: Settings) -> list[Result]:
    """Settings already validated (or the command would not get here); what is missing for production."""
    mode = "embedded (SQLite, in-process broker)" if settings.embedded else "PostgreSQL and Redis"
    results = [Result("configuration", True, f"settings valid; {mode}")]
    if not settings.webhook_secrets and not settings.embedded:
        results.append(
            Result(
                "webhook secret",
                False,
                "REVIEWOPS_WEBHOOK_SECRETS is empty: every webhook would be refused",
                "set it to the App's webhook secret (chart: secrets.webhookSecrets or the Secret's "
                "`webhook-secrets` key)",
            )
        )
    return results


def database(settings: Settings) -> Result:
    """Reachable, and at the newest schema (the same head `reviewops migrate` upgrades to)."""
    from reviewops.db.migrate import current_heads

    if settings.database_url.startswith("sqlite:///"):
        path = settings.database_url.removeprefix("sqlite:///")
        if path and path != ":memory:" and not Path(path).is_file():
            return Result(
                "database",
                False,
                f"no SQLite database at {path} yet",
                "run `reviewops migrate` (`reviewops serve` does at start) or set REVIEWOPS_DATABASE_URL",
            )
    engine = sa.create_engine(settings.database_url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            try:
                current = {row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
            except sa.exc.DBAPIError:
                current = set()
    except sa.exc.SQLAlchemyError as exc:
        return Result(
            "database",
            False,
            f"unreachable ({type(exc).__name__})",
            "check REVIEWOPS_DATABASE_URL (host, port, user, password, sslmode) and that the server is up",
        )
    finally:
        engine.dispose()
    heads = set(current_heads(settings.database_url))
    if current != heads:
        return Result(
            "database",
            False,
            f"schema at {sorted(current) or 'nothing'}, code expects {sorted(heads)}",
            "run `reviewops migrate` (the chart runs it as a pre-upgrade Job: `helm upgrade` again)",
        )
    return Result("database", True, f"reachable, schema at head {sorted(heads)[0]}")


def _redis(settings: Settings) -> redis_lib.Redis:
    return redis_client.connect(settings.redis_url or "")


def redis_reachable(settings: Settings) -> Result:
    if settings.embedded:
        return Result("redis", True, "not used (embedded: in-process broker)")
    client = _redis(settings)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        return Result(
            "redis", False, f"unreachable ({type(exc).__name__})", "check REVIEWOPS_REDIS_URL and the server"
        )
    finally:
        client.close()
    return Result("redis", True, "reachable")


def workers(settings: Settings, namespace: str = "dramatiq") -> Result:
    """Brokers that refreshed their dramatiq heartbeat within the dead-worker timeout (workers refresh it
    every few seconds while they wait for work; the API's enqueues refresh it too, so 0 means no worker)."""
    if settings.embedded:
        return Result("workers", True, "in-process (embedded `reviewops serve`)")
    client = _redis(settings)
    since_ms = (time.time() - settings.worker_heartbeat_timeout_seconds) * 1000
    try:
        seen = client.zcount(f"{namespace}:__heartbeats__", since_ms, "+inf")
    except redis_lib.RedisError as exc:
        return Result("workers", False, f"cannot read heartbeats ({type(exc).__name__})", "fix Redis first")
    finally:
        client.close()
    if not seen:
        return Result(
            "workers",
            False,
            f"no worker heartbeat in the last {settings.worker_heartbeat_timeout_seconds:.0f}s",
            "start `reviewops worker` (chart: `kubectl get pods -l app.kubernetes.io/component=worker`, "
            "then its logs)",
        )
    return Result("workers", True, f"{seen} broker(s) heartbeating")


def llm(settings: Settings) -> Result:
    """A minimal chat call asking for `json_object` answers, the form the reviewer uses."""
    if settings.mock_llm:
        return Result("llm", True, "mock LLM (REVIEWOPS_MOCK_LLM): no endpoint to check")
    if not settings.llm_model:
        return Result("llm", True, "LLM reviewer off (REVIEWOPS_LLM_MODEL unset); static analyzers only")
    base = (settings.llm_base_url or "https://api.openai.com/v1").rstrip("/")
    headers = {}
    if settings.llm_api_key:
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    body = {
        "model": settings.llm_model,
        "messages": [{"role": "user", "content": 'Answer with the JSON object {"ok": true}.'}],
        "response_format": {"type": "json_object"},
        "max_tokens": 16,
    }
    try:
        response = httpx.post(
            f"{base}/chat/completions", json=body, headers=headers, timeout=settings.llm_timeout_seconds
        )
    except httpx.HTTPError as exc:
        return Result(
            "llm",
            False,
            f"{base} unreachable ({type(exc).__name__})",
            "check REVIEWOPS_LLM_BASE_URL (it ends in /v1) and that the server is up and reachable from here",
        )
    if response.status_code in (401, 403):
        return Result(
            "llm", False, f"{base} refused the key ({response.status_code})", "check REVIEWOPS_LLM_API_KEY"
        )
    if response.status_code == 404:
        return Result(
            "llm",
            False,
            f"{base}/chat/completions or model {settings.llm_model!r} not found",
            "check REVIEWOPS_LLM_BASE_URL (OpenAI-compatible, ending in /v1) and REVIEWOPS_LLM_MODEL",
        )
    if response.status_code >= 400:
        return Result(
            "llm",
            False,
            f"{base} answered {response.status_code} to a `json_object` request",
            'use a server or model that accepts response_format {"type": "json_object"} (vLLM, Ollama, '
            "llama.cpp, OpenAI do)",
        )
    try:
        content = response.json()["choices"][0]["message"]["content"]
        json.loads(content)
    except (ValueError, KeyError, IndexError, TypeError):
        return Result(
            "llm",
            False,
            f"{base} answered, but not with a JSON object",
            "use a model that honours response_format json_object",
        )
    return Result("llm", True, f"{base} answers `json_object` chat completions ({settings.llm_model})")
