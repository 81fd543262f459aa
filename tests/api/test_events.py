"""Server-Sent Events over real HTTP (uvicorn): snapshot first, then a published update, then heartbeats."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from reviewops.db.models import Review
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.events import publish_review_update
from tests.support.servers import free_port
from tests.support.tenants import seed_tenant
from tests.support.waiting import wait_until


@pytest.fixture
def server_url(settings: Any, db: Database, broker: Any) -> Iterator[str]:
    from api.main import create_app

    fast = {"sse_heartbeat_seconds": 0.3, "sse_key_recheck_seconds": 0.3}
    app = create_app(settings.model_copy(update=fast), db=db, broker=broker)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn started")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event name, data) per SSE event; heartbeat comments as ("heartbeat", None)."""
    name, data = "message", None
    for line in lines:
        if line.startswith(": heartbeat"):
            yield "heartbeat", None
        elif line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data = json.loads(line[len("data: ") :])
        elif line == "" and data is not None:
            yield name, data
            name, data = "message", None


def test_snapshot_then_update_then_heartbeat(
    server_url: str, db: Database, redis_client: redis.Redis
) -> None:
    alice = seed_tenant(db, 401, login="alice", reviews=2)
    bob = seed_tenant(db, 402, login="bob", reviews=1)
    with (
        httpx.Client(timeout=10) as http,
        http.stream("GET", f"{server_url}/api/v1/events", headers=alice.auth) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "RateLimit" in response.headers
        stream = events(response.iter_lines())
        name, snapshot = next(stream)
        assert name == "snapshot"
        assert [r["id"] for r in snapshot["reviews"]] == sorted(alice.review_ids, reverse=True)

        # Another tenant's update never reaches alice; her own does.
        other = Review(
            id=bob.review_ids[0], tenant_id=bob.tenant_id, repository="bob/repo", pr_number=1,
            head_sha="b" * 40, status="running", created_at=utcnow(), updated_at=utcnow(),
        )  # fmt: skip
        publish_review_update(redis_client, bob.tenant_id, other)
        mine = Review(id=alice.review_ids[0], tenant_id=alice.tenant_id, repository="alice/repo", pr_number=1,
                      head_sha="a" * 40, status="completed", findings_count=2, created_at=utcnow(),
                      updated_at=utcnow())  # fmt: skip
        publish_review_update(redis_client, alice.tenant_id, mine)
        name, update = next(e for e in stream if e[0] != "heartbeat")
        assert name == "review"
        assert update["id"] == alice.review_ids[0] and update["status"] == "completed"
        assert update["repository"] == "alice/repo"

        assert next(stream)[0] == "heartbeat"


def test_events_need_a_tenant_key(server_url: str) -> None:
    assert httpx.get(f"{server_url}/api/v1/events", timeout=5).status_code == 401


def test_a_stream_ends_when_its_key_is_revoked(server_url: str, db: Database) -> None:
    """Before issue 18 a stream kept delivering after its API key was revoked."""
    from reviewops.tenancy.apikeys import parse_key, revoke_key

    alice = seed_tenant(db, 403, login="alice", reviews=1)
    with (
        httpx.Client(timeout=10) as http,
        http.stream("GET", f"{server_url}/api/v1/events", headers=alice.auth) as response,
    ):
        stream = events(response.iter_lines())
        assert next(stream)[0] == "snapshot"
        assert next(stream)[0] == "heartbeat"  # still allowed: the stream goes on
        with db.session() as session:
            revoke_key(session, (parse_key(alice.key) or ("", ""))[0])
        rest = [name for name, _ in stream]  # ends: the iterator is exhausted when the server closes
    assert rest[-1] == "revoked"
