"""Admin endpoints: tenants, limits, feature flags, API keys, stats; every change in the audit log."""

from __future__ import annotations

from datetime import timedelta

import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from reviewops.db.models import ApiKey, AuditLog, Tenant, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.policy.store import TENANT_SET_KEY, TenantLimits, read_limits, tenant_limits_key
from reviewops.queue.fairslots import ACTIVE_KEY, FLEET_KEY
from tests.support.tenants import ADMIN, seed_tenant


def audit_actions(db: Database) -> list[tuple[str, str | None]]:
    with db.session() as s:
        return [(a.action, a.target) for a in s.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]


def test_admin_endpoints_need_the_admin_token(client: TestClient, db: Database) -> None:
    tenant = seed_tenant(db, 301)
    for method, path in (("GET", "/api/v1/admin/tenants"), ("GET", "/api/v1/admin/stats"),
                         ("POST", f"/api/v1/admin/tenants/{tenant.tenant_id}/suspend"),
                         ("GET", f"/api/v1/admin/tenants/{tenant.tenant_id}/limits")):  # fmt: skip
        assert client.request(method, path).status_code == 401
        assert (
            client.request(method, path, headers=tenant.auth).status_code == 401
        )  # a tenant key is not admin


def test_suspend_and_resume(client: TestClient, db: Database) -> None:
    tenant = seed_tenant(db, 302)
    listed = client.get("/api/v1/admin/tenants", headers=ADMIN).json()["items"]
    assert [t["installation_id"] for t in listed] == [302]
    suspended = client.post(f"/api/v1/admin/tenants/{tenant.tenant_id}/suspend", headers=ADMIN)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    refused = client.get("/api/v1/reviews", headers=tenant.auth)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/tenant-inactive")
    only = client.get("/api/v1/admin/tenants", params={"status": "suspended"}, headers=ADMIN).json()
    assert len(only["items"]) == 1
    assert client.post(f"/api/v1/admin/tenants/{tenant.tenant_id}/resume", headers=ADMIN).json()[
        "status"
    ] == ("active")
    assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 200
    assert client.post("/api/v1/admin/tenants/999999/suspend", headers=ADMIN).status_code == 404
    target = f"tenant:{tenant.tenant_id}"
    assert audit_actions(db)[-2:] == [("tenant.suspend", target), ("tenant.resume", target)]
    with db.session() as s:
        s.execute(update(Tenant).values(status="deleted"))
    assert client.post(f"/api/v1/admin/tenants/{tenant.tenant_id}/resume", headers=ADMIN).status_code == 409


def test_limits_read_and_override_live(client: TestClient, db: Database, redis_client: redis.Redis) -> None:
    tenant = seed_tenant(db, 303)
    path = f"/api/v1/admin/tenants/{tenant.tenant_id}/limits"
    before = client.get(path, headers=ADMIN).json()
    assert before["settings_default"]["max_concurrent_reviews"] is None  # unset: the cap follows the fleet
    assert before["effective"] == {**before["settings_default"], "max_concurrent_reviews": 1}  # no worker yet
    assert before["overrides"] == {}
    # Workers with 8 reviews in flight between them, one other tenant busy: this one's share is 8 / 2.
    redis_client.set(FLEET_KEY, 8)
    redis_client.sadd(ACTIVE_KEY, 999)
    assert client.get(path, headers=ADMIN).json()["effective"]["max_concurrent_reviews"] == 4
    assert before["precedence"].startswith("tenant override")
    changed = client.patch(path, json={"requests_per_minute": 2, "burst": 1}, headers=ADMIN)
    assert changed.status_code == 200
    assert changed.json()["overrides"] == {"requests_per_minute": 2, "burst": 1}
    assert changed.json()["effective"]["requests_per_minute"] == 2
    # Written where the operator and every API replica read it, and registered so the operator owns it.
    assert read_limits(redis_client, 303, TenantLimits()).burst == 1
    assert redis_client.sismember(TENANT_SET_KEY, 303)
    assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 200
    assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 429
    assert client.patch(path, json={"burst": 0}, headers=ADMIN).status_code == 422
    weighted = client.patch(path, json={"max_concurrent_reviews": 5}, headers=ADMIN).json()
    assert weighted["effective"]["max_concurrent_reviews"] == 5
    assert weighted["settings_default"]["max_concurrent_reviews"] is None
    assert weighted["overrides"] == {"requests_per_minute": 2, "burst": 1, "max_concurrent_reviews": 5}
    cleared = client.delete(path, headers=ADMIN).json()
    assert cleared["overrides"] == {} and not redis_client.exists(tenant_limits_key(303))
    assert [a for a, _ in audit_actions(db)][-3:] == ["limits.set", "limits.set", "limits.clear"]


