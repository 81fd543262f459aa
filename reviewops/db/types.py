"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# PostgreSQL's bigint: ids and numbers bound for one must not exceed it ("bigint out of range").
BIGINT_MAX = 2**63 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps everywhere: SQLite drops the zone, so it is put back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumColumn(TypeDecorator[E]):
    """A status column: VARCHAR in the database (no native enum to migrate), the StrEnum in Python.

    A value the enum does not know (written by a newer release during a rolling upgrade) loads as the
    plain string rather than failing the whole query.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value.value if isinstance(value, enum.Enum) else value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            return self.enum_type(value)
        except ValueError:
            return value


# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JSONType: Any = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL gets 64-bit keys.
BigIntPK: Any = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)
