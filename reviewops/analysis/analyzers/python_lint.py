"""`python-lint`: ruff on the head version of changed Python files, keeping only diagnostics that start
on added lines (reviewdog's `added` filter), so a PR is never blamed for code it did not touch."""

from __future__ import annotations

import json
import logging
import subprocess
from functools import lru_cache
from typing import Any

from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding, Severity

log = logging.getLogger(__name__)

# ruff's defaults plus bugbear; --isolated so the server's own config never leaks into a review.
DEFAULT_SELECT = "E4,E7,E9,F,B"
RUFF_TIMEOUT_SECONDS = 60


class RuffUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def ruff_binary() -> str:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError as exc:  # pragma: no cover - ruff is a dependency
        raise RuffUnavailable("the ruff package is not installed") from exc
    return str(find_ruff_bin())


def run_ruff(path: str, source: str, select: str = DEFAULT_SELECT) -> list[dict[str, Any]]:
    """ruff's JSON diagnostics for `source` as if it were the file `path`."""
    cmd = [ruff_binary(), "check", "--isolated", "--no-cache", "--output-format", "json",
           "--select", select, "--stdin-filename", path, "-"]  # fmt: skip
    proc = subprocess.run(
        cmd, input=source, capture_output=True, text=True, timeout=RUFF_TIMEOUT_SECONDS, check=False
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ruff failed on {path} (exit {proc.returncode}): {proc.stderr.strip()[:300]}")
    data = json.loads(proc.stdout or "[]")
    return data if isinstance(data, list) else []


def _severity(code: str | None) -> Severity:
    if not code or code.startswith("E9") or "syntax" in code:
        return Severity.ERROR  # syntax errors
    if code.startswith(("F", "B")):
        return Severity.WARNING
    return Severity.INFO


def suggestion_from_fix(diag: dict[str, Any], lines: list[str]) -> str | None:
    """A replacement for the flagged line when ruff's fix edits only that line (or deletes it whole)."""
    fix = diag.get("fix") or {}
    edits = fix.get("edits") or []
    if len(edits) != 1 or fix.get("applicability") == "display-only":
        return None
    edit = edits[0]
    start, end = edit["location"], edit["end_location"]
    row = start["row"]
    if row != diag["location"]["row"] or not 1 <= row <= len(lines):
        return None
    content = edit.get("content") or ""
    text = lines[row - 1]
    if end["row"] == row and "\n" not in content:
        return text[: start["column"] - 1] + content + text[end["column"] - 1 :]
    if start["column"] == 1 and end["row"] == row + 1 and end["column"] == 1 and content == "":
        return ""  # delete the whole line
    return None


class PythonLintAnalyzer:
    id = "python-lint"

    def __init__(self, select: str = DEFAULT_SELECT) -> None:
        self.select = select

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        findings: list[Finding] = []
        for changed in ctx.files:
            if not changed.analyzable or not changed.path.endswith((".py", ".pyi")):
                continue
            added = changed.added_lines()
            if not added:
                continue
            source = ctx.read_head(changed.path)
            if source is None:
                continue
            findings.extend(self._file(changed, source, added))
        return findings

    def _file(self, changed: ChangedFile, source: str, added: dict[int, str]) -> list[Finding]:
        lines = source.splitlines()
        out: list[Finding] = []
        for diag in run_ruff(changed.path, source, self.select):
            row = int(diag["location"]["row"])
            if row not in added:
                continue
            end_row = int((diag.get("end_location") or {}).get("row", row))
            code = diag.get("code")
            # Multi-line diagnostics are anchored on their first line: a single-line comment always
            # lies inside the diff, a range might not.
            end = row if end_row != row or end_row not in added else end_row
            suggestion = suggestion_from_fix(diag, lines)
            fix_note = ""
            if suggestion is not None and (diag.get("fix") or {}).get("message"):
                fix_note = f" (fix: {diag['fix']['message']})"
            out.append(
                Finding(
                    analyzer=self.id,
                    rule_id=f"ruff/{code or 'syntax-error'}",
                    path=changed.path,
                    start_line=row,
                    end_line=end,
                    severity=_severity(code),
                    message=f"{code or 'syntax'}: {diag.get('message', '')}{fix_note}".strip(),
                    suggestion=suggestion,
                    line_content=added[row],
                )
            )
        return out
