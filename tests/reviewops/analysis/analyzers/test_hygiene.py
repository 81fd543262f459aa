"""`hygiene`: conflict markers, debug leftovers, TODOs on added lines; large-PR and missing-test notes."""

from __future__ import annotations

from reviewops.analysis.analyzers.hygiene import HygieneAnalyzer
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.model import Severity
from tests.reviewops.analysis.helpers import context, modified_file, new_file


def _rules(findings: list) -> dict[int, str]:  # type: ignore[type-arg]
    return {f.start_line: f.rule_id for f in findings}


def test_conflict_markers_are_errors() -> None:
    changed = new_file(
        "app.py", ["a = 1", "<<<<<<< HEAD", "b = 1", "=======", "b = 2", ">>>>>>> feature", "c = 3"]
    )
    findings = HygieneAnalyzer().analyze(context(changed))
    assert _rules(findings) == {
        2: "hygiene/merge-conflict-marker",
        4: "hygiene/merge-conflict-marker",
        6: "hygiene/merge-conflict-marker",
    }
    assert all(f.severity is Severity.ERROR for f in findings)


def test_rst_heading_underline_is_not_a_conflict() -> None:
    changed = new_file("docs/index.rst", ["Title", "=======", "", "Text"])
    assert HygieneAnalyzer().analyze(context(changed)) == []


def test_debug_leftovers_by_language() -> None:
    py = new_file(
        "svc/run.py",
        [
            "def f():",
            "    breakpoint()",
            "    import pdb; pdb.set_trace()",
            "    print(x)",
            "    printer(x)",
            "    return 1",
        ],
    )
    js = new_file("web/app.ts", ["const a = 1;", "console.log(a);", "debugger;", "logger.log(a);"])
    findings = HygieneAnalyzer().analyze(context(py, js))
    by_file = {(f.path, f.start_line): (f.rule_id, f.severity) for f in findings}
    assert by_file == {
        ("svc/run.py", 2): ("hygiene/debug-breakpoint", Severity.WARNING),
        ("svc/run.py", 3): ("hygiene/debug-pdb", Severity.WARNING),
        ("svc/run.py", 4): ("hygiene/debug-print", Severity.INFO),
        ("web/app.ts", 2): ("hygiene/debug-console-log", Severity.INFO),
        ("web/app.ts", 3): ("hygiene/debug-debugger", Severity.WARNING),
    }


def test_print_in_tests_is_fine_but_breakpoint_is_not() -> None:
    changed = new_file("tests/test_x.py", ["def test_a():", "    print('debug')", "    breakpoint()"])
    assert _rules(HygieneAnalyzer().analyze(context(changed))) == {3: "hygiene/debug-breakpoint"}


def test_added_todo_only() -> None:
    before = ["# TODO: old one", "x = 1"]
    after = [
        "# TODO: old one",
        "x = 2  # FIXME later",
        "todo_list = []",
        "// HACK: nope in py? still a comment",
    ]
    findings = HygieneAnalyzer().analyze(context(modified_file("m.py", before, after)))
    assert _rules(findings) == {2: "hygiene/todo", 4: "hygiene/todo"}
    assert "FIXME" in findings[0].message


def test_large_pr_and_missing_tests_are_notes(realworld_diff: str) -> None:
    ctx = context(*parse_unified_diff(realworld_diff))
    findings = HygieneAnalyzer().analyze(ctx)
    assert any(n.startswith("Large pull request: 6 files") for n in ctx.notes)
    assert any(n.startswith("Source changed without test changes: src/pkg/big.py") for n in ctx.notes)
    # print(y) in the CRLF file is found with its real line number; the deleted file yields nothing.
    assert _rules(findings) == {4: "hygiene/debug-print"}
    assert findings[0].path == "src/pkg/win.py"


def test_small_pr_with_tests_has_no_notes() -> None:
    ctx = context(new_file("src/a.py", ["x = 1"]), new_file("tests/test_a.py", ["def test(): pass"]))
    HygieneAnalyzer().analyze(ctx)
    assert ctx.notes == []


def test_tracked_todos_are_not_nagged() -> None:
    lines = [
        "# TODO(v1): remove the fallback",
        "x = 1  # TODO: see #2452",
        "# FIXME: JIRA-77 covers this",
        "# TODO: remove this custom logic when we drop Python 3.9.",
        "# TODO: use shutdown() on 3.13+",
        "# TODO: remove this block",
        "# See https://github.com/encode/starlette/issues/2452.",
        "# TODO: make it faster",
        "y = 2",
    ]
    findings = HygieneAnalyzer().analyze(context(new_file("m.py", lines)))
    assert _rules(findings) == {8: "hygiene/todo"}
