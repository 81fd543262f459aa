"""`python-lint`: real ruff on the head content, only diagnostics on added lines, fixes as suggestions."""

from __future__ import annotations

from reviewops.analysis.analyzers.python_lint import PythonLintAnalyzer, ruff_binary
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.model import Severity
from tests.reviewops.analysis.helpers import context, modified_file

BEFORE = ["import os", "import sys", "", "", "def f(x):", "    return sys.argv", ""]
AFTER = [
    "import os",
    "import sys",
    "import json",
    "",
    "",
    "def f(x):",
    "    if x == None:",
    "        return 1",
    "    unused = 2",
    "    return sys.argv",
    "",
]


def _run(before: list[str], after: list[str], path: str = "pkg/mod.py") -> list:  # type: ignore[type-arg]
    changed = modified_file(path, before, after)
    return PythonLintAnalyzer().analyze(context(changed, heads={path: "\n".join(after)}))


def test_ruff_binary_is_the_packaged_one() -> None:
    assert ruff_binary().endswith("ruff")


def test_only_added_lines_are_reported() -> None:
    findings = _run(BEFORE, AFTER)
    by_line = {f.start_line: f for f in findings}
    # `import os` (line 1) is unused too, but it was not added by this change.
    assert sorted(by_line) == [3, 7, 9]
    assert by_line[3].rule_id == "ruff/F401" and by_line[3].severity is Severity.WARNING
    assert by_line[9].rule_id == "ruff/F841"
    assert by_line[7].rule_id == "ruff/E711"
    assert all(f.path == "pkg/mod.py" and f.analyzer == "python-lint" for f in findings)


def test_single_line_fixes_become_suggestions() -> None:
    by_line = {f.start_line: f for f in _run(BEFORE, AFTER)}
    assert by_line[7].suggestion == "    if x is None:"
    assert by_line[3].suggestion == ""  # delete the unused import line
    assert by_line[7].line_content == "    if x == None:"


def test_syntax_error_on_added_line_is_an_error() -> None:
    findings = _run(["x = 1", ""], ["x = 1", "def broken(:", ""])
    assert findings and findings[0].severity is Severity.ERROR and findings[0].start_line == 2


def test_non_python_binary_deleted_and_unreadable_files_are_skipped(realworld_diff: str) -> None:
    files = parse_unified_diff(realworld_diff)
    # No head content available for any file: nothing to lint, nothing raised.
    assert PythonLintAnalyzer().analyze(context(*files, heads={"docs/logo.png": "x"})) == []


def test_server_config_does_not_leak_into_the_review(tmp_path: object) -> None:
    # E501 (line length) is not in the selected rules, whatever the working directory's config says.
    long_line = "x = '" + "a" * 200 + "'"
    assert _run(["y = 1", ""], ["y = 1", long_line, ""]) == []
