"""Running a review's independent calls side by side, each in a copy of the caller's context.

The engine's deterministic analyzers, the linters' file reads and the LLM's diff parts all wait on
something else (a subprocess, GitHub, the model), so they run in threads. Each call gets its own copy of
the caller's context so the spans it opens stay children of the review's span (one Context cannot be
entered by two threads at once, hence a copy per call, not one shared copy).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def side_by_side(fn: Callable[[T], R], items: Sequence[T], max_workers: int, name: str = "") -> list[R]:
    """`fn` over `items`, at most `max_workers` at once; results in the items' order, the first error
    raised. One item (or one worker) runs inline: a thread would cost more than it saves."""
    workers = min(max_workers, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [future.result() for future in futures]
