"""A per-process budget of request-body bytes in flight: many large bodies wait instead of all buffering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class BudgetExhausted(Exception):
    """No room for the body within the wait: the caller answers 503 with Retry-After."""


class ByteBudget:
    """At most `total` body bytes held by the requests of one process at once.

    A request reserves its whole declared size (or the largest body allowed, if undeclared) before it
    reads a byte, so requests never hold part of the budget while waiting for the rest (no deadlock),
    and the peak memory of N concurrent large bodies is bounded by the budget, not by N."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._room: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._room is None:
            self._room = asyncio.Condition()
        return self._room

    async def acquire(self, size: int, wait: float) -> int:
        """Reserve `size` bytes (at most the whole budget), waiting up to `wait` seconds for room; returns
        what was reserved, for `release`. Raises BudgetExhausted."""
        size = min(max(size, 0), self.total)
        room = self._condition()
        async with room:
            try:
                await asyncio.wait_for(room.wait_for(lambda: self.free >= size), wait)
            except TimeoutError:
                raise BudgetExhausted from None
            self.free -= size
        return size

    async def release(self, reserved: int) -> None:
        room = self._condition()
        async with room:
            self.free += reserved
            room.notify_all()

    @asynccontextmanager
    async def hold(self, size: int, wait: float) -> AsyncIterator[None]:
        reserved = await self.acquire(size, wait)
        try:
            yield
        finally:
            await self.release(reserved)
