"""Per-tenant daily usage (usage_daily): reviews and LLM tokens, upserted so concurrent writers add up."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reviewops.db.models import UsageDaily


def add_usage(
    session: Session,
    tenant_id: int,
    *,
    reviews: int = 0,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    day: date | None = None,
) -> None:
    """Add to the tenant's counters of `day` (default: today, UTC) in one statement."""
    day = day or datetime.now(UTC).date()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(UsageDaily).values(
        tenant_id=tenant_id,
        day=day,
        reviews=reviews,
        llm_prompt_tokens=prompt_tokens,
        llm_completion_tokens=completion_tokens,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "day"],
        set_={
            "reviews": UsageDaily.reviews + stmt.excluded.reviews,
            "llm_prompt_tokens": UsageDaily.llm_prompt_tokens + stmt.excluded.llm_prompt_tokens,
            "llm_completion_tokens": UsageDaily.llm_completion_tokens + stmt.excluded.llm_completion_tokens,
        },
    )
    session.execute(stmt)
