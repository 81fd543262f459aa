"""Tenant API keys: `rk_<key_id>_<secret>`, shown once, stored as sha256(salt + secret).

The secret has 256 bits of entropy, so a salted sha256 is enough (a slow hash protects weak
passwords, not random keys) and keeps verification cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reviewops.db.models import ApiKey, Tenant
from reviewops.db.types import utcnow

KEY_PREFIX = "rk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
KEY_ID_RE = re.compile(r"[0-9a-f]{1,32}")
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    plaintext: str  # returned to the admin once, never stored


def create_key(session: Session, tenant_id: int, name: str) -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    row = ApiKey(tenant_id=tenant_id, key_id=key_id, name=name, salt=salt, key_hash=_hash(salt, secret))
    session.add(row)
    session.flush()
    return NewKey(row, f"{KEY_PREFIX}{key_id}_{secret}")


def parse_key(presented: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    if not presented.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not sep or not KEY_ID_RE.fullmatch(key_id) or not SECRET_RE.fullmatch(secret):
        return None
    return key_id, secret


@dataclass(frozen=True)
class Authenticated:
    tenant_id: int
    installation_id: int
    tenant_status: str
    key_id: str


def authenticate(session: Session, presented: str, now: datetime | None = None) -> Authenticated | None:
    """The tenant of a valid, unrevoked key, or None. Records last_used_at at most once a minute."""
    parsed = parse_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = session.execute(
        select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.key_id == key_id)
    ).first()
    if row is None:
        return None
    key, tenant = row
    if not hmac.compare_digest(_hash(key.salt, secret), key.key_hash) or key.revoked_at is not None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional so concurrent requests write once; cheap enough at one write per key per minute.
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
        )
    return Authenticated(tenant.id, tenant.installation_id, tenant.status, key.key_id)


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    key = session.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one_or_none()
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
    return key
