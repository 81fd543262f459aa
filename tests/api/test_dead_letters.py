"""Admin API of the dead-letter store: auth, filters, pagination, replay, purge, audit, problem JSON."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
import redis
from sqlalchemy import select

from reviewops.db.models import AuditLog, DeadLetter
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from tests.support.faults import bulk_dead_letters

AUTH = {"Authorization": "Bearer admin-token"}
BASE = "/api/v1/admin/dead-letters"


def audit_actions(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def test_every_endpoint_needs_the_admin_token(client: Any) -> None:
    for method, url in (("GET", BASE), ("GET", f"{BASE}/1"), ("POST", f"{BASE}/replay"), ("DELETE", BASE)):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = client.request(method, url, headers=headers, json={} if method == "POST" else None)
            assert response.status_code == 401, (method, url)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == 401


def test_list_filters_and_pages(client: Any, db: Database) -> None:
    old = utcnow() - timedelta(hours=3)
    first = bulk_dead_letters(db, 3, tenant_id=5, failed_at=old)
    bulk_dead_letters(db, 2, tenant_id=6)
    page = client.get(BASE, params={"tenant": 5, "limit": 2}, headers=AUTH).json()
    assert page["total"] == 3 and page["limit"] == 2 and [i["id"] for i in page["items"]] == first[:2]
    rest = client.get(BASE, params={"tenant": 5, "limit": 2, "offset": 2}, headers=AUTH).json()
    assert [i["id"] for i in rest["items"]] == first[2:]
    assert client.get(BASE, params={"older_than": "1h"}, headers=AUTH).json()["total"] == 3
    assert client.get(BASE, headers=AUTH).json()["total"] == 5
    assert "traceback" not in page["items"][0] or page["items"][0]["traceback"] is None

    one = client.get(f"{BASE}/{first[0]}", headers=AUTH)
    assert one.status_code == 200
    assert one.json()["traceback"] == "Traceback ..." and one.json()["tenant_id"] == 5


def test_empty_filter_strings_mean_no_filter(client: Any, db: Database) -> None:
    """`?error_type=&older_than=&queue=&state=` (a URL template's blanks) are allowed by the schema and mean
    the filter is not set: the same answer as no parameters, not a 422."""
    bulk_dead_letters(db, 2, tenant_id=5)
    blank = {"error_type": "", "older_than": "", "queue": "", "state": ""}
    listed = client.get(BASE, params=blank, headers=AUTH)
    assert listed.status_code == 200 and listed.json()["total"] == 2
    assert listed.json() == client.get(BASE, headers=AUTH).json()
    purged = client.delete(BASE, params={**blank, "tenant": 5, "confirm": "true"}, headers=AUTH)
    assert purged.status_code == 200 and purged.json() == {"deleted": 2}


def test_bad_filters_and_unknown_ids_are_problems(client: Any) -> None:
    bad = client.get(BASE, params={"older_than": "10x"}, headers=AUTH)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["detail"].startswith("older_than:")
    wrong_type = client.get(BASE, params={"error_type": "fatal"}, headers=AUTH)
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"].startswith("error_type:")
    bad_rate = client.post(f"{BASE}/replay", json={"rate": "fast"}, headers=AUTH)
    assert bad_rate.status_code == 422 and "rate" in bad_rate.json()["detail"]
    missing = client.get(f"{BASE}/999", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")


def test_replay_dry_run_then_replay(client: Any, db: Database, redis_client: redis.Redis) -> None:
    ids = bulk_dead_letters(db, 3, tenant_id=9)
    bulk_dead_letters(db, 1, tenant_id=10)
    dry = client.post(f"{BASE}/replay", json={"tenant": 9, "dry_run": True}, headers=AUTH)
    assert dry.status_code == 200
    assert dry.json()["matched"] == 3 and dry.json()["replayed"] == 0
    assert sorted(dry.json()["dead_letter_ids"]) == sorted(ids)
    assert redis_client.hlen("dramatiq:reviews.replay.msgs") == 0

    done = client.post(f"{BASE}/replay", json={"tenant": 9, "result_key": "api-1"}, headers=AUTH).json()
    assert (done["replayed"], done["skipped"], done["failed"]) == (3, 0, 0)
    assert redis_client.hlen("dramatiq:reviews.replay.msgs") == 3
    stored = json.loads(redis_client.get("reviewops:replay-results:api-1") or b"{}")
    assert stored["replayed"] == 3 and stored["replay_id"] == done["replay_id"]
    again = client.post(f"{BASE}/replay", json={"tenant": 9}, headers=AUTH).json()
    assert again["replayed"] == 0
    assert audit_actions(db) == ["dlq.replay.dry_run", "dlq.replay", "dlq.replay"]
    assert redis_client.get("reviewops:dead-letters:pending") == b"1"


def test_purge_needs_confirmation(client: Any, db: Database) -> None:
    bulk_dead_letters(db, 2, tenant_id=3)
    keep = bulk_dead_letters(db, 1, tenant_id=4)
    refused = client.delete(BASE, params={"tenant": 3}, headers=AUTH)
    assert refused.status_code == 400 and refused.json()["detail"].startswith("confirm:")
    purged = client.delete(BASE, params={"tenant": 3, "confirm": "true"}, headers=AUTH)
    assert purged.status_code == 200 and purged.json() == {"deleted": 2}
    with db.session() as s:
        assert list(s.execute(select(DeadLetter.id)).scalars()) == keep
    assert audit_actions(db) == ["dlq.purge"]


def test_metrics_expose_queue_and_dead_letter_gauges(client: Any, db: Database, broker: Any) -> None:
    from reviewops.queue.broker import enqueue_delivery

    bulk_dead_letters(db, 2, error_type="permanent")
    enqueue_delivery(broker, 1)
    enqueue_delivery(broker, 2, queue="reviews.replay")
    broker.enqueue(
        dramatiq.Message(
            queue_name="reviews", actor_name="process_delivery", args=(3,), kwargs={}, options={},
            message_timestamp=int((utcnow() - timedelta(minutes=5)).timestamp() * 1000),
        ),
        delay=1,
    )  # fmt: skip
    # A review held by its tenant's hourly limit: older, but not due for an hour, so it is not late work.
    broker.enqueue(
        dramatiq.Message(
            queue_name="reviews", actor_name="process_delivery", args=(4,), kwargs={}, options={},
            message_timestamp=int((utcnow() - timedelta(hours=2)).timestamp() * 1000),
        ),
        delay=3_600_000,
    )  # fmt: skip
    time.sleep(0.01)  # the 1 ms delay has passed: that message is due
    text = client.get("/metrics").text
    assert 'reviewops_queue_depth{queue="reviews"} 3.0' in text
    assert 'reviewops_queue_delayed_messages{queue="reviews"} 1.0' in text
    assert 'reviewops_queue_depth{queue="reviews.replay"} 1.0' in text
    assert 'reviewops_dead_letters{error_type="permanent",queue="reviews"} 2.0' in text
    assert 'reviewops_dead_letters{error_type="transient",queue="reviews"} 0.0' in text
    age = next(
        line for line in text.splitlines()
        if line.startswith('reviewops_queue_oldest_message_age_seconds{queue="reviews"}')
    )  # fmt: skip
    assert 300 <= float(age.rsplit(" ", 1)[1]) < 400


def test_out_of_range_ids_are_422_not_500(client: Any) -> None:
    """Found by the schemathesis fuzz run: an id beyond bigint reached PostgreSQL and answered 500."""
    auth = {"Authorization": "Bearer admin-token"}
    huge = "99999999999999999999"
    for url in (f"/api/v1/admin/dead-letters/{huge}", f"/api/v1/admin/dead-letters?tenant={huge}"):
        response = client.get(url, headers=auth)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("params", [{"offset": 2**63}, {"limit": 2**63}])
def test_numbers_past_bigint_are_422_not_500(client: Any, db: Database, params: dict[str, int]) -> None:
    """The OpenAPI fuzzer found `?offset=9223372036854775808` answered 500 ("bigint out of range")."""
    call = client.get if "offset" in params else client.delete  # listing; purge takes a limit
    response = call(BASE, params={**params, "confirm": "true"}, headers=AUTH)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_nul_in_a_string_parameter_is_a_4xx_not_500(client: Any, db: Database, method: str) -> None:
    """PostgreSQL text cannot hold NUL: `?queue=%00` was a 500 (found by the OpenAPI fuzzer). It is now
    refused like every text filter, before the database."""
    response = getattr(client, method)(BASE, params={"queue": "\x00", "confirm": "true"}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/validation-error") and "queue" in response.json()["detail"]
    replay = client.post(f"{BASE}/replay", json={"queue": "\x00", "dry_run": True}, headers=AUTH)
    assert replay.status_code == 422, replay.text


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (f"{BASE}/replay", "POST", {"tenant": True}),  # was accepted as tenant 1
        (f"{BASE}/replay", "POST", {"limit": "5"}),
        (f"{BASE}/replay", "POST", {"dry_run": 1}),
        ("/api/v1/admin/tenants/1/limits", "PATCH", {"burst": 2.0}),
        ("/api/v1/admin/tenants/1/features", "PATCH", {"analyzers": {"llm": "yes"}}),
        ("/api/v1/admin/tenants/1/api-keys", "POST", {"name": 7}),
    ],
)
def test_request_bodies_are_strictly_typed(client: Any, path: str, method: str, body: dict[str, Any]) -> None:
    response = client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
