"""The linter flow's file reads: side by side, each path once, the caller's context kept."""

from __future__ import annotations

import contextvars
import threading

from reviewops.analysis.linting import read_all

MARK: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="unset")


def test_reads_run_side_by_side_and_keep_each_path() -> None:
    # Four readers meet at a barrier: read one after another, the first would wait alone and time out.
    barrier = threading.Barrier(4, timeout=5)
    calls: list[str] = []

    def reader(path: str) -> str | None:
        calls.append(path)
        barrier.wait()
        return None if path == "gone.py" else f"text of {path}"

    texts = read_all(reader, ["a.py", "b.py", "gone.py", "c.py", "a.py"])
    assert texts == {"a.py": "text of a.py", "b.py": "text of b.py", "gone.py": None, "c.py": "text of c.py"}
    assert sorted(calls) == ["a.py", "b.py", "c.py", "gone.py"]  # a path named twice is read once


def test_each_read_sees_the_callers_context() -> None:
    MARK.set("review-7")
    seen = read_all(lambda path: MARK.get(), ["x.py", "y.py", "z.py"])
    assert set(seen.values()) == {"review-7"}
