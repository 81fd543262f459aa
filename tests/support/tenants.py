"""Seed tenants, API keys, reviews and findings straight into the database for API tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reviewops.db.models import Finding, Review, Tenant
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.tenancy import apikeys

ADMIN = {"Authorization": "Bearer admin-token"}


@dataclass
class Seeded:
    tenant_id: int
    installation_id: int
    key: str
    review_ids: list[int] = field(default_factory=list)
    finding_ids: list[int] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def seed_tenant(
    db: Database,
    installation_id: int,
    *,
    login: str = "octo",
    reviews: int = 0,
    repository: str | None = None,
    created_at: datetime | None = None,
) -> Seeded:
    """A tenant with one API key and `reviews` reviews (PR i, one error and one warning finding each)."""
    repo = repository or f"{login}/repo"
    with db.session() as session:
        tenant = Tenant(installation_id=installation_id, account_login=login, account_type="Organization",
                        settings={})  # fmt: skip
        session.add(tenant)
        session.flush()
        key = apikeys.create_key(session, tenant.id, "test").plaintext
        seeded = Seeded(tenant.id, installation_id, key)
        base = created_at or utcnow() - timedelta(hours=1)
        for i in range(reviews):
            review = Review(tenant_id=tenant.id, repository=repo, pr_number=i + 1, head_sha=f"{i:040x}",
                            status="completed", timings={}, created_at=base + timedelta(minutes=i),
                            findings_count=2)  # fmt: skip
            session.add(review)
            session.flush()
            seeded.review_ids.append(review.id)
            for severity in ("error", "warning"):
                finding = Finding(review_id=review.id, analyzer="secrets", rule_id=f"rule-{severity}",
                                  path="app.py", start_line=1, end_line=1, severity=severity,
                                  message=f"{severity} in {repo}", fingerprint=f"{review.id}-{severity}",
                                  created_at=base + timedelta(minutes=i))  # fmt: skip
                session.add(finding)
                session.flush()
                seeded.finding_ids.append(finding.id)
    return seeded
