"""side_by_side: concurrent, in order, errors raised, inline for one item."""

from __future__ import annotations

import threading

import pytest

from reviewops.analysis.parallel import side_by_side


def test_results_keep_the_items_order_while_calls_overlap() -> None:
    barrier = threading.Barrier(3, timeout=5)  # one after another, the first would wait alone and fail

    def call(n: int) -> int:
        barrier.wait()
        return n * 10

    assert side_by_side(call, [3, 1, 2], max_workers=3) == [30, 10, 20]


def test_one_item_runs_inline_and_an_error_is_raised() -> None:
    assert side_by_side(lambda _n: threading.current_thread().name, [1], max_workers=4) == [
        threading.current_thread().name
    ]
    with pytest.raises(ValueError, match="bad"):
        side_by_side(lambda n: (_ for _ in ()).throw(ValueError("bad")) if n == 2 else n, [1, 2], 2)
