"""Database layer: typed SQLAlchemy 2 models and engine/session helpers."""

from reviewops.db.models import (
    ApiKey,
    AuditLog,
    Base,
    DeadLetter,
    Finding,
    Repository,
    Review,
    Tenant,
    UsageDaily,
    WebhookDelivery,
)
from reviewops.db.session import Database

__all__ = [
    "ApiKey",
    "AuditLog",
    "Base",
    "Database",
    "DeadLetter",
    "Finding",
    "Repository",
    "Review",
    "Tenant",
    "UsageDaily",
    "WebhookDelivery",
]
