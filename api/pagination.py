"""Opaque cursor pagination in a stable order (id descending: newest first, ids never reused)."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

from pydantic import BaseModel

from api.filters import MAX_BIGINT
from api.problems import ProblemError

T = TypeVar("T")
CURSOR_VERSION = "v1"
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_VERSION}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id to continue below, or None for the first page; a bad cursor is a 400, not a 500."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, _, value = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
        if version != CURSOR_VERSION or not (value.isascii() and value.isdigit()) or int(value) > MAX_BIGINT:
            raise ValueError(cursor)
        return int(value)
    except (ValueError, UnicodeError, binascii.Error):
        raise ProblemError(400, "cursor is not one this API returned", code="invalid-cursor") from None
