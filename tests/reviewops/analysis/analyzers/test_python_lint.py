"""`python-lint`: real ruff on the head content, only diagnostics on added lines, fixes as suggestions."""

from __future__ import annotations

from reviewops.analysis.analyzers.python_lint import PythonLintAnalyzer, ruff_binary
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.model import Severity
from tests.reviewops.analysis.helpers import context, modified_file, new_file

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


# --- the repository's configuration from base, and only what the change introduces ---


def _base_ctx(changed: object, heads: dict[str, str], bases: dict[str, str]) -> object:
    ctx = context(changed, heads=heads)  # type: ignore[arg-type]
    ctx.read_base = bases.get
    return ctx


def test_project_config_from_base_switches_rules_off() -> None:
    # The case: star imports in `__init__.py` that the project's own configuration allows.
    before = ["", ""]
    after = ["from .core import *", "from .more import *", "x = thing", ""]
    changed = modified_file("pkg/sub/__init__.py", before, after)
    heads = {"pkg/sub/__init__.py": "\n".join(after)}
    config = '[tool.ruff.lint]\nselect = ["F"]\n[tool.ruff.lint.per-file-ignores]\n"__init__.py" = ["F403", "F405"]\n'
    with_config = PythonLintAnalyzer().analyze(_base_ctx(changed, heads, {"pyproject.toml": config}))  # type: ignore[arg-type]
    assert with_config == []
    without = PythonLintAnalyzer().analyze(_base_ctx(changed, heads, {}))  # type: ignore[arg-type]
    assert [f.rule_id for f in without] == []  # the conservative default allows them in __init__.py too
    plain = modified_file("pkg/mod.py", before, after)
    found = PythonLintAnalyzer().analyze(_base_ctx(plain, {"pkg/mod.py": heads["pkg/sub/__init__.py"]}, {}))  # type: ignore[arg-type]
    assert {f.rule_id for f in found} == {"ruff/F403", "ruff/F405"}


def test_config_extend_chain_and_nested_ruff_toml() -> None:
    after = ["import os", "x = 1" + " " * 0 + "  # " + "a" * 120, ""]
    changed = new_file("app/tool.py", after[:-1])
    bases = {
        "app/ruff.toml": 'extend = "../shared/ruff-base.toml"\n',
        "shared/ruff-base.toml": '[lint]\nselect = ["E501"]\n',
    }
    found = PythonLintAnalyzer().analyze(_base_ctx(changed, {}, bases))  # type: ignore[arg-type]
    assert [f.rule_id for f in found] == ["ruff/E501"]  # F401 is not selected by the extended file


def test_project_fix_true_neither_edits_nor_hides() -> None:
    changed = new_file("m.py", ["import os", "x = 1"])
    found = PythonLintAnalyzer().analyze(
        _base_ctx(changed, {}, {"ruff.toml": 'fix = true\n[lint]\nselect = ["F"]\n'})
    )  # type: ignore[arg-type]
    assert [f.rule_id for f in found] == ["ruff/F401"]


def test_moved_and_reindented_code_is_not_reported_again() -> None:
    before = ["import os", "", "", "def f():", "    unused = 1", "    return os", ""]
    after = ["import os", "", "", "class C:", "    def f(self):", "        unused = 1", "        return os",
             "", "    def g(self):", "        other = 2", "        return 1", ""]  # fmt: skip
    changed = modified_file("m.py", before, after)
    heads, bases = {"m.py": "\n".join(after)}, {"m.py": "\n".join(before)}
    found = PythonLintAnalyzer().analyze(_base_ctx(changed, heads, bases))  # type: ignore[arg-type]
    assert [(f.rule_id, f.line_content.strip()) for f in found] == [("ruff/F841", "other = 2")]
    # Without a base (a plain patch file) every diagnostic on an added line is reported.
    found = PythonLintAnalyzer().analyze(context(changed, heads=heads))
    assert sorted(f.line_content.strip() for f in found) == ["other = 2", "unused = 1"]


def test_second_copy_of_an_existing_diagnostic_is_new() -> None:
    before = ["def f():", "    unused = 1", "    return 0", ""]
    after = [
        "def f():",
        "    unused = 1",
        "    return 0",
        "",
        "",
        "def g():",
        "    unused = 1",
        "    return 0",
        "",
    ]
    changed = modified_file("m.py", before, after)
    found = PythonLintAnalyzer().analyze(
        _base_ctx(changed, {"m.py": "\n".join(after)}, {"m.py": "\n".join(before)})  # type: ignore[arg-type]
    )
    assert [(f.rule_id, f.start_line) for f in found] == [("ruff/F841", 7)]


def test_first_party_imports_sort_as_in_a_checkout() -> None:
    # isort puts the project's own package in its own section: the workspace must know it exists.
    lines = [
        "import os",
        "",
        "import pytest",
        "",
        "from mypkg.core import thing",
        "",
        "print(os, pytest, thing)",
    ]
    changed = new_file("tests/test_x.py", lines)
    bases = {
        "pyproject.toml": '[tool.ruff.lint]\nselect = ["I"]\n',
        "mypkg/__init__.py": "",
        "mypkg/core.py": "",
    }
    assert PythonLintAnalyzer().analyze(_base_ctx(changed, {}, bases)) == []  # type: ignore[arg-type]


def test_first_party_submodules_resolve_along_the_whole_dotted_path() -> None:
    lines = ["import pytest", "", "from mypkg import core", "from mypkg.sub.deep import thing", "",
             "print(pytest, core, thing)"]  # fmt: skip
    changed = new_file("tests/test_y.py", lines)
    bases = {"pyproject.toml": '[tool.ruff.lint]\nselect = ["I"]\n', "mypkg/__init__.py": "",
             "mypkg/core.py": "", "mypkg/sub/__init__.py": "", "mypkg/sub/deep.py": ""}  # fmt: skip
    assert PythonLintAnalyzer().analyze(_base_ctx(changed, {}, bases)) == []  # type: ignore[arg-type]
