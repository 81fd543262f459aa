"""Query parameters shared by the tenant list endpoints, validated so bad input is a 4xx, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import ConfigDict

from api.problems import ProblemError
from reviewops.db.types import BIGINT_MAX as MAX_BIGINT

MAX_INT = 2**31 - 1
# Request bodies are strictly typed: `{"tenant": true}` is not tenant 1, `"5"` is not 5 (issue 18).
STRICT = ConfigDict(strict=True)
# Printable text only: PostgreSQL refuses NUL in strings, and names never contain control characters.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

IdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
RepositoryQuery = Annotated[
    str | None,
    Query(max_length=255, pattern=TEXT_PATTERN, description="Repository full name, e.g. octo/hello."),
]
PrQuery = Annotated[int | None, Query(ge=1, le=MAX_INT, description="Pull request number.")]
SinceQuery = Annotated[
    datetime | None, Query(description="Only items created at or after this time (ISO 8601; UTC if no zone).")
]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="Opaque cursor from the previous page's next_cursor.")
]
LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size.")]


def utc(value: datetime | None) -> datetime | None:
    """A zone-aware UTC time; naive input is taken as UTC. Out-of-range times are a 400."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ProblemError(400, "since is out of range", code="invalid-parameter") from None
