"""Rendering: comment bodies with suggestion blocks, and line numbering checked against difflib."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from reviewops.analysis.diff import parse_patch
from reviewops.analysis.model import Finding, Severity
from reviewops.analysis.output import comment_body


def _finding(suggestion: str | None) -> Finding:
    return Finding("t", "ruff/E711", "a.py", 3, 3, Severity.INFO, "Use `is None`.", suggestion=suggestion)


def test_comment_body_with_and_without_suggestion() -> None:
    assert comment_body(_finding(None)) == "**info** (ruff/E711): Use `is None`."
    assert comment_body(_finding("if x is None:")).endswith("\n\n```suggestion\nif x is None:\n```")
    assert comment_body(_finding("")).endswith("```suggestion\n```")  # delete the line


def test_suggestion_containing_a_fence_gets_a_longer_fence() -> None:
    body = comment_body(_finding('doc = """```py\n```"""'))
    assert "````suggestion\n" in body and body.endswith("\n````")


lines = st.lists(st.sampled_from(["a", "b", "c", "", "  d", "x = 1"]), max_size=25)


@settings(max_examples=200, deadline=None)
@given(before=lines, after=lines)
def test_added_and_context_lines_match_the_new_file(before: list[str], after: list[str]) -> None:
    diff = list(difflib.unified_diff(before, after, lineterm="", n=2))
    if not diff:
        return
    changed = parse_patch("f.txt", "\n".join(diff[2:]))
    for number, text in changed.added_lines().items():
        assert after[number - 1] == text
    for hunk in changed.hunks:
        for number, text in hunk.context.items():
            assert after[number - 1] == text
        for number, text in hunk.removed.items():
            assert before[number - 1] == text
    assert changed.additions == sum(1 for op in diff[2:] if op.startswith("+"))
