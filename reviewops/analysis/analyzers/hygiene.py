"""`hygiene`: the cheap checks human reviewers keep repeating (conflict markers, debug leftovers, TODOs,
oversized PRs, source changed without tests)."""

from __future__ import annotations

import re

from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding, Severity
from reviewops.analysis.paths import JS, PY, is_source_path, is_test_path

LARGE_PR_LINES = 1000
LARGE_PR_FILES = 50

CONFLICT_START = re.compile(r"^<{7}(?: |$)")
CONFLICT_MIDDLE = re.compile(r"^={7}$")
CONFLICT_END = re.compile(r"^>{7}(?: |$)")
TODO = re.compile(r"(?:#|//|/\*|<!--|--)\s*.*\b(TODO|FIXME|XXX|HACK)\b")  # in a comment
# A TODO that is already tracked: owner or milestone tag `TODO(v1)`, an issue reference (#123, ABC-123, a
# link), or the condition that ends it ("when we drop 3.9", "after the CRD is removed", "on 3.13+").
TODO_TRACKED = re.compile(
    r"\b(?:TODO|FIXME|XXX|HACK)\([^)]+\)|#\d+\b|\b[A-Z][A-Z0-9]+-\d+\b|https?://"
    r"|\b(?:when|once|after|until|on (?:python |py)?\d+(?:\.\d+)*\+?)\b",
    re.IGNORECASE,
)

# (extensions, regex, rule, severity, message)
DEBUG_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str, Severity, str], ...] = (
    (PY, re.compile(r"^\s*breakpoint\(\s*\)"), "debug-breakpoint", Severity.WARNING,
     "`breakpoint()` left in the code stops the program in a debugger."),
    (PY, re.compile(r"\b(?:i?pdb|pudb)\.set_trace\(|^\s*import\s+i?pdb\b"), "debug-pdb", Severity.WARNING,
     "Debugger call left in the code."),
    (PY, re.compile(r"^\s*print\("), "debug-print", Severity.INFO,
     "`print(` looks like a debug leftover; use logging if the output is meant to stay."),
    (JS, re.compile(r"^\s*debugger\s*;?\s*$"), "debug-debugger", Severity.WARNING,
     "`debugger` statement left in the code."),
    (JS, re.compile(r"\bconsole\.(?:log|debug)\("), "debug-console-log", Severity.INFO,
     "`console.log` looks like a debug leftover."),
)  # fmt: skip


def _finding(changed: ChangedFile, line: int, text: str, rule: str, sev: Severity, msg: str) -> Finding:
    return Finding(
        analyzer="hygiene", rule_id=f"hygiene/{rule}", path=changed.path, start_line=line,
        end_line=line, severity=sev, message=msg, line_content=text,
    )  # fmt: skip


class HygieneAnalyzer:
    id = "hygiene"

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        findings: list[Finding] = []
        for changed in ctx.files:
            if changed.analyzable:
                findings.extend(self._file(changed))
        self._notes(ctx)
        return findings

    def _file(self, changed: ChangedFile) -> list[Finding]:
        out: list[Finding] = []
        added = sorted(changed.added_lines().items())
        has_conflict = any(CONFLICT_START.match(t) or CONFLICT_END.match(t) for _, t in added)
        test_file = is_test_path(changed.path)
        for number, text in added:
            if (
                CONFLICT_START.match(text)
                or CONFLICT_END.match(text)
                or (has_conflict and CONFLICT_MIDDLE.match(text))
            ):
                out.append(_finding(changed, number, text, "merge-conflict-marker", Severity.ERROR,
                                    "Merge conflict marker committed; resolve the conflict."))  # fmt: skip
                continue
            for exts, pattern, rule, severity, message in DEBUG_RULES:
                if not changed.path.endswith(exts) or not pattern.search(text):
                    continue
                if test_file and rule in ("debug-print", "debug-console-log"):
                    continue
                out.append(_finding(changed, number, text, rule, severity, message))
                break
            todo = TODO.search(text)
            following = dict(added).get(number + 1, "")
            continued = following.lstrip().startswith(("#", "//", "*", "--")) and not TODO.search(following)
            if todo and not TODO_TRACKED.search(
                text[todo.start(1) :] + (" " + following if continued else "")
            ):
                message = f"New {todo.group(1)}: link an issue so it is not forgotten."
                out.append(_finding(changed, number, text, "todo", Severity.INFO, message))
        return out

    def _notes(self, ctx: AnalysisContext) -> None:
        lines = sum(f.additions + f.deletions for f in ctx.files)
        if lines > LARGE_PR_LINES or len(ctx.files) > LARGE_PR_FILES:
            ctx.notes.append(
                f"Large pull request: {len(ctx.files)} files, {lines} changed lines. "
                "Smaller pull requests get better reviews; consider splitting it."
            )
        source = [f.path for f in ctx.files if f.status != "removed" and is_source_path(f.path)]
        tests = [f.path for f in ctx.files if is_test_path(f.path)]
        if source and not tests:
            shown = ", ".join(source[:5]) + (f" and {len(source) - 5} more" if len(source) > 5 else "")
            ctx.notes.append(f"Source changed without test changes: {shown}.")