def test_feature_flags_land_in_tenant_settings(client: TestClient, db: Database) -> None:
    tenant = seed_tenant(db, 304)
    path = f"/api/v1/admin/tenants/{tenant.tenant_id}/features"
    assert client.get(path, headers=ADMIN).json() == {"analyzers": {}}
    client.patch(path, json={"analyzers": {"llm": False, "secrets": True}}, headers=ADMIN)
    after = client.patch(path, json={"analyzers": {"secrets": False}}, headers=ADMIN).json()
    assert after == {"analyzers": {"llm": False, "secrets": False}}
    with db.session() as s:
        assert s.get(Tenant, tenant.tenant_id).settings == {"analyzers": {"llm": False, "secrets": False}}  # type: ignore[union-attr]
    assert client.patch(path, json={"analyzers": {"Bad Name!": True}}, headers=ADMIN).status_code == 422
    assert audit_actions(db)[-1] == ("tenant.analyzers", f"tenant:{tenant.tenant_id}")


def test_api_keys_hashed_shown_once_revocable_and_last_used(client: TestClient, db: Database) -> None:
    tenant = seed_tenant(db, 305)
    created = client.post(f"/api/v1/admin/tenants/{tenant.tenant_id}/api-keys", json={"name": "ci"},
                          headers=ADMIN)  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    key, key_id = body["api_key"], body["key_id"]
    assert key.startswith(f"rk_{key_id}_")
    secret = key.split("_", 2)[2]
    with db.session() as s:
        row = s.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one()
        assert secret not in row.key_hash and key not in row.key_hash and len(row.salt) >= 16
        assert row.last_used_at is None
    listed = client.get(f"/api/v1/admin/tenants/{tenant.tenant_id}/api-keys", headers=ADMIN).json()
    assert {k["key_id"] for k in listed} >= {key_id}
    assert all("api_key" not in k for k in listed) and secret not in str(listed)  # shown once only

    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/reviews", headers=auth).status_code == 200
    with db.session() as s:
        first_use = s.execute(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).scalar_one()
    assert first_use is not None
    client.get("/api/v1/reviews", headers=auth)
    with db.session() as s:  # at most one write a minute
        assert s.execute(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).scalar_one() == first_use
        s.execute(
            update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=utcnow() - timedelta(hours=1))
        )
    client.get("/api/v1/reviews", headers=auth)
    with db.session() as s:
        assert s.execute(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).scalar_one() > first_use

    wrong_secret = {"Authorization": f"Bearer rk_{key_id}_{'x' * len(secret)}"}
    assert client.get("/api/v1/reviews", headers=wrong_secret).status_code == 401
    revoked = client.delete(f"/api/v1/admin/api-keys/{key_id}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/reviews", headers=auth).status_code == 401
    assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 200  # the other key still works
    assert client.delete("/api/v1/admin/api-keys/ffffffff", headers=ADMIN).status_code == 404
    assert [a for a, _ in audit_actions(db)] == ["api_key.create", "api_key.revoke"]


def test_stats_count_deliveries_and_queue_depth(
    client: TestClient, db: Database, redis_client: redis.Redis
) -> None:
    seed_tenant(db, 306, reviews=2)
    with db.session() as s:
        for i, status in enumerate(("queued", "queued", "processed", "dead")):
            s.add(WebhookDelivery(delivery_guid=f"g{i}", event="ping", payload={}, status=status))
    redis_client.hset("dramatiq:reviews.msgs", mapping={"a": "1", "b": "2"})
    redis_client.hset("dramatiq:reviews.DQ.msgs", mapping={"c": "3"})
    stats = client.get("/api/v1/admin/stats", headers=ADMIN).json()
    assert stats["deliveries"] == {"queued": 2, "processed": 1, "dead": 1}
    assert stats["reviews"] == {"completed": 2} and stats["tenants"] == {"active": 1}
    assert stats["queues"] == {"reviews": 3, "reviews.replay": 0}


def test_cors_origins_are_configurable(settings: object, db: Database, broker: object) -> None:
    from api.main import create_app

    allowed = "https://dash.example"
    app = create_app(settings.model_copy(update={"cors_origins": [allowed]}), db=db, broker=broker)  # type: ignore[attr-defined]
    with TestClient(app) as c:
        pre = c.options(
            "/api/v1/reviews", headers={"Origin": allowed, "Access-Control-Request-Method": "GET"}
        )
        assert pre.headers["access-control-allow-origin"] == allowed
        other = c.options("/api/v1/reviews", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "GET"})  # fmt: skip
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(settings, db=db, broker=broker)) as c:  # type: ignore[arg-type]
        plain = c.get("/health", headers={"Origin": allowed})
        assert "access-control-allow-origin" not in plain.headers
