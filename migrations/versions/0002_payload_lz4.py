"""webhook payloads compressed with lz4

PostgreSQL compresses a large jsonb value (a pull_request payload is ~30 kB) with pglz by default; on the
webhook intake that compression was the biggest part of the database's CPU per delivery. lz4 (PostgreSQL
14+, in every mainstream build) is several times faster at a similar ratio. Only new values use it; the
change is metadata only (no table rewrite). Skipped where the server was built without lz4, and on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LZ4_AVAILABLE = sa.text(
    "SELECT coalesce(bool_or('lz4' = ANY(enumvals)), false) FROM pg_settings "
    "WHERE name = 'default_toast_compression'"
)


def _postgres_with_lz4() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(bind.execute(_LZ4_AVAILABLE).scalar())


def upgrade() -> None:
    if _postgres_with_lz4():
        op.execute("ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION lz4")


def downgrade() -> None:
    if _postgres_with_lz4():
        op.execute("ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION default")
