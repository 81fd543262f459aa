"""The embedded default (SQLite, no Redis): the tenant API still authenticates, limits and reports."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from reviewops.db.migrate import upgrade
from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.tenants import ADMIN, seed_tenant


def test_embedded_rate_limit_and_admin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviewops.db'}"
    upgrade(url)
    settings = Settings(database_url=url, redis_url=None, admin_token=SecretStr("admin-token"),
                        default_requests_per_minute=60, default_burst=2)  # fmt: skip
    db = Database(url)
    tenant = seed_tenant(db, 601, reviews=1)
    with TestClient(create_app(settings, db=db)) as client:
        first = client.get("/api/v1/reviews", headers=tenant.auth)
        assert first.status_code == 200 and first.headers["RateLimit-Policy"] == '"default";q=60;w=60'
        assert client.get("/api/v1/usage", headers=tenant.auth).json()["limits"]["burst"] == 2
        assert client.get("/api/v1/reviews", headers=tenant.auth).status_code == 429
        stats = client.get("/api/v1/admin/stats", headers=ADMIN).json()
        assert stats["queues"] == {"reviews": 0, "reviews.replay": 0}
        limits = client.patch(
            f"/api/v1/admin/tenants/{tenant.tenant_id}/limits", json={"burst": 5}, headers=ADMIN
        )
        assert limits.status_code == 503 and limits.json()["type"].endswith("/redis-required")
    db.dispose()
