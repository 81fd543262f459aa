"""Tenant endpoints: reviews and findings with filters and cursors, usage, and absolute isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient

from api.pagination import encode_cursor
from reviewops.db.models import Suppression
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.ratelimit import record_tokens
from reviewops.tenancy.usage import add_usage
from tests.support.tenants import Seeded, seed_tenant

BASE = utcnow().replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def two(db: Database, redis_client: redis.Redis) -> tuple[Seeded, Seeded]:
    alice = seed_tenant(db, 201, login="alice", reviews=5, created_at=BASE)
    bob = seed_tenant(db, 202, login="bob", reviews=3, created_at=BASE)
    return alice, bob


def test_reviews_are_paginated_newest_first_with_an_opaque_cursor(
    client: TestClient, two: tuple[Seeded, Seeded]
) -> None:
    alice, _ = two
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/reviews", params=params, headers=alice.auth).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit()  # opaque, not a bare id
    assert pages == 3
    assert seen == sorted(alice.review_ids, reverse=True)
    bad = client.get("/api/v1/reviews", params={"cursor": "not-a-cursor"}, headers=alice.auth)
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-cursor")
    # An id past PostgreSQL's bigint was a 500 ("bigint out of range"), found by the OpenAPI fuzzer.
    huge = encode_cursor(2**63)
    bad = client.get("/api/v1/reviews", params={"cursor": huge}, headers=alice.auth)
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-cursor")


def test_review_filters(client: TestClient, db: Database, two: tuple[Seeded, Seeded]) -> None:
    alice, _ = two
    by_pr = client.get("/api/v1/reviews", params={"pr": 2}, headers=alice.auth).json()["items"]
    assert [r["pr_number"] for r in by_pr] == [2]
    by_repo = client.get("/api/v1/reviews", params={"repository": "alice/repo"}, headers=alice.auth).json()
    assert len(by_repo["items"]) == 5
    assert client.get("/api/v1/reviews", params={"repository": "bob/repo"}, headers=alice.auth).json() == {
        "items": [], "next_cursor": None
    }  # fmt: skip
    since = (BASE + timedelta(minutes=3)).isoformat()
    recent = client.get("/api/v1/reviews", params={"since": since}, headers=alice.auth).json()["items"]
    assert sorted(r["pr_number"] for r in recent) == [4, 5]
    one = client.get(f"/api/v1/reviews/{alice.review_ids[0]}", headers=alice.auth)
    assert one.status_code == 200 and one.json()["pr_number"] == 1 and one.json()["notes"] == []


def test_findings_filters(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    alice, _ = two
    errors = client.get("/api/v1/findings", params={"severity": "error"}, headers=alice.auth).json()["items"]
    assert len(errors) == 5 and {f["severity"] for f in errors} == {"error"}
    pr3 = client.get("/api/v1/findings", params={"pr": 3, "severity": "warning"}, headers=alice.auth).json()
    assert [(f["pr_number"], f["severity"]) for f in pr3["items"]] == [(3, "warning")]
    of_review = client.get(f"/api/v1/reviews/{alice.review_ids[1]}/findings", headers=alice.auth).json()
    assert {f["review_id"] for f in of_review["items"]} == {alice.review_ids[1]}
    assert len(of_review["items"]) == 2
    paged = client.get("/api/v1/findings", params={"limit": 4}, headers=alice.auth).json()
    rest = client.get(
        "/api/v1/findings", params={"limit": 100, "cursor": paged["next_cursor"]}, headers=alice.auth
    ).json()
    ids = [f["id"] for f in paged["items"] + rest["items"]]
    assert ids == sorted(alice.finding_ids, reverse=True)
    one = client.get(f"/api/v1/findings/{alice.finding_ids[0]}", headers=alice.auth)
    assert one.status_code == 200 and one.json()["repository"] == "alice/repo"


def test_a_tenant_key_never_reads_another_tenants_data(
    client: TestClient, db: Database, two: tuple[Seeded, Seeded]
) -> None:
    """Every tenant endpoint, with bob's ids and alice's key: 404 or an empty list, never bob's data."""
    alice, bob = two
    for review_id in bob.review_ids:
        for path in (f"/api/v1/reviews/{review_id}", f"/api/v1/reviews/{review_id}/findings"):
            response = client.get(path, headers=alice.auth)
            assert response.status_code == 404, path
            assert "bob" not in response.text
    for finding_id in bob.finding_ids:
        response = client.get(f"/api/v1/findings/{finding_id}", headers=alice.auth)
        assert response.status_code == 404 and "bob" not in response.text
    for path, params in (
        ("/api/v1/reviews", {"repository": "bob/repo"}),
        ("/api/v1/findings", {"repository": "bob/repo"}),
        ("/api/v1/findings", {"review_id": bob.review_ids[0]}),
        ("/api/v1/reviews", {}),
        ("/api/v1/findings", {"limit": 200}),
    ):
        body = client.get(path, params=params, headers=alice.auth).json()
        assert all("bob" not in str(item) for item in body["items"]), (path, params)
        owner_ids = {i["review_id"] if path.endswith("findings") else i["id"] for i in body["items"]}
        assert owner_ids.isdisjoint(bob.review_ids), (path, params)
    usage = client.get("/api/v1/usage", headers=alice.auth).json()
    assert usage["tenant_id"] == alice.tenant_id and usage["installation_id"] == 201
    # Suppressions (dismissed findings): bob's are neither listed nor deletable with alice's key.
    with db.session() as session:
        theirs = Suppression(
            tenant_id=bob.tenant_id, repository="bob/repo", fingerprint="b" * 32, created_by="bob"
        )
        session.add(theirs)
        session.flush()
        theirs_id = theirs.id
    listed = client.get("/api/v1/suppressions", params={"repository": "bob/repo"}, headers=alice.auth).json()
    assert listed["items"] == [] and "bob" not in str(listed)
    gone = client.delete(f"/api/v1/suppressions/{theirs_id}", headers=alice.auth)
    assert gone.status_code == 404 and "bob" not in gone.text
    with db.session() as session:
        assert session.get(Suppression, theirs_id) is not None
    # Every tenant route of the OpenAPI document was exercised above (events has its own test).
    paths = {p for p in client.get("/openapi.json").json()["paths"] if p.startswith("/api/v1/") and
             not p.startswith("/api/v1/admin")}  # fmt: skip
    assert paths == {
        "/api/v1/reviews", "/api/v1/reviews/{review_id}", "/api/v1/reviews/{review_id}/findings",
        "/api/v1/findings", "/api/v1/findings/{finding_id}", "/api/v1/usage", "/api/v1/events",
        "/api/v1/suppressions", "/api/v1/suppressions/{suppression_id}",
    }  # fmt: skip


def test_tenant_endpoints_need_a_valid_key(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    for headers in ({}, {"Authorization": "Bearer admin-token"}, {"Authorization": "Bearer rk_00_nope"},
                    {"Authorization": "Basic abc"}):  # fmt: skip
        response = client.get("/api/v1/reviews", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert "RateLimit" not in response.headers


def test_usage_reports_days_tokens_and_rate_limit_state(
    client: TestClient, db: Database, redis_client: redis.Redis, two: tuple[Seeded, Seeded]
) -> None:
    alice, _ = two
    today = utcnow().date()
    with db.session() as session:
        add_usage(session, alice.tenant_id, reviews=3, prompt_tokens=100, completion_tokens=20)
        add_usage(session, alice.tenant_id, reviews=1, prompt_tokens=5)
        add_usage(session, alice.tenant_id, reviews=7, day=today - timedelta(days=2))
    record_tokens(redis_client, 201, 1000, 234)
    body = client.get("/api/v1/usage", params={"days": 7}, headers=alice.auth).json()
    assert body["days"][0] == {"day": today.isoformat(), "reviews": 4, "llm_prompt_tokens": 105,
                               "llm_completion_tokens": 20}  # fmt: skip
    assert body["days"][1]["reviews"] == 7
    assert body["llm_tokens_today"] == 1234 and body["llm_allowed"] is True
    assert body["limits"]["requests_per_minute"] == 600
    assert body["rate_limit"]["remaining"] == 99 and body["rate_limit"]["window_seconds"] == 60
    assert body["running_reviews"] == 0


def test_bad_input_is_a_4xx_not_a_database_error(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    alice, _ = two
    for path, params in (
        ("/api/v1/reviews", {"repository": "a\x00b"}),
        ("/api/v1/findings", {"severity": "err\x00"}),
        ("/api/v1/reviews", {"pr": str(2**40)}),
        ("/api/v1/reviews/99999999999999999999", {}),
        ("/api/v1/reviews", {"since": "0001-01-01T00:00:00+01:00"}),
    ):
        response = client.get(path, params=params, headers=alice.auth)
        assert 400 <= response.status_code < 500, (path, params, response.text)
    assert client.get("/api/v1/reviews", headers={"Authorization": "Bearer rk_\x00_x"}).status_code in (
        400,
        401,
    )
